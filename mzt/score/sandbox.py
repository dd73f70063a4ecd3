"""The Jinja2 sandbox prompts and injection paths render in, with every expansion bounded.

On top of Jinja's immutable sandbox (no Python internals, no mutation of lists and
dicts, `range` capped at 100,000 items) this environment routes loops, calls,
arithmetic that grows values, ``~`` joins, buffer joins, ``str.format`` and the
filters that pad or multiply text through `mzt.score.bounds`, and renders under a
`Budget` (time, iterations, output size, stop flag).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import update_wrapper
from typing import Any

import jinja2
from jinja2 import filters as jinja_filters
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter
from jinja2.utils import generate_lorem_ipsum

from mzt.score.bounds import (
    MAX_VALUE,
    Budget,
    LimitError,
    active,
    bounded_chunks,
    check_method,
    check_percent,
    check_size,
    check_spec,
    current,
    guarded_join,
    guarded_loop,
)


class _Generator(CodeGenerator):
    """Compiles every loop's iterable through the guard, and ``~`` through a bounded join."""

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        guard = nodes.EnvironmentAttribute("mzt_loop", lineno=node.lineno)
        iterable = nodes.Call(guard, [node.iter], [], None, None, lineno=node.lineno)
        guarded = nodes.For(
            node.target,
            iterable,
            node.body,
            node.else_,
            node.test,
            node.recursive,
            lineno=node.lineno,
        )
        super().visit_For(guarded, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.mzt_join((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class _Template(jinja2.Template):
    """A template whose every render is bounded, however it is called."""

    def render(self, *args: Any, **kwargs: Any) -> str:
        budget = active() or Budget()
        try:
            return bounded_chunks(
                self.root_render_func(self.new_context(dict(*args, **kwargs))), budget
            )
        except Exception:
            self.environment.handle_exception()


class _Formatter(SandboxedFormatter):
    def format_field(self, value: Any, format_spec: str) -> Any:
        check_spec(format_spec, "a .format() field")
        return super().format_field(value, format_spec)


class Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox, also refusing anything that would build enormous values or never end."""

    code_generator_class = _Generator
    template_class = _Template
    intercepted_binops = frozenset({"*", "**", "+", "%"})
    concat = staticmethod(guarded_join)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters.update(_FILTERS)
        self.globals["lipsum"] = _lipsum

    def mzt_loop(self, iterable: Any) -> Any:
        return guarded_loop(iterable)

    def mzt_join(self, parts: tuple[Any, ...]) -> str:
        return guarded_join(parts)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and _large_power(left, right):
            raise LimitError(f"{left!r} ** {right!r} is too large")
        if operator == "*":
            _check_product(left, right)
        elif operator == "+" and isinstance(left, str | list | tuple) and hasattr(right, "__len__"):
            check_size(len(left) + len(right), "the addition")
        elif operator == "%" and isinstance(left, str):
            check_percent(left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        budget = current()
        budget.enter()
        try:
            args = check_method(__obj, args, kwargs)
            return super().call(__context, __obj, *args, **kwargs)
        finally:
            budget.depth -= 1

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        formatter = _Formatter(self)
        text: str = value.__self__
        is_map = value.__name__ == "format_map"

        def bounded(*args: Any, **kwargs: Any) -> str:
            if not is_map:
                return str(formatter.vformat(text, args, kwargs))
            if kwargs or len(args) != 1:
                raise TypeError("format_map() takes exactly one argument")
            return str(formatter.vformat(text, (), args[0]))

        return update_wrapper(bounded, value)


def _large_power(base: Any, exponent: Any) -> bool:
    numbers = all(isinstance(v, int) and not isinstance(v, bool) for v in (base, exponent))
    return numbers and abs(base) > 1 and exponent * max(abs(base).bit_length(), 1) > 4096


def _check_product(left: Any, right: Any) -> None:
    for seq, count in ((left, right), (right, left)):
        if isinstance(seq, str | list | tuple) and isinstance(count, int):
            check_size(len(seq) * count, "the repetition")
    ints = all(isinstance(v, int) and not isinstance(v, bool) for v in (left, right))
    if ints and left.bit_length() + right.bit_length() > 65536:
        raise LimitError("the multiplication would build a number over 65,536 bits")


# --- filters that pad, multiply or fill -----------------------------------------------------


def _center(value: Any, width: int = 80) -> str:
    check_size(width, "center")
    return jinja_filters.do_center(value, width)


def _indent(s: Any, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
    text = str(s)
    pad = width if isinstance(width, str) else " " * min(max(width, 0), MAX_VALUE + 1)
    check_size(len(text) + (text.count("\n") + 1) * len(pad), "indent")
    return jinja_filters.do_indent(text, width, first, blank)


def _format(value: Any, *args: Any, **kwargs: Any) -> str:
    check_percent(str(value), kwargs or args)
    return jinja_filters.do_format(value, *args, **kwargs)


@jinja2.pass_eval_context
def _replace(eval_ctx: Any, s: Any, old: Any, new: Any, count: int | None = None) -> str:
    text, old_s, new_s = str(s), str(old), str(new)
    times = text.count(old_s) if old_s else len(text) + 1
    check_size(len(text) + times * max(len(new_s) - len(old_s), 0), "replace")
    return jinja_filters.do_replace(eval_ctx, s, old, new, count)


@jinja2.pass_eval_context
def _join(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> str:
    items = list(value)
    if attribute is not None:
        items = list(map(jinja_filters.make_attrgetter(eval_ctx.environment, attribute), items))
    return guarded_join(items, str(d))


@jinja2.pass_environment
def _wordwrap(environment: Any, s: Any, width: int = 79, *args: Any, **kwargs: Any) -> str:
    wrapstring = kwargs.get("wrapstring", args[1] if len(args) > 1 else None)
    if wrapstring:
        check_size(len(str(s)) * (1 + len(str(wrapstring))), "wordwrap")
    return jinja_filters.do_wordwrap(environment, s, width, *args, **kwargs)


def _batch(value: Any, linecount: int, fill_with: Any = None) -> Any:
    if fill_with is not None:
        check_size(linecount, "batch")
    return jinja_filters.do_batch(value, linecount, fill_with)


def _slice(value: Any, slices: int, fill_with: Any = None) -> Any:
    check_size(slices, "slice")
    return jinja_filters.sync_do_slice(value, slices, fill_with)


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    if n > 1000 or max > 1000:
        raise LimitError("lipsum is limited to 1,000 paragraphs of 1,000 words")
    return str(generate_lorem_ipsum(n, html, min, max))


_FILTERS: dict[str, Callable[..., Any]] = {
    "center": _center,
    "indent": _indent,
    "format": _format,
    "replace": _replace,
    "join": _join,
    "wordwrap": _wordwrap,
    "batch": _batch,
    "slice": _slice,
}


# --- what can be known before rendering -----------------------------------------------------


def literal_loop_product(tree: nodes.Node, outer: int = 1) -> int:
    """The largest number of iterations nested ``for … in range(<literals>)`` loops ask for.

    Loops over anything else count as one iteration: only what the text alone says is
    counted, so a score is never refused for what its variables might hold.
    """
    worst = outer
    for child in tree.iter_child_nodes():
        inner = outer
        if isinstance(child, nodes.For):
            inner = outer * _literal_range_length(child.iter)
        worst = max(worst, literal_loop_product(child, inner))
    return worst


def _literal_range_length(node: nodes.Node) -> int:
    if not (
        isinstance(node, nodes.Call)
        and isinstance(node.node, nodes.Name)
        and node.node.name == "range"
        and not node.kwargs
        and node.dyn_args is None
        and node.dyn_kwargs is None
        and 1 <= len(node.args) <= 3
    ):
        return 1
    values = [_small_int(arg) for arg in node.args]
    if any(v is None for v in values) or (values[-1] == 0 and len(values) == 3):
        return 1
    bounds = [v for v in values if v is not None]
    start, stop, step = (0, bounds[0], 1) if len(bounds) == 1 else (*bounds[:2], 1)
    if len(bounds) == 3:
        step = bounds[2]
    return max(0, -(-(stop - start) // step)) if step > 0 else max(0, -(-(start - stop) // -step))


def _small_int(node: nodes.Node) -> int | None:
    """An integer literal (``5``, ``-5``, ``10**6``, ``2*10**5``), never computing a huge one."""
    if isinstance(node, nodes.Const) and isinstance(node.value, int):
        return node.value if not isinstance(node.value, bool) else None
    if isinstance(node, nodes.Neg):
        value = _small_int(node.node)
        return None if value is None else -value
    if isinstance(node, nodes.Pow | nodes.Mul):
        left, right = _small_int(node.left), _small_int(node.right)
        if left is None or right is None:
            return None
        if isinstance(node, nodes.Mul):
            return left * right if abs(left) < 2**62 and abs(right) < 2**62 else None
        if right < 0 or _large_power(left, right):
            return None
        return int(left**right)
    return None
