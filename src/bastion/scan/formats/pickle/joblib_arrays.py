"""Follow joblib's inline NumPy arrays exactly as ``joblib.load`` reads them.

``joblib.dump`` writes each array's bytes straight into the file after the ``BUILD`` of a
``NumpyArrayWrapper`` (a padding-length byte and padding first, since joblib 1.2), and an object
array as a nested pickle. The loader reads them with the attributes the wrapper *ended up with*
(constructor arguments, then every BUILD), sized by the dtype NumPy actually builds: a hostile
file can make any of those lie, so the rules here follow NumPy and joblib, not the writer:

* attributes accumulate: ``__init__`` arguments (REDUCE/INST/OBJ), then each BUILD's dict or
  ``(dict, slots)`` pair; NEWOBJ and ``copyreg._reconstructor`` run no ``__init__``;
* padding is read when the ``numpy_array_alignment_bytes`` attribute exists and is not None;
* ``hasobject`` is bit 0 of the flags in the dtype's last state (not the type string), so any
  dtype can announce a nested pickle;
* the element size of a fixed-size type comes from its type string (the state's element size is
  ignored by NumPy), that of ``S``/``U``/``V`` from the state when there is one;
* the element count is the product of the shape as int64, wrapping the way NumPy's does.

Anything that cannot be sized exactly raises :class:`UnknownLayoutError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bastion.scan.formats.pickle.values import Call, Glob, Lit, Map, Seq, Value, literal

WRAPPERS = frozenset({"joblib.numpy_pickle.NumpyArrayWrapper"})
_INIT_ARGS = ("subclass", "shape", "order", "dtype", "allow_mmap", "numpy_array_alignment_bytes")
_INIT_DEFAULTS: dict[str, Value] = {
    "allow_mmap": Lit(False),
    "numpy_array_alignment_bytes": Lit(16),
}
_DTYPE_CTORS = frozenset(
    {"numpy.dtype", "numpy.core.multiarray.dtype", "numpy._core.multiarray.dtype"}
)
_TYPESTR = re.compile(r"^[<>|=]?([a-zA-Z?])(\d*)$")
#: Single-character type codes and their sizes on a 64-bit Linux build of NumPy.
_CODES = {
    "?": 1, "b": 1, "B": 1, "h": 2, "H": 2, "i": 4, "I": 4, "l": 8, "L": 8, "q": 8, "Q": 8,
    "e": 2, "f": 4, "d": 8, "g": 16, "F": 8, "D": 16, "G": 32, "p": 8, "P": 8, "O": 8,
    "M": 8, "m": 8, "c": 1, "S": 0, "a": 0, "U": 0,
}  # fmt: skip
#: Kinds that take an explicit size in bytes (``U`` counts characters of 4 bytes).
_SIZED = {"b": 1, "i": 1, "u": 1, "f": 1, "c": 1, "S": 1, "a": 1, "V": 1, "U": 4}
_FIXED_WIDTHS = {"b": {1}, "i": {1, 2, 4, 8}, "u": {1, 2, 4, 8}, "f": {2, 4, 8, 16}}
_COMPLEX_WIDTHS = {8, 16, 32}
_FLEXIBLE = frozenset("SaUV")
_INT64 = 1 << 64


class UnknownLayoutError(Exception):
    """The array's size or kind cannot be determined statically."""


@dataclass(frozen=True)
class ArrayLayout:
    """What follows a wrapper's BUILD: a nested pickle, or ``nbytes`` of raw data."""

    nested_pickle: bool
    nbytes: int
    aligned: bool


def wrapper_class(obj: Value) -> str | None:
    """The wrapper's qualified class name when ``obj`` is a joblib array wrapper instance."""
    if isinstance(obj, Call) and isinstance(obj.func, Glob) and obj.func.qualname in WRAPPERS:
        return obj.func.qualname
    return None


def initial_attributes(wrapper: Call) -> dict[str, Value]:
    """What ``__init__`` set, when the instance was made by calling the class."""
    if wrapper.op not in ("REDUCE", "INST", "OBJ"):
        return {}
    args = wrapper.args.items if isinstance(wrapper.args, Seq) else None
    if args is None:
        raise UnknownLayoutError("wrapper constructor arguments are not a tuple")
    if len(args) < 4 or len(args) > len(_INIT_ARGS):
        raise UnknownLayoutError("wrapper constructor called with the wrong arguments")
    attributes = dict(_INIT_DEFAULTS)
    attributes.update(zip(_INIT_ARGS, args, strict=False))
    return attributes


def apply_state(attributes: dict[str, Value], state: Value) -> None:
    """BUILD without ``__setstate__``: update the instance dict, then set slot attributes."""
    slots: Value | None = None
    if isinstance(state, Seq) and state.kind == "tuple" and len(state.items) == 2:
        state, slots = state.items
    for part in (state, slots):
        if part is None or (isinstance(part, Lit) and not part.value):
            continue
        if not isinstance(part, Map) or part.dropped:
            raise UnknownLayoutError("wrapper state is not a dict the scanner can read")
        for key, value in part.items:
            if not (isinstance(key, Lit) and isinstance(key.value, str)):
                raise UnknownLayoutError("wrapper state has a key computed at load time")
            attributes[key.value] = value


def layout(attributes: dict[str, Value]) -> ArrayLayout:
    """Size the data that follows, from the wrapper's attributes."""
    dtype = attributes.get("dtype")
    if dtype is None or "shape" not in attributes:
        raise UnknownLayoutError("wrapper lacks a shape or a dtype")
    hasobject, itemsize = _dtype_facts(dtype)
    alignment = attributes.get("numpy_array_alignment_bytes")
    aligned = alignment is not None and not (isinstance(alignment, Lit) and alignment.value is None)
    if hasobject:
        mmap = attributes.get("allow_mmap")
        if mmap is not None and not (isinstance(mmap, Lit) and not mmap.value):
            raise UnknownLayoutError(
                "object array marked for memory mapping: joblib.load(mmap_mode=...) skips bytes "
                "that joblib.load() unpickles"
            )
        return ArrayLayout(nested_pickle=True, nbytes=0, aligned=aligned)
    count = _count(attributes["shape"])
    if count < 0 or itemsize <= 0:
        raise UnknownLayoutError(f"array of {count} items of {itemsize} bytes")
    return ArrayLayout(nested_pickle=False, nbytes=count * itemsize, aligned=aligned)


def _count(shape: Value) -> int:
    if isinstance(shape, Seq) and shape.kind == "list" and not shape.dropped:
        shape = Seq("tuple", shape.items)
    dims = literal(shape)
    if not isinstance(dims, tuple) or not all(isinstance(n, int) for n in dims):
        raise UnknownLayoutError("wrapper shape is not a literal tuple of integers")
    count = 1
    for n in dims:
        if not -(1 << 63) <= n < 1 << 63:
            raise UnknownLayoutError("shape entry does not fit int64")
        count = (count * n) % _INT64  # NumPy multiplies int64 entries and wraps
    return count - _INT64 if count >= 1 << 63 else count


def _dtype_facts(dtype: Value) -> tuple[bool, int]:
    """``(hasobject, itemsize)`` of a ``numpy.dtype(typestr, align, copy)`` + BUILD value."""
    if not (
        isinstance(dtype, Call)
        and isinstance(dtype.func, Glob)
        and dtype.func.qualname in _DTYPE_CTORS
    ):
        raise UnknownLayoutError("array dtype is not a numpy.dtype the scanner can read")
    args = literal(dtype.args)
    if not (isinstance(args, tuple) and args and isinstance(args[0], str)):
        raise UnknownLayoutError("array dtype is not built from a type string")
    kind, size = _typestr(args[0])
    state = dtype.state
    if state is None:
        return kind == "O", size
    items = state.items if isinstance(state, Seq) and state.kind == "tuple" else []
    flags = _int(items[7]) if len(items) in (8, 9) else None
    if flags is None:
        raise UnknownLayoutError("array dtype state is not a version 3/4 state with literal flags")
    if kind in _FLEXIBLE:
        elsize = _int(items[5])
        if elsize is None:
            raise UnknownLayoutError("flexible dtype without a literal element size")
        size = elsize
    return bool(flags & 1), size


def _int(value: Value) -> int | None:
    if isinstance(value, Lit) and isinstance(value.value, int):
        return value.value
    return None


def _typestr(text: str) -> tuple[str, int]:
    """Kind and item size of a type string in the form ``numpy.dtype.__reduce__`` writes."""
    match = _TYPESTR.match(text)
    if not match:
        raise UnknownLayoutError(f"dtype {text[:40]!r} is not a plain type string")
    kind, digits = match.group(1), match.group(2)
    if not digits:
        if kind not in _CODES:
            raise UnknownLayoutError(f"dtype {text[:40]!r} is not a plain type string")
        return ("S" if kind == "c" else kind), _CODES[kind]
    width = int(digits)
    if kind in _FIXED_WIDTHS:
        if width not in _FIXED_WIDTHS[kind]:
            raise UnknownLayoutError(f"dtype {text[:40]!r} has no such width")
        return ("?" if kind == "b" else kind), width
    if kind == "c" and width in _COMPLEX_WIDTHS:
        return kind, width
    if kind in "OMm" and width == 8:
        return kind, 8
    if kind in "SaUV":
        return kind, width * _SIZED[kind]
    raise UnknownLayoutError(f"dtype {text[:40]!r} is not a plain type string")
