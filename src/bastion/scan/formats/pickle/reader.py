"""Bounded pickle opcode decoding on top of :mod:`pickletools`' opcode table.

:func:`pickletools.genops` reads every argument whole, so a declared 8 GB ``BINBYTES8`` would be
allocated before anything could object. This decoder uses the same opcode table (names, argument
kinds, protocols) but reads through a buffered :class:`ByteReader` that keeps only a prefix of
large byte strings and records where they lie, so a nested payload can be re-read later.
"""

from __future__ import annotations

import codecs
import io
import pickletools
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO, cast

from bastion.errors import AnalysisLimitError, MalformedInputError

#: Large byte strings keep this many bytes in memory; the rest is skipped (offset recorded).
INLINE_BYTES = 1 << 20
#: Longest newline-terminated argument (GLOBAL names, protocol-0 strings) accepted.
MAX_LINE = 1 << 20

_OPS: dict[int, pickletools.OpcodeInfo] = {ord(op.code): op for op in pickletools.opcodes}


class TruncatedError(Exception):
    """The stream ended inside an opcode."""

    def __init__(self, pos: int, what: str) -> None:
        super().__init__(f"stream ends at offset {pos} inside {what}")
        self.pos = pos


class InvalidOpcodeError(Exception):
    """A byte that is not a pickle opcode, or an argument that does not decode."""

    def __init__(self, pos: int, detail: str) -> None:
        super().__init__(f"offset {pos}: {detail}")
        self.pos = pos
        self.detail = detail


@dataclass(frozen=True, slots=True)
class BigBytes:
    """A byte string too large to keep: its first bytes, full length, and absolute offset."""

    prefix: bytes
    length: int
    offset: int


class ByteReader:
    """Buffered sequential reader with an absolute position and cheap skipping."""

    __slots__ = ("_buf", "_chunk", "_end", "_eof", "_i", "_limit", "_stream", "base")

    def __init__(
        self, stream: BinaryIO, base: int = 0, limit: int = 1 << 62, chunk: int = 1 << 20
    ) -> None:
        self._stream = stream
        self._chunk = chunk
        self._buf = b""
        self._i = 0
        self._eof = False
        self.base = base  # absolute offset of _buf[0]
        self._limit = limit
        self._end = base + limit

    @property
    def pos(self) -> int:
        """Absolute offset of the next byte."""
        return self.base + self._i

    def _fill(self, need: int) -> bool:
        while len(self._buf) - self._i < need and not self._eof:
            try:
                chunk = self._stream.read(max(need, self._chunk))
            except MalformedInputError:
                # NOTE: a damaged container (corrupt compressed data) ends the stream here;
                # the loader has executed everything before, so that is still analyzed.
                chunk = b""
            if not chunk:
                self._eof = True
                break
            self.base += self._i
            self._buf = self._buf[self._i :] + chunk
            self._i = 0
        if self.pos >= self._end:
            raise AnalysisLimitError("pickle-size", f"pickle data exceeds {self._limit} bytes")
        return len(self._buf) - self._i >= need

    def at_eof(self) -> bool:
        """No more bytes."""
        return not self._fill(1)

    def peek(self, n: int) -> bytes:
        """Up to ``n`` next bytes without consuming them."""
        self._fill(n)
        return self._buf[self._i : self._i + n]

    def read(self, n: int, what: str = "argument") -> bytes:
        """Exactly ``n`` bytes or :class:`TruncatedError`."""
        if not self._fill(n):
            raise TruncatedError(self.pos, what)
        data = self._buf[self._i : self._i + n]
        self._i += n
        return data

    def read_byte(self) -> int | None:
        """One byte, or ``None`` at the end."""
        if self._i >= len(self._buf) and not self._fill(1):
            return None
        value = self._buf[self._i]
        self._i += 1
        return value

    def readline(self, what: str) -> bytes:
        """Bytes up to and including a newline (returned without it)."""
        while True:
            nl = self._buf.find(b"\n", self._i)
            if nl >= 0:
                line = self._buf[self._i : nl]
                self._i = nl + 1
                return line
            if len(self._buf) - self._i > MAX_LINE:
                raise InvalidOpcodeError(self.pos, f"{what}: line longer than {MAX_LINE} bytes")
            if not self._fill(len(self._buf) - self._i + 1):
                raise TruncatedError(self.pos, what)

    def read_big(self, n: int, what: str) -> bytes | BigBytes:
        """``n`` bytes; beyond :data:`INLINE_BYTES` only a prefix is kept and the rest skipped."""
        if n <= INLINE_BYTES:
            return self.read(n, what)
        offset = self.pos
        prefix = self.read(4096, what)
        self.skip(n - 4096, what)
        return BigBytes(prefix, n, offset)

    def skip(self, n: int, what: str = "data") -> None:
        """Consume ``n`` bytes without keeping them."""
        if n >= 1 << 62:  # no file holds that much; seeking that far overflows
            raise TruncatedError(self.pos, f"{what} ({n} bytes)")
        # NOTE: the size bound is on bytes parsed as opcodes; skipped literal or array data costs
        # a seek, and counting it would let a large literal end the analysis before a payload.
        self._end += n
        avail = len(self._buf) - self._i
        if n <= avail:
            self._i += n
            return
        n -= avail
        self.base += len(self._buf)
        self._buf = b""
        self._i = 0
        try:
            target = self._stream.seek(n, io.SEEK_CUR)
            # NOTE: seeking past the end is allowed by files; confirm the data really exists.
            end = self._stream.seek(0, io.SEEK_END)
            self._stream.seek(min(target, end))
            if target > end:
                self.base += end - (target - n)
                self._eof = True
                raise TruncatedError(self.base, what)
            self.base += n
        except (OSError, io.UnsupportedOperation, AttributeError):
            while n > 0:
                chunk = self._stream.read(min(n, 1 << 22))
                if not chunk:
                    raise TruncatedError(self.base, what) from None
                n -= len(chunk)
                self.base += len(chunk)
        if self.pos > self._end:
            raise AnalysisLimitError("pickle-size", f"pickle data exceeds {self._limit} bytes")


@dataclass(frozen=True, slots=True)
class Op:
    """One decoded opcode: its name, argument and absolute offset."""

    name: str
    arg: object
    pos: int


def _decode_stringnl(raw: bytes, pos: int) -> str:
    # Protocol-0 STRING: a Python bytes literal in quotes, escapes allowed.
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[:1] in (b"'", b'"'):
        try:
            return codecs.escape_decode(raw[1:-1])[0].decode("latin-1")
        except ValueError as exc:
            raise InvalidOpcodeError(pos, f"bad STRING escape: {exc}") from exc
    raise InvalidOpcodeError(pos, "STRING argument is not quoted")


def _decode_int_line(raw: bytes, pos: int, what: str) -> int | bool:
    text = raw.rstrip(b"L")
    if raw == b"00":
        return False
    if raw == b"01":
        return True
    try:
        return int(text)
    except ValueError as exc:
        raise InvalidOpcodeError(pos, f"{what}: {raw[:40]!r} is not an integer") from exc


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


_U16 = struct.Struct("<H")
_I32 = struct.Struct("<i")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_F64 = struct.Struct(">d")

ArgReader = Callable[[ByteReader, int, str], object]


def _fixed(unpack: struct.Struct) -> ArgReader:
    size = unpack.size

    def read(reader: ByteReader, pos: int, name: str) -> object:
        return unpack.unpack(reader.read(size, name))[0]

    return read


def _uint1(reader: ByteReader, pos: int, name: str) -> object:
    return reader.read(1, name)[0]


def _int_line(reader: ByteReader, pos: int, name: str) -> object:
    return _decode_int_line(reader.readline(name), pos, name)


def _float_line(reader: ByteReader, pos: int, name: str) -> object:
    raw = reader.readline(name)
    try:
        return float(raw)
    except ValueError as exc:
        raise InvalidOpcodeError(pos, f"FLOAT: {raw[:40]!r}") from exc


def _stringnl(reader: ByteReader, pos: int, name: str) -> object:
    return _decode_stringnl(reader.readline(name), pos)


def _stringnl_noescape(reader: ByteReader, pos: int, name: str) -> object:
    return _text(reader.readline(name))


def _stringnl_pair(reader: ByteReader, pos: int, name: str) -> object:
    module = reader.readline(name)
    attr = reader.readline(name)
    return (_text(module), _text(attr))


def _unicodestringnl(reader: ByteReader, pos: int, name: str) -> object:
    return reader.readline(name).decode("raw-unicode-escape", "replace")


def _long(size_reader: ArgReader) -> ArgReader:
    def read(reader: ByteReader, pos: int, name: str) -> object:
        size = cast(int, size_reader(reader, pos, name))
        if size < 0:
            raise InvalidOpcodeError(pos, f"{name}: negative length")
        if size > 1 << 16:
            raise InvalidOpcodeError(pos, f"{name}: {size}-byte integer")
        return int.from_bytes(reader.read(size, name), "little", signed=True)

    return read


def _counted(size_reader: ArgReader, decode: Callable[[bytes], object], signed: bool) -> ArgReader:
    def read(reader: ByteReader, pos: int, name: str) -> object:
        size = cast(int, size_reader(reader, pos, name))
        if signed and size < 0:
            raise InvalidOpcodeError(pos, f"{name}: negative length")
        data = reader.read_big(size, name)
        return data if isinstance(data, BigBytes) else decode(data)

    return read


def _short(decode: Callable[[bytes], object]) -> ArgReader:
    def read(reader: ByteReader, pos: int, name: str) -> object:
        return decode(reader.read(reader.read(1, name)[0], name))

    return read


def _latin1(data: bytes) -> object:
    return data.decode("latin-1")


def _same(data: bytes) -> object:
    return data


_ARG_READERS: dict[str, ArgReader] = {
    "uint1": _uint1,
    "uint2": _fixed(_U16),
    "int4": _fixed(_I32),
    "uint4": _fixed(_U32),
    "uint8": _fixed(_U64),
    "float8": _fixed(_F64),
    "decimalnl_short": _int_line,
    "decimalnl_long": _int_line,
    "floatnl": _float_line,
    "stringnl": _stringnl,
    "stringnl_noescape": _stringnl_noescape,
    "stringnl_noescape_pair": _stringnl_pair,
    "unicodestringnl": _unicodestringnl,
    "long1": _long(_uint1),
    "long4": _long(_fixed(_I32)),
    "string1": _short(_latin1),
    "bytes1": _short(_same),
    "unicodestring1": _short(_text),
    "string4": _counted(_fixed(_I32), _latin1, signed=True),
    "bytes4": _counted(_fixed(_U32), _same, signed=False),
    "unicodestring4": _counted(_fixed(_U32), _text, signed=False),
    "bytes8": _counted(_fixed(_U64), _same, signed=False),
    "bytearray8": _counted(_fixed(_U64), _same, signed=False),
    "unicodestring8": _counted(_fixed(_U64), _text, signed=False),
}

#: Opcode byte → (name, argument reader or None): one lookup per opcode.
_DECODE: dict[int, tuple[str, ArgReader | None]] = {
    code: (info.name, _ARG_READERS[info.arg.name] if info.arg is not None else None)
    for code, info in _OPS.items()
}


def read_op(reader: ByteReader) -> Op | None:
    """Decode the next opcode; ``None`` at a clean end of data."""
    pos = reader.pos
    code = reader.read_byte()
    if code is None:
        return None
    entry = _DECODE.get(code)
    if entry is None:
        raise InvalidOpcodeError(pos, f"invalid opcode byte 0x{code:02x}")
    name, read_arg = entry
    if read_arg is None:
        return Op(name, None, pos)
    return Op(name, read_arg(reader, pos, name), pos)
