"""A hand-written protobuf encoder for the few TensorFlow messages the corpus needs.

TensorFlow is not installed (and must not be needed), so ``saved_model.pb`` files are encoded
field by field from the public ``.proto`` definitions: ``SavedModel`` → ``MetaGraphDef`` →
``GraphDef`` (``NodeDef``, ``FunctionDefLibrary`` → ``FunctionDef``), with ``AttrValue`` maps.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence

DT_FLOAT = 1
DT_STRING = 7
DT_RESOURCE = 20


def varint(value: int) -> bytes:
    """Base-128 varint (negative numbers as 64-bit two's complement)."""
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field_varint(number: int, value: int) -> bytes:
    """A wire-type-0 field."""
    return varint(number << 3) + varint(value)


def field_bytes(number: int, value: bytes | str) -> bytes:
    """A length-delimited field (bytes, string or an encoded message)."""
    data = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(data)) + data


def field_float(number: int, value: float) -> bytes:
    """A wire-type-5 (fixed32) float field."""
    return varint(number << 3 | 5) + struct.pack("<f", value)


# -- tensorflow.AttrValue --------------------------------------------------------------------


def attr_s(value: bytes | str) -> bytes:
    """``AttrValue{s}``."""
    return field_bytes(2, value)


def attr_i(value: int) -> bytes:
    """``AttrValue{i}``."""
    return field_varint(3, value)


def attr_b(value: bool) -> bytes:
    """``AttrValue{b}``."""
    return field_varint(5, int(value))


def attr_type(dtype: int) -> bytes:
    """``AttrValue{type}``."""
    return field_varint(6, dtype)


def attr_types(dtypes: Sequence[int]) -> bytes:
    """``AttrValue{list{type...}}`` (packed)."""
    packed = b"".join(varint(t) for t in dtypes)
    return field_bytes(1, field_bytes(6, packed))


def attr_func(name: str) -> bytes:
    """``AttrValue{func: NameAttrList{name}}``."""
    return field_bytes(10, field_bytes(1, name))


def attr_string_tensor(value: bytes) -> bytes:
    """``AttrValue{tensor: TensorProto{dtype: DT_STRING, tensor_shape: {}, string_val}}``."""
    tensor = field_varint(1, DT_STRING) + field_bytes(2, b"") + field_bytes(8, value)
    return field_bytes(8, tensor)


def _attr_map(number: int, attrs: Mapping[str, bytes]) -> bytes:
    return b"".join(
        field_bytes(number, field_bytes(1, k) + field_bytes(2, v)) for k, v in attrs.items()
    )


# -- tensorflow graph messages ---------------------------------------------------------------


def node(
    name: str, op: str, inputs: Sequence[str] = (), attrs: Mapping[str, bytes] | None = None
) -> bytes:
    """``NodeDef``."""
    body = field_bytes(1, name) + field_bytes(2, op)
    body += b"".join(field_bytes(3, i) for i in inputs)
    return body + _attr_map(5, attrs or {})


def function(name: str, nodes: Sequence[bytes], *, ret: Mapping[str, str] | None = None) -> bytes:
    """``FunctionDef`` with a minimal ``OpDef`` signature."""
    body = field_bytes(1, field_bytes(1, name))
    body += b"".join(field_bytes(3, n) for n in nodes)
    body += b"".join(
        field_bytes(4, field_bytes(1, k) + field_bytes(2, v)) for k, v in (ret or {}).items()
    )
    return body


def graph(nodes: Sequence[bytes], functions: Sequence[bytes] = (), producer: int = 1645) -> bytes:
    """``GraphDef`` with its library and ``VersionDef``."""
    body = b"".join(field_bytes(1, n) for n in nodes)
    if functions:
        body += field_bytes(2, b"".join(field_bytes(1, f) for f in functions))
    return body + field_bytes(4, field_varint(1, producer) + field_varint(2, 12))


def saved_model(graph_def: bytes, *, tags: Sequence[str] = ("serve",), saver: bool = True) -> bytes:
    """``SavedModel`` with one ``MetaGraphDef``."""
    meta_info = field_bytes(1, "") + b"".join(field_bytes(4, t) for t in tags)
    meta_info += field_bytes(5, "2.16.1") + field_bytes(6, "v2.16.1-0-g5bc9d26649c")
    meta = field_bytes(1, meta_info) + field_bytes(2, graph_def)
    if saver:
        saver_def = (
            field_bytes(1, "saver_filename:0")
            + field_bytes(2, "StatefulPartitionedCall_1:0")
            + field_bytes(3, "StatefulPartitionedCall_2")
            + field_varint(4, 5)
            + field_varint(5, 1)
        )
        meta += field_bytes(3, saver_def)
    return field_varint(1, 1) + field_bytes(2, meta)
