"""A pickle assembler for red-team samples: exact opcode sequences, nothing is ever unpickled.

Every helper returns bytes. String arguments of payload calls come from
``tests.conftest.inert_command`` (or are marker paths), so even a loader that ran a sample could
only create a marker file under the test's temporary directory.
"""

from __future__ import annotations

import struct

MARK = b"("
STOP = b"."
POP = b"0"
POP_MARK = b"1"
DUP = b"2"
NONE = b"N"
TRUE = b"\x88"
FALSE = b"\x89"
TUPLE = b"t"
TUPLE1 = b"\x85"
TUPLE2 = b"\x86"
TUPLE3 = b"\x87"
EMPTY_TUPLE = b")"
EMPTY_DICT = b"}"
EMPTY_LIST = b"]"
LIST = b"l"
DICT = b"d"
REDUCE = b"R"
BUILD = b"b"
NEWOBJ = b"\x81"
NEWOBJ_EX = b"\x92"
OBJ = b"o"
SETITEM = b"s"
SETITEMS = b"u"
APPEND = b"a"
APPENDS = b"e"
MEMOIZE = b"\x94"
STACK_GLOBAL = b"\x93"
BINPERSID = b"Q"
NEXT_BUFFER = b"\x97"


def proto(n: int) -> bytes:
    """PROTO n."""
    return b"\x80" + bytes([n])


def frame(body: bytes) -> bytes:
    """FRAME around ``body``."""
    return b"\x95" + struct.pack("<Q", len(body)) + body


def glob(module: str, name: str) -> bytes:
    """GLOBAL module name (dotted names resolve attribute by attribute from protocol 4)."""
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def inst(module: str, name: str) -> bytes:
    """INST module name (the arguments since the last MARK are passed to the class)."""
    return b"i" + module.encode() + b"\n" + name.encode() + b"\n"


def u(text: str) -> bytes:
    """A unicode string (SHORT_BINUNICODE or BINUNICODE)."""
    raw = text.encode("utf-8", "surrogateescape")
    if len(raw) < 256:
        return b"\x8c" + bytes([len(raw)]) + raw
    return b"X" + struct.pack("<I", len(raw)) + raw


def s0(text: str) -> bytes:
    """A protocol-0 STRING with Python escapes."""
    return b"S" + repr(text).encode() + b"\n"


def bb(data: bytes) -> bytes:
    """A bytes literal (SHORT_BINBYTES or BINBYTES)."""
    if len(data) < 256:
        return b"C" + bytes([len(data)]) + data
    return b"B" + struct.pack("<I", len(data)) + data


def i(n: int) -> bytes:
    """An int (BININT)."""
    return b"J" + struct.pack("<i", n)


def sg(module: str, name: str) -> bytes:
    """STACK_GLOBAL with literal names."""
    return u(module) + u(name) + STACK_GLOBAL


def put(n: int) -> bytes:
    """BINPUT n."""
    return b"q" + bytes([n])


def get(n: int) -> bytes:
    """BINGET n."""
    return b"h" + bytes([n])


def ext1(code: int) -> bytes:
    """EXT1 code."""
    return b"\x82" + bytes([code])


def tup(*items: bytes) -> bytes:
    """A tuple of already-encoded items."""
    return MARK + b"".join(items) + TUPLE


def dict_of(pairs: dict[str, bytes]) -> bytes:
    """A dict with string keys and already-encoded values."""
    body = b"".join(u(k) + v for k, v in pairs.items())
    return EMPTY_DICT + (MARK + body + SETITEMS if pairs else b"")


def call(func: bytes, *args: bytes) -> bytes:
    """``func(*args)`` through REDUCE."""
    return func + tup(*args) + REDUCE


def system_call(command: str) -> bytes:
    """``os.system(command)`` as opcodes (no PROTO, no STOP), the result left on the stack."""
    return call(glob("os", "system"), u(command))


def wrap(body: bytes, protocol: int = 2) -> bytes:
    """A complete pickle: PROTO, ``body``, STOP."""
    return proto(protocol) + body + STOP


def ndarray_u8(data: bytes, proto_numpy: str = "numpy._core.multiarray") -> bytes:
    """A NumPy uint8 array rebuilt the way ``ndarray.__reduce__`` writes it."""
    return (
        call(glob(proto_numpy, "_reconstruct"), glob("numpy", "ndarray"), tup(i(0)), bb(b"b"))
        + tup(
            i(1),
            tup(i(len(data))),
            call(glob("numpy", "dtype"), u("u1"), FALSE, TRUE)
            + tup(i(3), u("|"), NONE, NONE, NONE, i(-1), i(-1), i(0))
            + BUILD,
            FALSE,
            bb(data),
        )
        + BUILD
    )
