"""Bounds on what filling in a score's text may cost: size, iterations, depth and time.

A score is data written by whoever hands it over; rendering it must never be able to
exhaust the machine or to keep a run from honouring a stop. Everything that expands
text goes through these checks: format specs (``{n:>9}``, ``'%5d' % n``,
``'{:>9}'.format(n)``), string growth (``*``, ``+``, ``~``, joins, padding), loop
iterations, call depth, and the wall-clock time of one render. A render also polls a
stop flag, so that a signal or a cancel file acts at once even inside a runaway loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from mzt.support import records
from mzt.support.lazyre import LazyPattern

MAX_FORMAT_WIDTH = 4096  # width or precision in one format spec
MAX_VALUE = 10_000_000  # characters (or items) one operation may produce
MAX_OUTPUT = 10_000_000  # characters one render may produce
MAX_ITERATIONS = 1_000_000  # loop iterations in one render
MAX_CALLS = 1_000_000  # calls (macros, methods) in one render
MAX_DEPTH = 60  # nested calls, e.g. recursive macros
RENDER_SECONDS = 10.0  # default wall-clock budget of one render
POLL_SECONDS = 0.1  # how often a render looks at the stop flag and the clock
LIMIT_CODE = "E307"  # the error code of a render that ran into a bound


class LimitError(Exception):
    """Expanding text would exceed a bound; the message says which and where."""


class RenderStopped(Exception):
    """A stop (signal, cancel file) was asked for while a prompt was rendering."""


_DIGITS = LazyPattern(r"\d+")
_PERCENT = LazyPattern(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _too_big(digits: str) -> bool:
    digits = digits.lstrip("0")
    return len(digits) > 6 or int(digits or "0") > MAX_FORMAT_WIDTH


def check_spec(spec: str, where: str) -> None:
    """Refuse a ``format()`` spec whose width or precision is above `MAX_FORMAT_WIDTH`.

    Any number in the spec counts (a digit used as the fill character is small), so
    no reading of the spec can slip a large width past the check.
    """
    if spec and any(_too_big(d) for d in _DIGITS.findall(spec)):
        raise LimitError(
            f"the format spec {spec[:40]!r} of {where[:80]} asks for a width or precision "
            f"over {MAX_FORMAT_WIDTH}"
        )


def check_percent(text: str, args: Any) -> None:
    """The same bound for ``%``-formatting, including ``*`` widths taken from ``args``."""
    star = False
    for match in _PERCENT.finditer(text):
        for part in match.groups():
            if part == "*":
                star = True
            elif part and _too_big(part):
                check_spec(match.group(0), "a %-format")
    if star:
        values = args if isinstance(args, tuple) else (args,)
        if any(isinstance(v, int) and abs(v) > MAX_FORMAT_WIDTH for v in values):
            raise LimitError(f"a %-format asks for a width or precision over {MAX_FORMAT_WIDTH}")


def check_size(size: int, what: str) -> None:
    if size > MAX_VALUE:
        raise LimitError(f"{what} would build a value over {MAX_VALUE:,} long")


@records.record
class Budget:
    """What one render has used so far, and when it must give up."""

    seconds: float = RENDER_SECONDS
    stop: Callable[[], bool] = lambda: False
    iterations: int = 0
    calls: int = 0
    depth: int = 0
    deadline: float = records.field(init=False)
    next_poll: float = records.field(init=False)

    def __post_init__(self) -> None:
        started = time.monotonic()
        self.deadline = started + self.seconds
        # Not at the first tick: a prompt renders in well under a poll, and looking at
        # the stop flag is a stat of the cancel file, a share of every sheet's start.
        self.next_poll = started + POLL_SECONDS

    def tick(self) -> None:
        """Look at the clock; a few times a second also at the stop flag."""
        now = time.monotonic()
        if now < self.next_poll:
            return
        self.next_poll = now + POLL_SECONDS
        if self.stop():
            raise RenderStopped()
        if now > self.deadline:
            raise LimitError(f"rendering took longer than its budget of {self.seconds:g} s")

    def iterate(self) -> None:
        self.iterations += 1
        if self.iterations > MAX_ITERATIONS:
            raise LimitError(f"the template's loops ran more than {MAX_ITERATIONS:,} times")
        self.tick()

    def enter(self) -> None:
        self.calls += 1
        self.depth += 1
        if self.calls > MAX_CALLS:
            raise LimitError(f"the template made more than {MAX_CALLS:,} calls")
        if self.depth > MAX_DEPTH:
            raise LimitError(f"macros or calls nest more than {MAX_DEPTH} deep")
        self.tick()


_CURRENT: ContextVar[Budget | None] = ContextVar("mzt_render_budget", default=None)


def active() -> Budget | None:
    """The budget of the render in progress, if any."""
    return _CURRENT.get()


def current() -> Budget:
    """The budget of the render in progress (a fresh one outside any render)."""
    budget = _CURRENT.get()
    if budget is None:
        budget = Budget()
        _CURRENT.set(budget)
    return budget


def bounded_chunks(chunks: Iterable[str], budget: Budget) -> str:
    """Join a render's output under ``budget``, refusing output over `MAX_OUTPUT`."""
    token = _CURRENT.set(budget)
    try:
        out: list[str] = []
        size = 0
        for chunk in chunks:
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise LimitError(f"the rendered prompt is over {MAX_OUTPUT:,} characters")
            out.append(chunk)
            budget.tick()
        return "".join(out)
    finally:
        _CURRENT.reset(token)


def guarded_loop(iterable: Iterable[Any]) -> Iterator[Any]:
    """Every iteration of a template loop counts against the render's budget."""
    budget = current()
    for item in iterable:
        budget.iterate()
        yield item


def guarded_join(parts: Iterable[Any], separator: str = "") -> str:
    """``~`` and buffer joins: refuse before building a value over `MAX_VALUE`."""
    texts = [p if isinstance(p, str) else str(p) for p in parts]
    check_size(sum(map(len, texts)) + len(separator) * max(len(texts) - 1, 0), "joining")
    return separator.join(texts)


_PADDING = frozenset({"center", "ljust", "rjust", "zfill"})


def check_method(obj: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
    """Refuse calls of built-in methods that would build enormous values.

    Returns the arguments to call with (an iterable given to ``join`` is read once here).
    """
    owner = getattr(obj, "__self__", None)
    name = getattr(obj, "__name__", "")
    if isinstance(owner, int) and name == "to_bytes":
        length = args[0] if args else kwargs.get("length", 1)
        if isinstance(length, int):
            check_size(length, "to_bytes")
        return args
    if not isinstance(owner, str | bytes):
        return args
    if name in _PADDING and args and isinstance(args[0], int):
        check_size(args[0], name)
    elif name == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(size, int):
            tabs = owner.count("\t") if isinstance(owner, str) else owner.count(b"\t")
            check_size(len(owner) + tabs * size, "expandtabs")
    elif name == "replace" and len(args) >= 2:
        old, new = args[0], args[1]
        if isinstance(old, str | bytes) and isinstance(new, str | bytes):
            times = owner.count(old) if old else len(owner) + 1  # type: ignore[arg-type]
            check_size(len(owner) + times * max(len(new) - len(old), 0), "replace")
    elif name == "join" and args:
        items = list(args[0])
        sizes = sum(len(i) for i in items if isinstance(i, str | bytes))
        check_size(sizes + len(owner) * max(len(items) - 1, 0), "join")
        return (items, *args[1:])
    elif name == "translate":
        table = args[0] if args else None
        if isinstance(table, Mapping):
            widest = max((len(v) for v in table.values() if isinstance(v, str)), default=1)
            check_size(len(owner) * widest, "translate")
    return args
