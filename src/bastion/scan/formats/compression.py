"""Compressed streams (gzip, bzip2, xz, lzma, zlib, zstd, lz4, old joblib ``ZF``).

The decompressed bytes are a new artifact, detected by content and analyzed like any other: a
``model.pkl.gz`` is a pickle, a ``model.tar.gz`` a tar, a ``joblib.dump(..., compress=3)`` a
zlib-wrapped pickle. Decompression is streamed and bounded (size and ratio), never written out.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import posixpath
import zlib
from collections.abc import Callable
from typing import BinaryIO

from bastion.core import ArtifactKind, SkipReason
from bastion.errors import AnalysisLimitError, MalformedInputError
from bastion.scan.blob import Blob, Readable, StreamBlob
from bastion.scan.formats.archive import ARCHIVE_BOMB
from bastion.scan.interface import AnalysisContext, Analyzer

_SUFFIXES = (".gz", ".gzip", ".bz2", ".xz", ".lzma", ".z", ".zlib", ".zst", ".lz4", ".tgz")


class _ZlibReader:
    """Sequential zlib (or raw deflate) inflater over a stream."""

    def __init__(self, raw: BinaryIO, skip: int = 0) -> None:
        self._raw = raw
        if skip:
            raw.read(skip)
        self._d = zlib.decompressobj()
        self._buf = b""
        self._eof = False

    def read(self, size: int = -1) -> bytes:
        want = size if size is not None and size >= 0 else 1 << 62
        while len(self._buf) < want and not self._eof:
            chunk = self._raw.read(1 << 16)
            if not chunk:
                self._eof = True
                self._buf += self._d.flush()
                break
            try:
                self._buf += self._d.decompress(chunk)
            except zlib.error as exc:
                raise MalformedInputError(f"corrupt zlib stream: {exc}") from exc
            if self._d.eof:
                self._eof = True
        data, self._buf = self._buf[:want], self._buf[want:]
        return data

    def close(self) -> None:
        self._raw.close()


class _Guarded:
    """Turns a decompressor's own errors into :class:`MalformedInputError`."""

    def __init__(self, inner: Readable, raw: Readable | None = None) -> None:
        self._inner = inner
        self._raw = raw

    def read(self, size: int = -1) -> bytes:
        try:
            return self._inner.read(size)
        except (OSError, EOFError, lzma.LZMAError, zlib.error, ValueError) as exc:
            raise MalformedInputError(f"corrupt compressed stream: {exc}") from exc

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            if self._raw is not None:
                self._raw.close()


def _wrap(make: Callable[[BinaryIO], Readable], blob: Blob) -> Readable:
    raw = blob.open()
    try:
        return _Guarded(make(raw), raw)
    except BaseException:
        raw.close()
        raise


def _opener(fmt: str, blob: Blob) -> Callable[[], Readable] | str:
    """A factory of fresh decompressing streams, or the reason there is none."""
    if fmt == "gzip":
        return lambda: _wrap(lambda raw: gzip.GzipFile(fileobj=raw, mode="rb"), blob)
    if fmt == "bzip2":
        return lambda: _wrap(lambda raw: bz2.BZ2File(raw, mode="rb"), blob)
    if fmt in ("xz", "lzma"):
        return lambda: _wrap(lambda raw: lzma.LZMAFile(raw, mode="rb"), blob)
    if fmt == "zlib":
        return lambda: _ZlibReader(blob.open())
    if fmt == "joblib-zfile":
        return lambda: _ZlibReader(blob.open(), skip=_zfile_header(blob))
    if fmt == "zstd":
        try:
            from compression import zstd  # type: ignore[import-not-found]

            return lambda: _wrap(zstd.ZstdFile, blob)
        except ImportError:
            pass
        try:
            from backports import zstd as bzstd

            return lambda: _wrap(bzstd.ZstdFile, blob)
        except ImportError:
            return "zstd streams need Python 3.14 or the backports.zstd package"
    if fmt == "lz4":
        try:
            import lz4.frame
        except ImportError:
            return "lz4 streams need the lz4 package"
        return lambda: _wrap(lz4.frame.LZ4FrameFile, blob)
    return f"no decompressor for {fmt}"


def _zfile_header(blob: Blob) -> int:
    # Old joblib: b"ZF" then the uncompressed length as hex, padded to a fixed width.
    head = blob.head(64)
    pos = 2
    while pos < len(head) and head[pos : pos + 1] in b"0123456789abcdefxX ":
        pos += 1
    return pos


def inner_name(name: str, fmt: str) -> str:
    """The decompressed member's name: ``model.pkl.gz`` → ``model.pkl``."""
    base = posixpath.basename(name)
    lower = base.lower()
    if lower.endswith(".tgz"):
        return base[:-4] + ".tar"
    for suffix in _SUFFIXES:
        if lower.endswith(suffix) and len(base) > len(suffix):
            return base[: -len(suffix)]
    return f"<{fmt}>"


class CompressionAnalyzer(Analyzer):
    """Decompresses (bounded) and dispatches the content."""

    name = "compression"
    formats = ("gzip", "bzip2", "xz", "lzma", "zlib", "zstd", "lz4", "joblib-zfile")
    rules = (ARCHIVE_BOMB,)
    kind = ArtifactKind.ARCHIVE

    def analyze(self, blob: Blob, ctx: AnalysisContext) -> None:
        """Stream the decompressed bytes into the normal detection and analysis."""
        fmt = ctx.format
        opener = _opener(fmt, blob)
        if isinstance(opener, str):
            ctx.skip(SkipReason.MISSING_DEPENDENCY, opener, format=fmt)
            return
        compressed = blob.size or 0
        limit = min(
            ctx.limits.max_member_bytes,
            max(compressed, 1) * ctx.limits.max_compression_ratio + (64 << 20),
        )
        inner = StreamBlob(opener, limit)
        try:
            inner.head(64)
        except AnalysisLimitError:
            pass
        except MalformedInputError as exc:
            ctx.skip(SkipReason.MALFORMED, f"{fmt}: {exc}", format=fmt)
            return
        before = len(ctx.sink.skipped)
        ctx.dispatch(inner, inner_name(ctx.name, fmt))
        for skipped in ctx.sink.skipped[before:]:
            if skipped.reason is SkipReason.LIMIT and "decompressed-size" in skipped.detail:
                ctx.report(
                    ARCHIVE_BOMB.finding(
                        ctx.location(),
                        f"Decompressing the {fmt} stream exceeds {limit} bytes "
                        f"({compressed} compressed).",
                        evidence=fmt,
                    )
                )
                break
