"""A tiny pickle assembler for tests: build exactly the opcode sequences attacks use.

Nothing here is ever unpickled. Payload commands come from ``tests.conftest.inert_command``, so
even a mistake could only create a marker file that the ``marker_dir`` fixture checks for.
"""

from __future__ import annotations

import struct


def proto(n: int) -> bytes:
    """PROTO n."""
    return b"\x80" + bytes([n])


def frame(body: bytes) -> bytes:
    """FRAME around ``body`` (protocol 4+)."""
    return b"\x95" + struct.pack("<Q", len(body)) + body


def glob(module: str, name: str) -> bytes:
    """GLOBAL module name (protocol 0+)."""
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def u(text: str) -> bytes:
    """SHORT_BINUNICODE / BINUNICODE (lone surrogates kept, as the unpickler reads them)."""
    raw = text.encode("utf-8", "surrogateescape")
    if len(raw) < 256:
        return b"\x8c" + bytes([len(raw)]) + raw
    return b"X" + struct.pack("<I", len(raw)) + raw


def s0(text: str) -> bytes:
    """Protocol-0 STRING."""
    return b"S" + repr(text).encode() + b"\n"


def b(data: bytes) -> bytes:
    """SHORT_BINBYTES / BINBYTES."""
    if len(data) < 256:
        return b"C" + bytes([len(data)]) + data
    return b"B" + struct.pack("<I", len(data)) + data


def i(n: int) -> bytes:
    """BININT."""
    return b"J" + struct.pack("<i", n)


def stack_global(module: str, name: str) -> bytes:
    """STACK_GLOBAL with literal names."""
    return u(module) + u(name) + b"\x93"


MARK = b"("
TUPLE = b"t"
TUPLE1 = b"\x85"
TUPLE2 = b"\x86"
TUPLE3 = b"\x87"
EMPTY_TUPLE = b")"
EMPTY_DICT = b"}"
EMPTY_LIST = b"]"
REDUCE = b"R"
BUILD = b"b"
NEWOBJ = b"\x81"
NEWOBJ_EX = b"\x92"
STOP = b"."
MEMOIZE = b"\x94"
POP = b"0"
NONE = b"N"
SETITEM = b"s"
APPEND = b"a"


def put(n: int) -> bytes:
    """BINPUT n."""
    return b"q" + bytes([n])


def get(n: int) -> bytes:
    """BINGET n."""
    return b"h" + bytes([n])


def call(module: str, name: str, *args: str, protocol: int = 2) -> bytes:
    """A whole pickle calling ``module.name(*args)`` (string args)."""
    if protocol >= 4:
        body = stack_global(module, name) + MARK + b"".join(u(a) for a in args) + TUPLE
        return proto(protocol) + frame(body + REDUCE + STOP)
    head = proto(protocol) if protocol >= 2 else b""
    strings = b"".join((u(a) if protocol >= 1 else s0(a)) for a in args)
    return head + glob(module, name) + MARK + strings + TUPLE + REDUCE + STOP
