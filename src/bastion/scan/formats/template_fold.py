"""Constant folding of Jinja expressions, so names built from pieces are seen for what they are.

Template-injection payloads hide attribute names from simple token matching: ``'__cla' ~
'ss__'``, ``'%c%cclass%c%c'|format(95, 95, 95, 95)``, ``['_'*2, 'class', '_'*2]|join``,
``dict(__class__=1)|first``, ``'__ssalc__'[::-1]``. The folder evaluates the side-effect-free
string and number operations Jinja offers on constants, with hard bounds on every result, and
answers :data:`UNKNOWN` for anything else. It never renders, imports or calls template code.

>>> from jinja2 import Environment
>>> expr = Environment().parse("{{ ['_'*2, 'class', '_'*2]|join }}").body[0].nodes[0]
>>> Folder({}).fold(expr)
'__class__'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import nodes

Folded = str | int | float | bool | tuple[object, ...] | None

#: Longest string the folder builds; longer results are unknown.
MAX_STRING = 65536
#: Longest sequence the folder builds.
MAX_ITEMS = 4096
#: Largest integer magnitude the folder keeps.
MAX_INT = 10**18
_MAX_DEPTH = 64


class _Unknown:
    """The value could not be determined statically."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()
Result = Folded | _Unknown

_PRINTF = re.compile(r"%(?:\(\w{1,40}\))?[#0\- +]*\d{0,3}(?:\.\d{0,3})?[diouxXeEfFgGcrsa%]")
_FORMAT_FIELD = re.compile(r"\{\{|\}\}|\{\w{0,40}\}")


def _bounded(value: Result) -> Result:
    if isinstance(value, str) and len(value) > MAX_STRING:
        return UNKNOWN
    if isinstance(value, tuple) and len(value) > MAX_ITEMS:
        return UNKNOWN
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
        return UNKNOWN
    if isinstance(value, float) and value != value:  # NaN is of no use to anyone here
        return UNKNOWN
    return value


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _as_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: object) -> str:
    """Jinja's string conversion of a folded value (``~`` and ``|string``)."""
    if value is None:
        return "None"
    if isinstance(value, tuple):
        return "[" + ", ".join(repr(v) for v in value) + "]"
    return str(value)


def printf(fmt: str, args: object) -> Result:
    """``fmt % args`` when every conversion is a plain, narrow one; otherwise unknown."""
    if "%" in _PRINTF.sub("", fmt):
        return UNKNOWN
    try:
        return _bounded(fmt % args)
    except (TypeError, ValueError, OverflowError, KeyError):
        return UNKNOWN


def str_format(fmt: str, args: tuple[object, ...], kwargs: Mapping[str, object]) -> Result:
    """``fmt.format(...)`` when every field is a bare ``{}``/``{0}``/``{name}``."""
    if "{" in _FORMAT_FIELD.sub("", fmt) or "}" in _FORMAT_FIELD.sub("", fmt):
        return UNKNOWN
    try:
        return _bounded(fmt.format(*args, **kwargs))
    except (IndexError, KeyError, ValueError):
        return UNKNOWN


class Folder:
    """Folds expressions; ``env`` maps variable names to values assigned once in the template."""

    def __init__(self, env: Mapping[str, Folded]) -> None:
        self.env = env
        self._memo: dict[int, Result] = {}

    def fold(self, node: nodes.Node, depth: int = 0) -> Result:
        """The constant value of ``node``, or :data:`UNKNOWN`."""
        key = id(node)
        if key in self._memo:
            return self._memo[key]
        value = UNKNOWN if depth > _MAX_DEPTH else _bounded(self._fold(node, depth + 1))
        self._memo[key] = value
        return value

    def fold_str(self, node: nodes.Node | None) -> str | None:
        """The constant string value of ``node``, or ``None``."""
        if node is None:
            return None
        value = self.fold(node)
        return value if isinstance(value, str) else None

    def fold_int(self, node: nodes.Node | None) -> int | None:
        """The constant integer value of ``node``, or ``None``."""
        if node is None:
            return None
        return _as_int(self.fold(node))

    def _fold(self, node: nodes.Node, depth: int) -> Result:
        handler = _HANDLERS.get(type(node))
        return UNKNOWN if handler is None else handler(self, node, depth)

    def _all(self, items: list[nodes.Node] | list[nodes.Expr], depth: int) -> Result:
        values = [self.fold(item, depth) for item in items]
        if any(v is UNKNOWN for v in values):
            return UNKNOWN
        return tuple(values)


def _const(f: Folder, node: nodes.Const, depth: int) -> Result:
    value = node.value
    return value if isinstance(value, str | int | float | bool) or value is None else UNKNOWN


def _name(f: Folder, node: nodes.Name, depth: int) -> Result:
    return f.env[node.name] if node.name in f.env else UNKNOWN


def _concat(f: Folder, node: nodes.Concat, depth: int) -> Result:
    parts = f._all(node.nodes, depth)
    return "".join(_text(p) for p in parts) if isinstance(parts, tuple) else UNKNOWN


def _binary(
    op: Callable[[object, object], Result],
) -> Callable[[Folder, nodes.BinExpr, int], Result]:
    def handler(f: Folder, node: nodes.BinExpr, depth: int) -> Result:
        left, right = f.fold(node.left, depth), f.fold(node.right, depth)
        if left is UNKNOWN or right is UNKNOWN:
            return UNKNOWN
        try:
            return op(left, right)
        except (TypeError, ValueError, ZeroDivisionError, OverflowError):
            return UNKNOWN

    return handler


def _add(a: object, b: object) -> Result:
    if isinstance(a, str) and isinstance(b, str):
        return a + b if len(a) + len(b) <= MAX_STRING else UNKNOWN
    if isinstance(a, tuple) and isinstance(b, tuple):
        return a + b if len(a) + len(b) <= MAX_ITEMS else UNKNOWN
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a + b
    return UNKNOWN


def _mul(a: object, b: object) -> Result:
    if isinstance(a, int) and isinstance(b, str | tuple):
        a, b = b, a
    count = _as_int(b)
    if isinstance(a, str | tuple) and count is not None:
        limit = MAX_STRING if isinstance(a, str) else MAX_ITEMS
        return a * count if len(a) * max(count, 0) <= limit else UNKNOWN
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a * b if abs(a) <= MAX_INT and abs(b) <= MAX_INT else UNKNOWN
    return UNKNOWN


def _mod(a: object, b: object) -> Result:
    if isinstance(a, str):
        return printf(a, b)
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a % b
    return UNKNOWN


def _pow(a: object, b: object) -> Result:
    base, exp = _as_int(a), _as_int(b)
    if base is None or exp is None or not 0 <= exp <= 64:
        return UNKNOWN
    if abs(base) <= 1 or abs(base).bit_length() * exp <= 62:
        result: int = base**exp
        return result
    return UNKNOWN


def _arith(op: Callable[[float, float], float]) -> Callable[[object, object], Result]:
    def apply(a: object, b: object) -> Result:
        if isinstance(a, int | float) and isinstance(b, int | float):
            return op(a, b)
        return UNKNOWN

    return apply


def _sequence(f: Folder, node: nodes.List | nodes.Tuple, depth: int) -> Result:
    return f._all(node.items, depth) if len(node.items) <= MAX_ITEMS else UNKNOWN


def _dict(f: Folder, node: nodes.Dict, depth: int) -> Result:
    # NOTE: iterating a dict (what |join and |first do) yields its keys.
    return f._all([pair.key for pair in node.items], depth)


def _cond(f: Folder, node: nodes.CondExpr, depth: int) -> Result:
    test = f.fold(node.test, depth)
    if test is UNKNOWN:
        return UNKNOWN
    branch = node.expr1 if test else node.expr2
    return None if branch is None else f.fold(branch, depth)


def _getitem(f: Folder, node: nodes.Getitem, depth: int) -> Result:
    obj = f.fold(node.node, depth)
    if not isinstance(obj, str | tuple):
        return UNKNOWN
    if isinstance(node.arg, nodes.Slice):
        parts = [
            f.fold_int(p) if p is not None else None
            for p in (node.arg.start, node.arg.stop, node.arg.step)
        ]
        for part, raw in zip(parts, (node.arg.start, node.arg.stop, node.arg.step), strict=True):
            if raw is not None and part is None:
                return UNKNOWN
        if parts[2] == 0:
            return UNKNOWN
        return obj[slice(*parts)]
    index = _as_int(f.fold(node.arg, depth))
    if index is not None and -len(obj) <= index < len(obj):
        item = obj[index]
        return item if isinstance(item, str | int | float | bool | tuple) else UNKNOWN
    return UNKNOWN


def _unary(f: Folder, node: nodes.UnaryExpr, depth: int) -> Result:
    value = f.fold(node.node, depth)
    if isinstance(node, nodes.Neg) and isinstance(value, int | float):
        return -value
    if isinstance(node, nodes.Pos) and isinstance(value, int | float):
        return value
    return UNKNOWN


def _wrapped(f: Folder, node: nodes.MarkSafe, depth: int) -> Result:
    return f.fold(node.expr, depth)


def _filter(f: Folder, node: nodes.Filter, depth: int) -> Result:
    if node.node is None or node.dyn_args is not None or node.dyn_kwargs is not None:
        return UNKNOWN
    value = f.fold(node.node, depth)
    args = f._all(node.args, depth)
    if isinstance(value, _Unknown) or not isinstance(args, tuple):
        return UNKNOWN
    return _apply_filter(node.name, value, args, _keywords(f, node.kwargs, depth))


def _apply_filter(
    name: str, value: Folded, args: tuple[object, ...], kwargs: dict[str, Result]
) -> Result:
    text_filters: dict[str, Callable[[str], str]] = {
        "lower": str.lower,
        "upper": str.upper,
        "trim": str.strip,
        "capitalize": str.capitalize,
        "title": str.title,
    }
    if name == "trim" and isinstance(value, str) and (args or kwargs):
        # NOTE: ``trim(chars)`` strips the given characters: 'X__class__'|trim('X').
        chars = args[0] if args else kwargs.get("chars", UNKNOWN)
        if chars is None:
            return value.strip()
        return value.strip(chars) if isinstance(chars, str) else UNKNOWN
    if name in text_filters and isinstance(value, str) and not args and not kwargs:
        return text_filters[name](value)
    if name in ("string", "safe"):
        return _text(value)
    if name == "join" and isinstance(value, str | tuple) and not kwargs:
        sep = args[0] if args else ""
        return _text(sep).join(_text(v) for v in value)
    if name == "format" and isinstance(value, str):
        return printf(value, args) if not kwargs else UNKNOWN
    if name == "replace" and isinstance(value, str) and len(args) >= 2:
        old, new = _text(args[0]), _text(args[1])
        if old and len(value) // len(old) * max(len(new), 1) > MAX_STRING:
            return UNKNOWN
        return value.replace(old, new)
    if name == "reverse" and isinstance(value, str | tuple):
        return value[::-1]
    if name == "list" and isinstance(value, str | tuple):
        return tuple(value)
    if name in ("first", "last") and isinstance(value, str | tuple) and value:
        item: Result = value[0] if name == "first" else value[-1]  # type: ignore[assignment]
        return item
    if name == "int" and isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value) if len(value) < 19 else UNKNOWN
    if name == "length" and isinstance(value, str | tuple):
        return len(value)
    return UNKNOWN


def _keywords(f: Folder, kwargs: list[Any], depth: int) -> dict[str, Result]:
    # NOTE: the parser builds Keyword nodes; jinja2's annotations call some of them Pair.
    return {str(k.key): f.fold(k.value, depth) for k in kwargs}


def _call(f: Folder, node: nodes.Call, depth: int) -> Result:
    if node.dyn_args is not None or node.dyn_kwargs is not None:
        return UNKNOWN
    target = node.node
    if isinstance(target, nodes.Name) and target.name == "dict" and not node.args:
        return tuple(k.key for k in node.kwargs)
    if not isinstance(target, nodes.Getattr):
        return UNKNOWN
    obj = f.fold(target.node, depth)
    args = f._all(node.args, depth)
    if not isinstance(obj, str) or not isinstance(args, tuple):
        return UNKNOWN
    method = target.attr
    if method == "join" and len(args) == 1 and isinstance(args[0], str | tuple):
        return obj.join(_text(v) for v in args[0])
    if method == "format":
        kwargs = _keywords(f, node.kwargs, depth)
        if any(v is UNKNOWN for v in kwargs.values()):
            return UNKNOWN
        return str_format(obj, args, dict(kwargs))
    if (
        method in ("upper", "lower", "strip", "lstrip", "rstrip", "title", "capitalize")
        and not args
    ):
        result: str = getattr(str, method)(obj)
        return result
    if method == "replace" and len(args) == 2 and all(isinstance(a, str) for a in args):
        return _apply_filter("replace", obj, args, {})
    return UNKNOWN


_HANDLERS: dict[type[nodes.Node], Callable[[Folder, Any, int], Result]] = {
    nodes.Const: _const,
    nodes.Name: _name,
    nodes.Concat: _concat,
    nodes.Add: _binary(_add),
    nodes.Mul: _binary(_mul),
    nodes.Mod: _binary(_mod),
    nodes.Pow: _binary(_pow),
    nodes.Sub: _binary(_arith(lambda a, b: a - b)),
    nodes.Div: _binary(_arith(lambda a, b: a / b)),
    nodes.FloorDiv: _binary(_arith(lambda a, b: a // b)),
    nodes.List: _sequence,
    nodes.Tuple: _sequence,
    nodes.Dict: _dict,
    nodes.CondExpr: _cond,
    nodes.Getitem: _getitem,
    nodes.Neg: _unary,
    nodes.Pos: _unary,
    nodes.MarkSafe: _wrapped,
    nodes.MarkSafeIfAutoescape: _wrapped,
    nodes.Filter: _filter,
    nodes.Call: _call,
}
