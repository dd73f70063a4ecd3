"""`mzt.support.lazyre`: a pattern that compiles at its first use and acts as a compiled one."""

from __future__ import annotations

import re

from mzt.support.lazyre import LazyPattern


def test_nothing_is_compiled_until_the_first_use() -> None:
    pattern = LazyPattern(r"(\d+) apples?", re.I)
    assert pattern._compiled is None
    found = pattern.search("I have 3 APPLES")
    assert found is not None and found.group(1) == "3"
    assert pattern.compiled is pattern.compiled  # compiled once, then kept


def test_every_method_answers_as_the_compiled_pattern_does() -> None:
    source, text = r"\[(-?\d+)\]", "a[1][-2]b"
    lazy, real = LazyPattern(source), re.compile(source)
    assert lazy.findall(text) == real.findall(text) == ["1", "-2"]
    assert [m.span() for m in lazy.finditer(text)] == [m.span() for m in real.finditer(text)]
    assert lazy.sub("<>", text) == real.sub("<>", text) == "a<><>b"
    assert lazy.sub(lambda m: m.group(1), text, 1) == "a1[-2]b"
    assert lazy.match(text) is None and lazy.match(text, 1) is not None
    assert lazy.fullmatch("[7]") is not None and lazy.fullmatch("[7]x") is None


def test_bytes_patterns_work_too() -> None:
    marker = LazyPattern(rb"-----END[ A-Z]*KEY-----")
    assert marker.search(b"x -----END PRIVATE KEY----- y") is not None
