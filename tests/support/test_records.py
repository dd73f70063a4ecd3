from __future__ import annotations

import copy
import pickle
from typing import ClassVar

import pytest

from mzt.support.records import FrozenInstanceError, field, record, replace


@record(frozen=True, slots=True)
class Point:
    x: int
    y: int = 0
    tags: list[str] = field(default_factory=list)
    note: str = field(default="", compare=False)
    KIND: ClassVar[str] = "point"

    def norm(self) -> int:
        return abs(self.x) + abs(self.y)


@record
class Counter:
    name: str
    hits: int = 0
    seen: set[str] = field(default_factory=set)
    total: int = field(init=False)

    def __post_init__(self) -> None:
        self.total = self.hits * 2


@record(frozen=True)
class Base:
    a: int


@record(frozen=True)
class Child(Base):
    b: int = 1


def test_fields_defaults_and_factories_behave_as_declared() -> None:
    p = Point(1)
    assert (p.x, p.y, p.tags, p.note) == (1, 0, [], "")
    assert Point(1).tags is not p.tags
    assert Point(2, y=3).norm() == 5 and Point.KIND == "point"
    assert not hasattr(p, "__dict__")


def test_frozen_records_cannot_change_and_hash_their_compared_fields() -> None:
    p = Point(1, 2)
    with pytest.raises(FrozenInstanceError):
        p.x = 3  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        del p.y  # type: ignore[misc]
    assert Point(1, 2, note="a") == Point(1, 2, note="b")
    assert hash(Child(1, 2)) == hash(Child(1, 2)) and Point(1, 2) != Point(2, 1)
    assert repr(Point(1)) == "Point(x=1, y=0, tags=[], note='')"


def test_mutable_records_change_run_post_init_and_are_unhashable() -> None:
    c = Counter("a", hits=2)
    assert c.total == 4
    c.hits = 5
    assert c != Counter("a", hits=5)  # total was computed from hits=2
    assert Counter("b", hits=1) == Counter("b", hits=1)
    with pytest.raises(TypeError):
        hash(c)
    assert Counter.hits == 0  # the default stays on the class, as with dataclasses


def test_replace_copy_and_pickle_keep_the_values() -> None:
    p = Point(1, 2, ["t"])
    assert replace(p, y=9) == Point(1, 9, ["t"])
    assert copy.deepcopy(p) == p and copy.copy(p) == p
    assert pickle.loads(pickle.dumps(p)) == p


def test_a_field_without_default_after_one_with_is_refused() -> None:
    with pytest.raises(TypeError, match="without a default"):

        @record
        class Bad:
            a: int = 1
            b: int  # type: ignore[misc]


def test_a_record_inherits_its_bases_fields_first() -> None:
    assert Child(1, 2).a == 1 and Child(1).b == 1
    assert repr(Child(3)) == "Child(a=3, b=1)"


def test_records_of_other_classes_compare_unequal() -> None:
    @record(frozen=True, slots=True)
    class Other:
        x: int
        y: int = 0

    assert Other(1) != Point(1)  # type: ignore[comparison-overlap]


def test_init_is_compiled_at_the_first_instance_whoever_makes_it() -> None:
    @record(frozen=True, slots=True)
    class Late:
        a: int
        b: str = "b"

    class Plain(Late):  # no record: inherits Late's __init__
        pass

    stub = Late.__dict__["__init__"]
    first = Plain(1)  # the subclass makes the first instance: Late's own stub is replaced
    assert (first.a, first.b) == (1, "b")
    compiled = Late.__dict__["__init__"]
    assert compiled is not stub
    assert "__init__" not in Plain.__dict__
    assert Late(2, b="c") == Late(2, "c")
    assert Late.__dict__["__init__"] is compiled  # compiled once
    assert compiled.__qualname__.endswith("Late.__init__")
    with pytest.raises(TypeError, match="__init__"):
        Late()  # type: ignore[call-arg]


def test_the_first_instance_with_wrong_arguments_is_refused_like_any_other() -> None:
    @record
    class Once:
        a: int

    with pytest.raises(TypeError):
        Once(1, 2)  # type: ignore[call-arg]
    assert Once(3).a == 3
