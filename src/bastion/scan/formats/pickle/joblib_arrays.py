"""Follow joblib's inline NumPy arrays, so the pickle after them is analyzed too.

``joblib.dump`` writes each array's bytes straight into the file right after the ``BUILD`` of a
``NumpyArrayWrapper`` (one padding-length byte and padding first, since joblib 1.2), and an
object array as a nested pickle. The loader reads them there; so must the scanner, or everything
after the first array would be misread as opcodes.
"""

from __future__ import annotations

import math
import re

from bastion.scan.formats.pickle.values import Call, Glob, Map, Seq, Value, literal

WRAPPERS = frozenset({"joblib.numpy_pickle.NumpyArrayWrapper"})
_TYPESTR = re.compile(r"^[<>|=]?([a-zA-Z?])(\d*)")
_FIXED = {
    "?": 1,
    "b": 1,
    "B": 1,
    "h": 2,
    "H": 2,
    "i": 4,
    "I": 4,
    "l": 8,
    "L": 8,
    "q": 8,
    "Q": 8,
    "e": 2,
    "f": 4,
    "d": 8,
    "g": 16,
    "F": 8,
    "D": 16,
    "G": 32,
    "M": 8,
    "m": 8,
    "p": 8,
    "P": 8,
}


class ArrayLayout:
    """What follows a wrapper's BUILD: a nested pickle, or ``nbytes`` of raw data."""

    def __init__(self, *, nested_pickle: bool, nbytes: int, aligned: bool) -> None:
        self.nested_pickle = nested_pickle
        self.nbytes = nbytes
        self.aligned = aligned


class UnknownLayoutError(Exception):
    """The array's size cannot be determined statically."""


def wrapper_class(obj: Value) -> str | None:
    """The wrapper's qualified class name when ``obj`` is a joblib array wrapper instance."""
    if isinstance(obj, Call) and isinstance(obj.func, Glob) and obj.func.qualname in WRAPPERS:
        return obj.func.qualname
    return None


def layout(state: Value) -> ArrayLayout:
    """Size the data that follows, from the wrapper's state dict."""
    if not isinstance(state, Map):
        raise UnknownLayoutError("wrapper state is not a dict")
    shape = literal(state.get("shape") or Seq("tuple"))
    dtype = state.get("dtype")
    aligned = state.get("numpy_array_alignment_bytes") is not None
    if (
        dtype is None
        or not isinstance(shape, tuple)
        or not all(isinstance(n, int) and n >= 0 for n in shape)
    ):
        raise UnknownLayoutError("wrapper state lacks a literal shape or a dtype")
    if _has_object(dtype, depth=0):
        return ArrayLayout(nested_pickle=True, nbytes=0, aligned=aligned)
    size = _itemsize(dtype)
    if size is None:
        raise UnknownLayoutError("array dtype size cannot be determined")
    count = math.prod(shape) if shape else 1
    return ArrayLayout(nested_pickle=False, nbytes=count * size, aligned=aligned)


def _dtype_parts(dtype: Value) -> tuple[str | None, tuple[object, ...] | None]:
    if not isinstance(dtype, Call):
        return None, None
    args = literal(dtype.args)
    typestr = args[0] if isinstance(args, tuple) and args and isinstance(args[0], str) else None
    state = dtype.state
    items = tuple(state.items) if isinstance(state, Seq) else None
    return typestr, items


def _has_object(dtype: Value, depth: int) -> bool:
    if depth > 8:
        return True
    typestr, state = _dtype_parts(dtype)
    if typestr is not None and typestr.lstrip("<>|=").startswith("O"):
        return True
    if state and len(state) > 4 and isinstance(state[4], Map):
        for _key, field in state[4].items:
            if isinstance(field, Seq) and field.items and _has_object(field.items[0], depth + 1):
                return True
    if state and len(state) > 2 and isinstance(state[2], Seq) and state[2].items:
        return _has_object(state[2].items[0], depth + 1)
    return False


def _itemsize(dtype: Value) -> int | None:
    typestr, state = _dtype_parts(dtype)
    if state and len(state) > 5:
        elsize = literal(state[5])  # type: ignore[arg-type]
        if isinstance(elsize, int) and elsize > 0:
            return elsize
    if typestr is None:
        return None
    match = _TYPESTR.match(typestr)
    if not match:
        return None
    kind, digits = match.group(1), match.group(2)
    if digits and kind not in "UMm":
        return int(digits)
    if kind == "U" and digits:
        return 4 * int(digits)
    return _FIXED.get(kind)
