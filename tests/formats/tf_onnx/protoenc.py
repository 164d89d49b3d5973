"""A tiny protobuf encoder for building test messages field by field (tests only)."""

from __future__ import annotations

import struct
from collections.abc import Iterable


def varint(value: int) -> bytes:
    """Encode an unsigned varint (negative numbers as 64-bit two's complement)."""
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def key(number: int, wire: int) -> bytes:
    """A field key."""
    return varint((number << 3) | wire)


def uint(number: int, value: int) -> bytes:
    """A varint field."""
    return key(number, 0) + varint(value)


def blob(number: int, payload: bytes | str) -> bytes:
    """A length-delimited field (bytes, a string or an encoded message)."""
    data = payload.encode("utf-8") if isinstance(payload, str) else payload
    return key(number, 2) + varint(len(data)) + data


def fixed32(number: int, value: float) -> bytes:
    """A float field."""
    return key(number, 5) + struct.pack("<f", value)


def fixed64(number: int, value: float) -> bytes:
    """A double field."""
    return key(number, 1) + struct.pack("<d", value)


def msg(*parts: bytes | Iterable[bytes]) -> bytes:
    """Concatenate encoded fields (lists flattened)."""
    out = bytearray()
    for part in parts:
        if isinstance(part, bytes | bytearray):
            out += part
        else:
            for item in part:
                out += item
    return bytes(out)
