"""The two small languages of a score: validation conditions and `skip_when` expressions.

Neither is ever handed to ``eval``. Conditions are clauses like ``sheet_num >= 2``
joined by `` and ``; a clause that cannot be read or names an unknown or non-integer
variable counts as true, so a rule applies rather than silently vanishing.
``skip_when`` expressions are parsed with Python's own grammar and then walked by a
tiny interpreter that allows only comparisons, boolean logic, literals, item and
attribute reads of the given data, and a handful of pure functions.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

from mzt.support import records

_CLAUSE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|==|!=|>|<)\s*(-?\d+)\s*$")
_OPS: dict[str, Callable[[int, int], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
}


@records.record(frozen=True, slots=True)
class Clause:
    """``name op value``; ``op`` None marks a clause that could not be read."""

    name: str
    op: str | None
    value: int
    text: str


@records.record(frozen=True, slots=True)
class Condition:
    """A parsed validation condition: every clause must hold."""

    clauses: tuple[Clause, ...]

    def holds(self, context: Mapping[str, Any]) -> bool:
        for clause in self.clauses:
            if clause.op is None:
                continue
            actual = context.get(clause.name)
            if not isinstance(actual, int) or isinstance(actual, bool):
                continue
            if not _OPS[clause.op](actual, clause.value):
                return False
        return True

    def unreadable(self) -> list[str]:
        """Clauses that will be treated as true because they cannot be read."""
        return [c.text for c in self.clauses if c.op is None]


def parse_condition(text: str) -> Condition:
    clauses = []
    for part in text.split(" and "):
        match = _CLAUSE.match(part)
        if match is None:
            clauses.append(Clause("", None, 0, part.strip()))
        else:
            name, op, value = match.groups()
            clauses.append(Clause(name, op, int(value), part.strip()))
    return Condition(tuple(clauses))


# --- skip_when expressions -------------------------------------------------------------

_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": len,
    "bool": bool,
    "int": int,
    "str": str,
    "any": any,
    "all": all,
    "max": max,
    "min": min,
}
_CONSTANTS = {"True": True, "False": False, "None": None}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}
MAX_EXPRESSION_CHARS = 2000


class ExpressionError(ValueError):
    """A `skip_when` expression uses something outside the allowed subset."""


def compile_expression(text: str) -> ast.Expression:
    """Parse and vet an expression; raises `ExpressionError` naming what is not allowed."""
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ExpressionError(f"longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"not a valid expression: {exc.msg}") from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise ExpressionError(f"the attribute {node.attr!r} is not allowed")
        if isinstance(node, ast.Call) and not (
            isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS and not node.keywords
        ):
            raise ExpressionError(
                "only these functions may be called: " + ", ".join(sorted(_FUNCTIONS))
            )
        if not isinstance(node, _ALLOWED_NODES):
            raise ExpressionError(f"{type(node).__name__} is not allowed")
    return tree


_ALLOWED_NODES = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.Compare,
    *_COMPARE,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.Subscript,
    ast.Attribute,
    ast.Call,
    ast.List,
    ast.Tuple,
)


def evaluate_expression(tree: ast.Expression, names: Mapping[str, Any]) -> Any:
    """Evaluate a vetted expression over ``names`` (plus True/False/None)."""
    return _eval(tree.body, names)


def _eval(node: ast.AST, names: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        if node.id in names:
            return names[node.id]
        raise ExpressionError(f"unknown name {node.id!r}")
    if isinstance(node, ast.BoolOp):
        values = (_eval(v, names) for v in node.values)
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, names)
        return (not value) if isinstance(node.op, ast.Not) else -value
    if isinstance(node, ast.Compare):
        left = _eval(node.left, names)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = _eval(right_node, names)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.Subscript):
        return _eval(node.value, names)[_eval(node.slice, names)]
    if isinstance(node, ast.Attribute):
        target = _eval(node.value, names)
        if isinstance(target, Mapping):
            return target[node.attr]
        return getattr(target, node.attr)
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        return _FUNCTIONS[node.func.id](*(_eval(a, names) for a in node.args))
    if isinstance(node, ast.List | ast.Tuple):
        return [_eval(e, names) for e in node.elts]
    raise ExpressionError(f"{type(node).__name__} is not allowed")
