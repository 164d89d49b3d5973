"""A small pickle assembler: write opcode streams by hand, for any protocol.

``pickle.dumps`` only writes what Python objects reduce to; attacks use opcode sequences no
pickler emits (``INST`` with an arbitrary callable, ``STACK_GLOBAL`` on computed strings, a
broken stream after the payload). The assembler writes exactly the opcodes asked for, choosing
the encodings the given protocol allows, and never runs anything.

>>> Asm(2).call("os", "system", "true").stop().bytes()[:4]
b'\\x80\\x02cos'
"""

from __future__ import annotations

import struct
from typing import Union

Scalar = str | bytes | int | bool | None | float
Item = Union[Scalar, "list[Item]", "tuple[Item, ...]", "dict[str, Item]", "Ref"]


class Ref:
    """A value already pushed by other means (``Asm.push`` leaves it alone): a memo slot."""

    def __init__(self, memo: int) -> None:
        self.memo = memo


class Asm:
    """Builds one opcode stream; every method appends opcodes and returns ``self``."""

    def __init__(self, protocol: int, *, header: bool = True) -> None:
        if not 0 <= protocol <= 5:
            raise ValueError(f"pickle protocol {protocol} does not exist")
        self.protocol = protocol
        self._out = bytearray()
        self._memo = 0
        if header and protocol >= 2:
            self._out += b"\x80" + bytes([protocol])

    # -- output -------------------------------------------------------------------------------

    def bytes(self) -> bytes:
        """The stream written so far."""
        return bytes(self._out)

    def raw(self, data: bytes) -> Asm:
        """Append bytes verbatim (a malformed tail, another stream)."""
        self._out += data
        return self

    def framed(self) -> bytes:
        """The stream with everything after ``PROTO`` in one protocol-4 ``FRAME``."""
        if self.protocol < 4:
            raise ValueError("frames exist from protocol 4 on")
        body = bytes(self._out[2:])
        return bytes(self._out[:2]) + b"\x95" + struct.pack("<Q", len(body)) + body

    # -- structure ----------------------------------------------------------------------------

    def stop(self) -> Asm:
        """``STOP``."""
        return self.raw(b".")

    def mark(self) -> Asm:
        """``MARK``."""
        return self.raw(b"(")

    def pop(self) -> Asm:
        """``POP``."""
        return self.raw(b"0")

    def dup(self) -> Asm:
        """``DUP``."""
        return self.raw(b"2")

    def reduce(self) -> Asm:
        """``REDUCE``: call the callable under the argument tuple on top."""
        return self.raw(b"R")

    def build(self) -> Asm:
        """``BUILD``: apply the state on top to the object under it."""
        return self.raw(b"b")

    def newobj(self) -> Asm:
        """``NEWOBJ`` (protocol 2): ``cls.__new__(cls, *args)``."""
        return self.raw(b"\x81")

    def newobj_ex(self) -> Asm:
        """``NEWOBJ_EX`` (protocol 4): ``cls.__new__(cls, *args, **kwargs)``."""
        return self.raw(b"\x92")

    def obj(self) -> Asm:
        """``OBJ`` (protocol 1): call the class after the mark with the items above it."""
        return self.raw(b"o")

    def inst(self, module: str, name: str) -> Asm:
        """``INST`` (protocol 0): import ``module.name`` and call it with the marked items."""
        return self.raw(b"i" + module.encode() + b"\n" + name.encode() + b"\n")

    def tuple_from_mark(self) -> Asm:
        """``TUPLE``: the items since the last mark."""
        return self.raw(b"t")

    def list_from_mark(self) -> Asm:
        """``LIST``: the items since the last mark."""
        return self.raw(b"l")

    def dict_from_mark(self) -> Asm:
        """``DICT``: the key/value pairs since the last mark."""
        return self.raw(b"d")

    def setitem(self) -> Asm:
        """``SETITEM``."""
        return self.raw(b"s")

    def ext1(self, code: int) -> Asm:
        """``EXT1``: a global from the copyreg extension registry."""
        return self.raw(b"\x82" + bytes([code]))

    def ext2(self, code: int) -> Asm:
        """``EXT2``: a global from the copyreg extension registry."""
        return self.raw(b"\x83" + struct.pack("<H", code))

    # -- globals ------------------------------------------------------------------------------

    def glob(self, module: str, name: str) -> Asm:
        """``GLOBAL``: ``module.name`` written in the opcode."""
        return self.raw(b"c" + module.encode() + b"\n" + name.encode() + b"\n")

    def stack_glob(self, module: str | None = None, name: str | None = None) -> Asm:
        """``STACK_GLOBAL`` (protocol 4), pushing ``module`` and ``name`` first when given."""
        if module is not None:
            self.string(module)
        if name is not None:
            self.string(name)
        return self.raw(b"\x93")

    def callable(self, module: str, name: str) -> Asm:
        """Push a global the way this protocol's pickler would (``STACK_GLOBAL`` from 4)."""
        if self.protocol >= 4:
            return self.stack_glob(module, name)
        return self.glob(module, name)

    # -- values -------------------------------------------------------------------------------

    def string(self, text: str) -> Asm:
        """Push a ``str`` in the encoding this protocol uses."""
        data = text.encode("utf-8")
        if self.protocol == 0:
            escaped = text.encode("raw-unicode-escape").replace(b"\\", b"\\u005c")
            return self.raw(b"V" + escaped.replace(b"\n", b"\\u000a") + b"\n")
        if self.protocol >= 4 and len(data) < 256:
            return self.raw(b"\x8c" + bytes([len(data)]) + data)
        return self.raw(b"X" + struct.pack("<I", len(data)) + data)

    def byte_string(self, data: bytes) -> Asm:
        """Push ``bytes`` (protocol 3+; older protocols go through ``_codecs.encode``)."""
        if self.protocol >= 3:
            if len(data) < 256:
                return self.raw(b"C" + bytes([len(data)]) + data)
            return self.raw(b"B" + struct.pack("<I", len(data)) + data)
        self.glob("_codecs", "encode")
        return self.tuple([data.decode("latin-1"), "latin1"]).reduce()

    def integer(self, value: int) -> Asm:
        """Push an ``int``."""
        if self.protocol == 0 or not -(2**31) <= value < 2**31:
            return self.raw(b"I" + str(value).encode() + b"\n")
        if 0 <= value < 256:
            return self.raw(b"K" + bytes([value]))
        return self.raw(b"J" + struct.pack("<i", value))

    def boolean(self, value: bool) -> Asm:
        """Push a ``bool``."""
        if self.protocol >= 2:
            return self.raw(b"\x88" if value else b"\x89")
        return self.raw(b"I01\n" if value else b"I00\n")

    def none(self) -> Asm:
        """Push ``None``."""
        return self.raw(b"N")

    def push(self, item: Item) -> Asm:
        """Push a value of any supported shape (containers built from their items)."""
        if isinstance(item, Ref):
            return self.get(item.memo)
        if item is None:
            return self.none()
        if isinstance(item, bool):
            return self.boolean(item)
        if isinstance(item, int):
            return self.integer(item)
        if isinstance(item, float):
            return self.raw(b"G" + struct.pack(">d", item))
        if isinstance(item, str):
            return self.string(item)
        if isinstance(item, bytes):
            return self.byte_string(item)
        if isinstance(item, tuple):
            return self.tuple(list(item))
        if isinstance(item, list):
            self.mark()
            for element in item:
                self.push(element)
            return self.list_from_mark()
        self.mark()
        for key, value in item.items():
            self.push(key)
            self.push(value)
        return self.dict_from_mark()

    def tuple(self, items: list[Item]) -> Asm:
        """Push a tuple of ``items`` (``TUPLE1..3`` from protocol 2)."""
        if not items and self.protocol >= 1:
            return self.raw(b")")
        if self.protocol >= 2 and len(items) <= 3:
            for element in items:
                self.push(element)
            return self.raw(b"\x85\x86\x87"[len(items) - 1 : len(items)])
        self.mark()
        for element in items:
            self.push(element)
        return self.tuple_from_mark()

    # -- memo ---------------------------------------------------------------------------------

    def put(self, index: int | None = None) -> Asm:
        """Store the top of the stack in the memo (``PUT``/``BINPUT``/``MEMOIZE``)."""
        if index is None and self.protocol >= 4:
            self._memo += 1
            return self.raw(b"\x94")
        slot = self._memo if index is None else index
        self._memo = max(self._memo, slot + 1)
        if self.protocol == 0:
            return self.raw(b"p" + str(slot).encode() + b"\n")
        if slot < 256:
            return self.raw(b"q" + bytes([slot]))
        return self.raw(b"r" + struct.pack("<I", slot))

    def next_memo(self) -> int:
        """The memo index the next :meth:`put` without an index will use."""
        return self._memo

    def get(self, index: int) -> Asm:
        """Push a memo entry (``GET``/``BINGET``/``LONG_BINGET``)."""
        if self.protocol == 0:
            return self.raw(b"g" + str(index).encode() + b"\n")
        if index < 256:
            return self.raw(b"h" + bytes([index]))
        return self.raw(b"j" + struct.pack("<I", index))

    # -- composite ----------------------------------------------------------------------------

    def call(self, module: str, name: str, *args: Item) -> Asm:
        """Push the result of ``module.name(*args)`` (global, argument tuple, ``REDUCE``)."""
        self.callable(module, name)
        return self.tuple(list(args)).reduce()

    def call_top(self, *args: Item) -> Asm:
        """Call the callable already on top of the stack with ``args``."""
        return self.tuple(list(args)).reduce()
