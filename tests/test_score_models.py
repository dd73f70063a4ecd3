from __future__ import annotations

import typing

import pytest

from mzt.score.models import InjectionItem, InstrumentConfig, Score
from mzt.score.models.peripheral import UNUSED_KEYS
from mzt.support.records import FrozenInstanceError
from mzt.support.strictmodel import StrictModel, ValidationError


def all_models() -> list[type[StrictModel]]:
    seen: list[type[StrictModel]] = []
    stack: list[object] = [Score]
    while stack:
        annotation = stack.pop()
        origin = typing.get_origin(annotation)
        if origin is not None:
            stack.extend(typing.get_args(annotation))
            continue
        if (
            isinstance(annotation, type)
            and issubclass(annotation, StrictModel)
            and annotation not in seen
        ):
            seen.append(annotation)
            stack.extend(f.annotation for f in annotation.model_fields.values())
    return seen


def test_every_field_is_described() -> None:
    missing = [
        f"{model.__name__}.{name}"
        for model in all_models()
        for name, field in model.model_fields.items()
        if not field.description
    ]
    assert not missing


def test_every_model_is_strict_frozen_and_closed() -> None:
    for model in all_models():
        config = model.model_config
        assert config.get("frozen") is True, model
        assert config.get("strict") is True, model
        expected = "allow" if model is InstrumentConfig else "forbid"
        assert config.get("extra") == expected, model


def test_a_key_that_is_a_python_word_is_read_under_its_own_name() -> None:
    assert InjectionItem.model_fields["as_"].alias == "as"
    item = InjectionItem.model_validate({"file": "notes.md", "as": "skill"})
    assert item.as_ == "skill"


def test_scores_are_immutable() -> None:
    score = Score.model_validate(
        {"name": "x", "sheet": {"size": 1, "total_items": 1}, "prompt": {}}
    )
    with pytest.raises(FrozenInstanceError):
        score.name = "y"  # type: ignore[misc]


def test_every_unused_key_is_a_field() -> None:
    assert set(UNUSED_KEYS) <= set(Score.model_fields)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("spec", {"spec_dir": "specs", "include_claude_md": True}),
        ("techniques", {"t": {"kind": "mcp", "phases": ["a"], "config": {"x": 1}}}),
        (
            "agent_card",
            {"name": "a", "description": "b", "skills": [{"id": "s", "description": "d"}]},
        ),
        ("learning", {"enabled": False}),
        ("bridge", None),
    ],
)
def test_unused_blocks_are_type_checked(key: str, value: object) -> None:
    base = {"name": "x", "sheet": {"size": 1, "total_items": 1}, "prompt": {}}
    Score.model_validate({**base, key: value})
    with pytest.raises(ValidationError):
        Score.model_validate({**base, key: 42})
