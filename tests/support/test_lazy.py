"""Lazily loaded package attributes."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from mzt.support.lazy import exports


def test_a_name_loads_its_module_once_and_is_kept() -> None:
    namespace: dict[str, Any] = {}
    table = {"dumps": "json", "join_path": ("posixpath", "join")}
    attribute = exports("pkg", table, namespace)
    assert attribute("dumps") is sys.modules["json"].dumps
    assert attribute("join_path") is sys.modules["posixpath"].join
    assert namespace == {
        "dumps": sys.modules["json"].dumps,
        "join_path": sys.modules["posixpath"].join,
    }


def test_an_unknown_name_is_an_attribute_error() -> None:
    attribute = exports("pkg", {}, {})
    with pytest.raises(AttributeError, match="module 'pkg' has no attribute 'nope'"):
        attribute("nope")


def test_the_packages_offer_what_they_list() -> None:
    import mzt.api
    import mzt.instruments
    import mzt.state

    for package in (mzt.api, mzt.instruments, mzt.state):
        for name in package.__all__:
            assert getattr(package, name) is not None, (package.__name__, name)
