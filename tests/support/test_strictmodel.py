from __future__ import annotations

from typing import Annotated, Any, Literal

import pytest

from mzt.support.records import FrozenInstanceError
from mzt.support.strictmodel import (
    Field,
    StrictModel,
    ValidationError,
    field_validator,
    model_validator,
)

Positive = Annotated[int, Field(ge=1)]


class Inner(StrictModel):
    count: int = Field(default=1, description="A count.")


class Loose(StrictModel, extra="allow"):
    known: int | None = Field(default=None, description="Checked even here.")


class Sample(StrictModel):
    name: str = Field(min_length=1, max_length=5, pattern=r"^[a-z]+$", description="Required.")
    ratio: float = Field(default=1.0, gt=0, le=10, description="A float.")
    flag: bool = Field(default=True, description="A boolean.")
    mode: Literal["a", "b", "c"] = Field(default="a", description="A choice.")
    tools: list[str] | str | None = Field(default=None, description="A union.")
    items: list[Positive] = Field(default_factory=list, description="A list.")
    by_sheet: dict[Positive, str] = Field(default_factory=dict, description="Integer keys.")
    inner: Inner = Field(default_factory=Inner, description="A nested model.")
    maybe: Inner | None = Field(default=None, description="An optional model.")
    as_: str = Field(default="x", alias="as", description="A key that is a Python word.")
    tags: frozenset[str] = Field(default_factory=frozenset, description="A set.")

    @field_validator("tags", mode="before")
    @classmethod
    def _from_list(cls, value: Any) -> Any:
        return frozenset(value) if isinstance(value, list) else value

    @model_validator(mode="after")
    def _consistent(self) -> Sample:
        if self.mode == "c" and not self.items:
            raise ValueError("mode c needs items")
        return self


def problems(data: Any, *, lax: bool = False) -> list[tuple[tuple[Any, ...], str, str]]:
    with pytest.raises(ValidationError) as caught:
        Sample.model_validate(data, strict=False if lax else None)
    return [(e["loc"], e["type"], e["msg"]) for e in caught.value.errors()]


def test_valid_data_becomes_a_frozen_model_that_knows_what_was_given() -> None:
    sample = Sample.model_validate({"name": "ab", "ratio": 2, "as": "y", "tags": ["t"]})
    assert sample.ratio == 2.0 and isinstance(sample.ratio, float)
    assert sample.as_ == "y" and sample.tags == frozenset({"t"})
    assert sample.model_fields_set == {"name", "ratio", "as_", "tags"}
    assert sample.inner == Inner() and sample.inner.model_fields_set == frozenset()
    with pytest.raises(FrozenInstanceError):
        sample.name = "cd"  # type: ignore[misc]


def test_each_instance_gets_its_own_default_containers() -> None:
    one, two = Sample.model_validate({"name": "a"}), Sample.model_validate({"name": "b"})
    assert one.items == [] and one.items is not two.items


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"name": 3}, [(("name",), "string_type", "Input should be a valid string")]),
        (
            {"name": ""},
            [(("name",), "string_too_short", "String should have at least 1 character")],
        ),
        (
            {"name": "abcdef"},
            [(("name",), "string_too_long", "String should have at most 5 characters")],
        ),
        (
            {"name": "A"},
            [(("name",), "string_pattern_mismatch", "String should match pattern '^[a-z]+$'")],
        ),
        (
            {"name": "a", "ratio": "1"},
            [(("ratio",), "float_type", "Input should be a valid number")],
        ),
        (
            {"name": "a", "ratio": True},
            [(("ratio",), "float_type", "Input should be a valid number")],
        ),
        (
            {"name": "a", "ratio": float("nan")},
            [(("ratio",), "finite_number", "Input should be a finite number")],
        ),
        (
            {"name": "a", "ratio": 0},
            [(("ratio",), "greater_than", "Input should be greater than 0")],
        ),
        (
            {"name": "a", "ratio": 11},
            [(("ratio",), "less_than_equal", "Input should be less than or equal to 10")],
        ),
        (
            {"name": "a", "ratio": 10**400},
            [(("ratio",), "float_type", "Input should be a valid number")],
        ),
        ({"name": "a", "flag": 1}, [(("flag",), "bool_type", "Input should be a valid boolean")]),
        (
            {"name": "a", "mode": "d"},
            [(("mode",), "literal_error", "Input should be 'a', 'b' or 'c'")],
        ),
        (
            {"name": "a", "items": [0]},
            [(("items", 0), "greater_than_equal", "Input should be greater than or equal to 1")],
        ),
        (
            {"name": "a", "items": [True]},
            [(("items", 0), "int_type", "Input should be a valid integer")],
        ),
        ({"name": "a", "items": (1,)}, [(("items",), "list_type", "Input should be a valid list")]),
        (
            {"name": "a", "by_sheet": {"1": "x"}},
            [(("by_sheet", "1", "[key]"), "int_type", "Input should be a valid integer")],
        ),
        (
            {"name": "a", "by_sheet": {1: 2}},
            [(("by_sheet", 1), "string_type", "Input should be a valid string")],
        ),
        (
            {"name": "a", "inner": 3},
            [(("inner",), "model_type", "Input should be a valid dictionary or instance of Inner")],
        ),
        (
            {"name": "a", "maybe": {"count": "2"}},
            [(("maybe", "count"), "int_type", "Input should be a valid integer")],
        ),
        (
            {"name": "a", "tags": {"t"}},
            [(("tags",), "frozen_set_type", "Input should be a valid frozenset")],
        ),
        ({"name": "a", "mode": "c"}, [((), "value_error", "Value error, mode c needs items")]),
        (
            {"name": "a", "nmae": 1},
            [(("nmae",), "extra_forbidden", "Extra inputs are not permitted")],
        ),
        ({"name": "a", 7: 1}, [((7,), "invalid_key", "Keys should be strings")]),
    ],
)
def test_each_problem_is_named_with_its_place(data: dict[Any, Any], expected: list[Any]) -> None:
    assert problems(data) == expected


def test_every_problem_is_reported_at_once_fields_first_then_unknown_keys() -> None:
    found = problems({"zzz": 1, "flag": "yes", "inner": {"count": 1.5}})
    assert found == [
        (("name",), "missing", "Field required"),
        (("flag",), "bool_type", "Input should be a valid boolean"),
        (("inner", "count"), "int_type", "Input should be a valid integer"),
        (("zzz",), "extra_forbidden", "Extra inputs are not permitted"),
    ]


def test_a_union_reports_why_each_member_refused() -> None:
    assert problems({"name": "a", "tools": [1]}) == [
        (("tools", "list[str]", 0), "string_type", "Input should be a valid string"),
        (("tools", "str"), "string_type", "Input should be a valid string"),
    ]
    assert Sample.model_validate({"name": "a", "tools": "x,y"}).tools == "x,y"


def test_lax_mode_reads_integer_keys_written_as_strings_and_nothing_else() -> None:
    sample = Sample.model_validate({"name": "a", "by_sheet": {"2": "x"}}, strict=False)
    assert sample.by_sheet == {2: "x"}
    assert problems({"name": "a", "flag": "true"}, lax=True)[0][1] == "bool_type"


def test_a_model_that_allows_extra_keys_keeps_them_apart_and_still_checks_its_own() -> None:
    loose = Loose.model_validate({"known": 1, "other": [1]})
    assert loose.model_extra == {"other": [1]}
    assert loose.model_dump() == {"known": 1, "other": [1]}
    with pytest.raises(ValidationError):
        Loose.model_validate({"known": "1"})


def test_keywords_are_checked_like_data_and_dumps_are_plain() -> None:
    made = Sample(name="ab", inner=Inner(count=2))
    assert made.model_dump(exclude_none=True)["inner"] == {"count": 2}
    assert "maybe" not in made.model_dump(exclude_none=True)
    with pytest.raises(ValidationError):
        Sample(name=1)  # type: ignore[arg-type]
    assert made.model_copy(update={"flag": False}).flag is False and made.flag is True


def test_fields_carry_their_description_alias_and_resolved_type() -> None:
    fields = Sample.model_fields
    assert fields["as_"].alias == "as" and fields["inner"].annotation is Inner
    assert all(info.description for info in fields.values())
    assert Sample.model_config == {"extra": "forbid", "frozen": True, "strict": True}
    assert Loose.model_config["extra"] == "allow"
