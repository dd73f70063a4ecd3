from __future__ import annotations

import pytest

from mzt.score.conditions import (
    ExpressionError,
    compile_expression,
    evaluate_expression,
    parse_condition,
)


@pytest.mark.parametrize(
    ("text", "context", "expected"),
    [
        ("sheet_num >= 2", {"sheet_num": 2}, True),
        ("sheet_num >= 2", {"sheet_num": 1}, False),
        ("sheet_num > 1 and sheet_num < 4", {"sheet_num": 3}, True),
        ("sheet_num > 1 and sheet_num < 4", {"sheet_num": 4}, False),
        ("stage == 2 and instance != 1", {"stage": 2, "instance": 2}, True),
        ("stage == 2 and instance != 1", {"stage": 2, "instance": 1}, False),
        ("sheet_num == -1", {"sheet_num": 1}, False),
        # fail-open: unknown names, non-integers and unreadable clauses count as true
        ("nosuch == 3", {"sheet_num": 1}, True),
        ("label == 3", {"label": "x"}, True),
        ("flag == 1", {"flag": True}, True),
        ("sheet_num >= 2 or stage == 1", {"sheet_num": 1}, True),
        ("sheet_num >= 2 and garbage", {"sheet_num": 1}, False),
    ],
)
def test_condition_grammar(text: str, context: dict[str, object], expected: bool) -> None:
    assert parse_condition(text).holds(context) is expected


def test_unreadable_clauses_are_reported() -> None:
    assert parse_condition("sheet_num >= 2 and x in y").unreadable() == ["x in y"]
    assert parse_condition("sheet_num >= 2").unreadable() == []


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("sheets[1].validation_passed", True),
        ("sheets[2].status == 'failed' or job.total > 3", False),
        ("not sheets[2].validation_passed and len(job.names) == 2", True),
        ("any([sheets[1].validation_passed, False])", True),
        ("max(1, 5, 3) == 5 and -1 < 0", True),
        ("'b' in job.names and None is None", True),
    ],
)
def test_skip_when_expressions(expression: str, expected: bool) -> None:
    names = {
        "sheets": {1: {"validation_passed": True}, 2: {"validation_passed": False, "status": "ok"}},
        "job": {"total": 2, "names": ["a", "b"]},
    }
    assert evaluate_expression(compile_expression(expression), names) is expected


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os').system('true')",
        "sheets.__class__",
        "open('/etc/passwd')",
        "(lambda: 1)()",
        "[x for x in sheets]",
        "a if b else c",
        "sheets[1].get('x')",
        "1 + 1",
        "x := 1",
        "f'{sheets}'",
        "len(x=1)",
        "a" * 3000,
        "sheets[",
    ],
)
def test_disallowed_expressions(expression: str) -> None:
    with pytest.raises(ExpressionError):
        compile_expression(expression)


def test_unknown_name_raises_at_evaluation() -> None:
    with pytest.raises(ExpressionError, match="unknown name"):
        evaluate_expression(compile_expression("nope == 1"), {})
