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
from dataclasses import dataclass
from typing import BinaryIO

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


def read_op(reader: ByteReader) -> Op | None:
    """Decode the next opcode; ``None`` at a clean end of data."""
    pos = reader.pos
    code = reader.read_byte()
    if code is None:
        return None
    info = _OPS.get(code)
    if info is None:
        raise InvalidOpcodeError(pos, f"invalid opcode byte 0x{code:02x}")
    name = info.name
    arg_desc = info.arg
    if arg_desc is None:
        return Op(name, None, pos)
    kind = arg_desc.name
    arg: object
    if kind == "uint1":
        arg = reader.read(1, name)[0]
    elif kind == "uint2":
        arg = struct.unpack("<H", reader.read(2, name))[0]
    elif kind == "int4":
        arg = struct.unpack("<i", reader.read(4, name))[0]
    elif kind == "uint4":
        arg = struct.unpack("<I", reader.read(4, name))[0]
    elif kind == "uint8":
        arg = struct.unpack("<Q", reader.read(8, name))[0]
    elif kind == "float8":
        arg = struct.unpack(">d", reader.read(8, name))[0]
    elif kind == "decimalnl_short":
        arg = _decode_int_line(reader.readline(name), pos, name)
    elif kind == "decimalnl_long":
        arg = _decode_int_line(reader.readline(name), pos, name)
    elif kind == "floatnl":
        raw = reader.readline(name)
        try:
            arg = float(raw)
        except ValueError as exc:
            raise InvalidOpcodeError(pos, f"FLOAT: {raw[:40]!r}") from exc
    elif kind == "stringnl":
        arg = _decode_stringnl(reader.readline(name), pos)
    elif kind == "stringnl_noescape":
        arg = _text(reader.readline(name))
    elif kind == "stringnl_noescape_pair":
        module = reader.readline(name)
        attr = reader.readline(name)
        arg = (_text(module), _text(attr))
    elif kind == "unicodestringnl":
        arg = reader.readline(name).decode("raw-unicode-escape", "replace")
    elif kind in ("long1", "long4"):
        size = (
            reader.read(1, name)[0]
            if kind == "long1"
            else struct.unpack("<i", reader.read(4, name))[0]
        )
        if size < 0:
            raise InvalidOpcodeError(pos, f"{name}: negative length")
        if size > 1 << 16:
            raise InvalidOpcodeError(pos, f"{name}: {size}-byte integer")
        arg = int.from_bytes(reader.read(size, name), "little", signed=True)
    elif kind in ("string1", "bytes1", "unicodestring1"):
        data = reader.read(reader.read(1, name)[0], name)
        arg = (
            _text(data)
            if kind == "unicodestring1"
            else (data.decode("latin-1") if kind == "string1" else data)
        )
    elif kind in ("string4", "bytes4", "unicodestring4", "bytes8", "bytearray8", "unicodestring8"):
        if kind == "string4":
            size = struct.unpack("<i", reader.read(4, name))[0]
            if size < 0:
                raise InvalidOpcodeError(pos, f"{name}: negative length")
        elif kind in ("bytes4", "unicodestring4"):
            size = struct.unpack("<I", reader.read(4, name))[0]
        else:
            size = struct.unpack("<Q", reader.read(8, name))[0]
        data_or_big = reader.read_big(size, name)
        if isinstance(data_or_big, BigBytes):
            arg = data_or_big
        elif kind.startswith("unicodestring"):
            arg = _text(data_or_big)
        elif kind == "string4":
            arg = data_or_big.decode("latin-1")
        else:
            arg = data_or_big
    else:  # pragma: no cover - every kind in pickletools is handled above
        raise InvalidOpcodeError(pos, f"unhandled argument kind {kind}")
    return Op(name, arg, pos)
