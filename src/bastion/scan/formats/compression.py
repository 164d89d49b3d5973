"""Compressed streams (gzip, bzip2, xz, lzma, zlib, zstd, lz4, old joblib ``ZF``).

The decompressed bytes are a new artifact, detected by content and analyzed like any other: a
``model.pkl.gz`` is a pickle, a ``model.tar.gz`` a tar, a ``joblib.dump(..., compress=3)`` a
zlib-wrapped pickle. Decompression is streamed and bounded (size and ratio), never written out.
"""

from __future__ import annotations

import lzma
import posixpath
import zlib
from collections.abc import Callable
from typing import BinaryIO

from bastion.core import ArtifactKind, SkipReason
from bastion.errors import AnalysisLimitError, MalformedInputError
from bastion.scan.blob import Blob, Readable, StreamBlob
from bastion.scan.formats.archive import ARCHIVE_BOMB, too_deep
from bastion.scan.formats.decoders import bz2_decoder, gzip_decoder, lzma_decoder, zlib_decoder
from bastion.scan.interface import AnalysisContext, Analyzer

_SUFFIXES = (".gz", ".gzip", ".bz2", ".xz", ".lzma", ".z", ".zlib", ".zst", ".lz4", ".tgz")


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


def _opener(fmt: str, blob: Blob, errors: list[str]) -> Callable[[], Readable] | str:
    """A factory of fresh decompressing streams, or the reason there is none.

    gzip, bzip2, xz/lzma and zlib are decoded leniently (:mod:`.decoders`): what a loader
    reads before a damaged or truncated point is what gets analyzed; ``errors`` says what broke.
    """
    if fmt == "gzip":
        return lambda: gzip_decoder(blob.open(), errors)
    if fmt == "bzip2":
        return lambda: bz2_decoder(blob.open(), errors)
    if fmt in ("xz", "lzma"):
        return lambda: lzma_decoder(blob.open(), errors)
    if fmt == "zlib":
        return lambda: zlib_decoder(blob.open(), errors)
    if fmt == "joblib-zfile":
        return lambda: zlib_decoder(_skipped(blob, _zfile_header(blob)), errors)
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


def _skipped(blob: Blob, count: int) -> BinaryIO:
    stream = blob.open()
    stream.read(count)
    return stream


def _zfile_header(blob: Blob) -> int:
    # Old joblib: b"ZF", the uncompressed length in hex left-justified to 19 characters, and
    # one more space from old Python 2 writers (joblib's read_zfile skips exactly that).
    return zfile_data_offset(blob.head(64))


def zfile_data_offset(head: bytes) -> int:
    """Where the zlib data of an old joblib ``ZF`` file starts."""
    return 22 if head[21:22] == b" " else 21


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
        errors: list[str] = []
        opener = _opener(fmt, blob, errors)
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
        if too_deep(ctx, inner_name(ctx.name, fmt)):
            return
        ctx.dispatch(inner, inner_name(ctx.name, fmt))
        if errors:
            ctx.skip(
                SkipReason.MALFORMED,
                f"{fmt}: {'; '.join(errors)} (the data before it was analyzed)",
                format=fmt,
            )
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
