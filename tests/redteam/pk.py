"""A pickle assembler for red-team samples: exact opcode sequences, nothing is ever unpickled.

Every helper returns bytes. String arguments of payload calls come from
``tests.conftest.inert_command`` (or are marker paths), so even a loader that ran a sample could
only create a marker file under the test's temporary directory.
"""

from __future__ import annotations

from tests.formats.pickle.asm import (
    APPEND,
    BUILD,
    EMPTY_DICT,
    EMPTY_LIST,
    EMPTY_TUPLE,
    MARK,
    MEMOIZE,
    NEWOBJ,
    NEWOBJ_EX,
    NONE,
    POP,
    REDUCE,
    SETITEM,
    STOP,
    TUPLE,
    TUPLE1,
    TUPLE2,
    TUPLE3,
    frame,
    get,
    glob,
    i,
    proto,
    put,
    s0,
    u,
)
from tests.formats.pickle.asm import b as bb
from tests.formats.pickle.asm import stack_global as sg

POP_MARK = b"1"
DUP = b"2"
TRUE = b"\x88"
FALSE = b"\x89"
LIST = b"l"
DICT = b"d"
OBJ = b"o"
SETITEMS = b"u"
APPENDS = b"e"
STACK_GLOBAL = b"\x93"
BINPERSID = b"Q"
NEXT_BUFFER = b"\x97"

__all__ = [
    "APPEND", "APPENDS", "BINPERSID", "BUILD", "DICT", "DUP", "EMPTY_DICT", "EMPTY_LIST",
    "EMPTY_TUPLE", "FALSE", "LIST", "MARK", "MEMOIZE", "NEWOBJ", "NEWOBJ_EX", "NEXT_BUFFER",
    "NONE", "OBJ", "POP", "POP_MARK", "REDUCE", "SETITEM", "SETITEMS", "STACK_GLOBAL", "STOP",
    "TRUE", "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3", "bb", "call", "dict_of", "ext1", "frame",
    "get", "glob", "i", "inst", "ndarray_u8", "proto", "put", "s0", "sg", "system_call", "tup",
    "u", "wrap",
]  # fmt: skip


def inst(module: str, name: str) -> bytes:
    """INST module name (the arguments since the last MARK are passed to the class)."""
    return b"i" + module.encode() + b"\n" + name.encode() + b"\n"


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
