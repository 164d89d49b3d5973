"""Lenient streaming decompression: what a loader reads before a stream goes bad.

``pickle.load(gzip.open(f))`` returns at the pickle's STOP, long before ``gzip`` would trip
over a corrupt member, trailing garbage or a truncated end; NumPy reads an ``.npz`` member
through ``zipfile`` the same way. A decoder that raises at the first bad byte would lose the
bytes a loader already executed, so :class:`LenientDecoder` returns everything decoded up to
the bad point (feeding zlib byte by byte near it), then ends, and records what went wrong.
Concatenated streams (gzip members, bzip2 and xz streams) are followed as the standard
library's readers follow them. Once the salvaged bytes are read, the next read raises
:class:`~bastion.errors.MalformedInputError`, so callers that need the whole stream (a CRC
check) still learn that it is damaged.
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Callable
from typing import Any, BinaryIO

from bastion.errors import MalformedInputError

#: Raw bytes fed per step; zlib steps are retried byte by byte after an error.
_STEP = 4096
_FINE = 64
#: Decoded bytes produced per call (a bomb's output never sits in memory at once).
_MAX_OUT = 1 << 20

Factory = Callable[[], Any]

_ERRORS = (zlib.error, OSError, EOFError, ValueError, lzma.LZMAError)


class LenientDecoder:
    """A sequential reader over ``factory()`` decompressors fed from ``raw``.

    ``next_stream`` decides, from the bytes left after a stream ended, whether another stream
    follows (``None``: a single stream, the rest is ignored). ``errors`` collects a sentence
    per problem met (corruption, truncation, trailing garbage).
    """

    def __init__(
        self,
        raw: BinaryIO,
        factory: Factory,
        *,
        next_stream: Callable[[bytes], bool] | None = None,
        errors: list[str] | None = None,
        copyable: bool = False,
    ) -> None:
        self._raw = raw
        self._factory = factory
        self._next = next_stream
        self._errors = errors if errors is not None else []
        self._copyable = copyable
        self._d = factory()
        self._buf = bytearray()
        self._pending = b""
        self._eof = False
        self._produced = 0
        self._failure: str | None = None

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` decoded bytes; ``b""`` at the end (or after a bad point)."""
        want = size if size is not None and size >= 0 else 1 << 62
        while len(self._buf) < want and not self._eof:
            self._step()
        if not self._buf and self._failure is not None and want > 0:
            failure, self._failure = self._failure, None
            raise MalformedInputError(failure)
        data = bytes(self._buf[:want])
        del self._buf[:want]
        return data

    def close(self) -> None:
        """Close the raw stream."""
        self._raw.close()

    def _step(self) -> None:
        if self._holding():
            self._feed(self._d.unconsumed_tail if self._copyable else b"")
        else:
            chunk = self._pending or self._raw.read(_STEP)
            self._pending = b""
            if not chunk:
                if not self._d.eof and self._produced:
                    self._note("the compressed stream is truncated")
                self._eof = True
                return
            self._feed(chunk)
        if self._d.eof and not self._eof:
            self._after_stream()

    def _holding(self) -> bool:
        """The decompressor has input it has not turned into output yet (output capped)."""
        if self._d.eof:
            return False
        if self._copyable:
            return bool(self._d.unconsumed_tail)
        return not self._d.needs_input

    def _feed(self, chunk: bytes) -> None:
        snapshot = self._d.copy() if self._copyable else None
        try:
            self._emit(self._d.decompress(chunk, _MAX_OUT))
            return
        except _ERRORS as exc:
            error = exc
        if snapshot is not None:
            self._d = snapshot
            self._salvage(chunk)
            if self._eof or self._d.eof:
                return
        self._note(f"corrupt compressed data: {error}")
        self._eof = True

    def _salvage(self, chunk: bytes) -> None:
        """Re-feed a chunk that failed in small pieces, then single bytes, keeping the output."""
        step = _FINE
        pos = 0
        while pos < len(chunk):
            piece = chunk[pos : pos + step]
            snapshot = self._d.copy()
            try:
                self._emit(self._d.decompress(piece))
            except _ERRORS as exc:
                if step > 1:
                    self._d = snapshot
                    step = 1
                    continue
                self._note(f"corrupt compressed data: {exc}")
                self._eof = True
                return
            pos += len(piece)
            if self._d.eof:
                self._pending = chunk[pos:]  # the piece's own rest is in unused_data
                return

    def _emit(self, data: bytes) -> None:
        self._buf += data
        self._produced += len(data)

    def _after_stream(self) -> None:
        # NOTE: at the end of a zlib stream unconsumed_tail repeats unused_data.
        rest = self._d.unused_data + self._pending
        self._pending = b""
        if self._next is None:
            self._eof = True
            return
        if len(rest) < 16:
            rest += self._raw.read(_STEP)
        if not rest.strip(b"\x00"):
            self._eof = True  # gzip allows zero padding after the last member
            return
        if not self._next(rest):
            self._note("data after the last compressed stream is not another stream")
            self._failure = None  # loaders stop at the end of the data they need: no error
            self._eof = True
            return
        self._d = self._factory()
        self._pending = rest

    def _note(self, message: str) -> None:
        self._failure = message
        if message not in self._errors:
            self._errors.append(message)


def gzip_decoder(raw: BinaryIO, errors: list[str] | None = None) -> LenientDecoder:
    """gzip, every member (``gzip.GzipFile`` reads them all)."""
    return LenientDecoder(
        raw,
        lambda: zlib.decompressobj(16 + zlib.MAX_WBITS),
        next_stream=lambda rest: rest.lstrip(b"\x00")[:2] == b"\x1f\x8b",
        errors=errors,
        copyable=True,
    )


def bz2_decoder(raw: BinaryIO, errors: list[str] | None = None) -> LenientDecoder:
    """bzip2, every stream (``bz2.BZ2File`` reads them all)."""
    return LenientDecoder(
        raw,
        bz2.BZ2Decompressor,
        next_stream=lambda rest: rest[:3] == b"BZh",
        errors=errors,
    )


def lzma_decoder(raw: BinaryIO, errors: list[str] | None = None) -> LenientDecoder:
    """xz or LZMA 'alone', every stream (``lzma.LZMAFile`` reads them all)."""
    return LenientDecoder(
        raw,
        lambda: lzma.LZMADecompressor(lzma.FORMAT_AUTO),
        next_stream=lambda rest: rest[:6] == b"\xfd7zXZ\x00" or rest[:1] == b"\x5d",
        errors=errors,
    )


def zlib_decoder(
    raw: BinaryIO, errors: list[str] | None = None, *, wbits: int = zlib.MAX_WBITS
) -> LenientDecoder:
    """A single zlib (or raw deflate, ``wbits=-15``) stream; what follows it is ignored."""
    return LenientDecoder(raw, lambda: zlib.decompressobj(wbits), errors=errors, copyable=True)
