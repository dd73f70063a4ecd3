from __future__ import annotations

import pytest

from mzt.support import yamlsafe
from mzt.support.yamlsafe import MAX_DEPTH, YamlProblem, decode, parse


def problem(text: str) -> YamlProblem:
    with pytest.raises(YamlProblem) as info:
        parse(text)
    return info.value


def test_plain_data_and_positions() -> None:
    doc = parse("a: 1\nb:\n  - x\n  - {c: true}\n")
    assert doc.data == {"a": 1, "b": ["x", {"c": True}]}
    assert doc.locations[("a",)] == (1, 1)
    assert doc.locations[("b", 1)] == (4, 5)
    assert doc.locations[("b", 1, "c")] == (4, 6)
    assert doc.locate(("b", 1, "c", "missing")) == (4, 6)


def test_dates_stay_strings_and_yaml11_scalars_keep_their_meaning() -> None:
    data = parse("d: 2024-01-31\nt: 2024-01-31T10:00:00Z\nn: no\no: 012\n").data
    assert data == {"d": "2024-01-31", "t": "2024-01-31T10:00:00Z", "n": False, "o": 10}


def test_duplicate_key_names_both_lines() -> None:
    p = problem("a: 1\nb: 2\na: 3\n")
    assert (p.line, p.column) == (3, 1)
    assert "duplicate key 'a'" in p.message and "line 1" in p.message


def test_duplicate_key_nested() -> None:
    assert problem("x:\n  k: 1\n  k: 2\n").line == 3


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("a: &x 1\nb: 2\n", "anchors"),
        ("a: &x [1]\nb: *x\n", "anchors"),
        ("b: *x\n", "alias"),
        ("<<: {a: 1}\n", "merge keys"),
    ],
)
def test_anchors_aliases_and_merges_refused(text: str, needle: str) -> None:
    assert needle in problem(text).message


def test_alias_bomb_refused_before_expansion() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    assert "anchors" in problem(bomb).message


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object/apply:os.system ['true']",
        "!!python/name:os.system",
        "!!binary aGk=",
        "!!set {a}",
        "!!timestamp 2024-01-01",
        "!custom x",
    ],
)
def test_unknown_tags_refused(tag: str) -> None:
    assert "not allowed" in problem(f"a: {tag}\n").message


def test_python_tag_executes_nothing(tmp_path) -> None:
    marker = tmp_path / "pwned"
    with pytest.raises(YamlProblem):
        parse(f"a: !!python/object/apply:os.system ['touch {marker}']\n")
    assert not marker.exists()


def test_depth_cap_without_recursion_error() -> None:
    assert f"{MAX_DEPTH} levels" in problem("[" * 10_000 + "]" * 10_000).message
    parse("[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1))


def test_huge_integer_is_a_clean_error() -> None:
    p = problem("n: " + "7" * 5000 + "\n")
    assert "5000 digits" in p.message and p.line == 1


def test_syntax_error_is_located() -> None:
    p = problem("a: [1, 2\nb: 3\n")
    assert p.message.startswith("YAML syntax error") and p.line is not None


def test_complex_keys_refused() -> None:
    assert "plain values" in problem("? [a, b]\n: 1\n").message


def test_empty_document_is_none() -> None:
    assert parse("").data is None
    assert parse("# only a comment\n").data is None


def test_decode_strict_utf8_with_position() -> None:
    with pytest.raises(YamlProblem) as info:
        decode(b"a: 1\nb: caf\xe9\n")
    assert (info.value.line, info.value.column) == (2, 7)
    assert decode("\ufeffa: 1".encode()) == "a: 1"
    with pytest.raises(YamlProblem, match="UTF-16"):
        decode("a: 1".encode("utf-16"))


def test_control_characters_refused() -> None:
    with pytest.raises(YamlProblem):
        parse("a: b\x00c\n")


def outcome(text: str) -> object:
    try:
        document = parse(text)
    except YamlProblem as problem:
        return problem.message, problem.line, problem.column
    return document.data, document.locations


def reference(text: str, monkeypatch: pytest.MonkeyPatch) -> object:
    """What the pure-Python reference reader alone makes of ``text``."""
    with monkeypatch.context() as patch:
        patch.setattr(yamlsafe, "_CParser", None)
        return outcome(text)


# Each was read differently by libyaml and PyYAML until the fast reader learnt to leave
# it to the reference reader.
DISAGREEMENTS = [
    "key: a\tb\n",  # a tab inside plain text
    "total: !\n",  # the non-specific tag on an empty value
    ">#\n",  # a block scalar header glued to a comment
    "events: [job_fai? ed]\n",  # `?` inside plain text in a flow collection
    "{a: b? c}\n",
    "!!binary aGk=: 1\n",  # a tagged key
    "x: 1\u2028y: 2\n",
    "a: b\ufeff\n",
]


@pytest.mark.parametrize("text", DISAGREEMENTS)
def test_both_readers_give_the_same_answer_where_they_would_disagree(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert outcome(text) == reference(text, monkeypatch)


def test_clean_text_is_read_by_libyaml_with_the_same_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if yamlsafe._CParser is None:
        pytest.skip("PyYAML without libyaml")
    text = (
        "name: x\nsheet: {size: 1, total_items: 3}\nprompt:\n  template: |\n"
        "    Why? Because: {{ sheet_num }}\n  variables:\n    n: [1, 2.5, true, null, '']\n"
    )
    expected = reference(text, monkeypatch)
    monkeypatch.setattr(yamlsafe, "_Loader", None)  # the reference reader must not be needed
    assert outcome(text) == expected
