"""Byte sources an analyzer reads from: a file, a slice of one, bytes in memory, or a stream.

Analyzers never see paths or open files themselves. A :class:`Blob` gives random access where the
bytes allow it (files, stored archive members) and a fresh sequential stream otherwise
(decompressed data), so the cost of a scan follows the metadata read, not the size of the weights.
"""

from __future__ import annotations

import io
import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import BinaryIO, Protocol

from bastion.errors import AnalysisLimitError

HEAD_BYTES = 4096


class Readable(Protocol):
    """The little a decompressing stream must offer."""

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes (all when negative)."""
        ...

    def close(self) -> None:
        """Release resources."""
        ...


class Blob(ABC):
    """A readable byte source of (possibly unknown) size."""

    _head: bytes | None = None

    @property
    @abstractmethod
    def size(self) -> int | None:
        """Length in bytes, or ``None`` when only a stream can tell (compressed data)."""

    @abstractmethod
    def open(self) -> BinaryIO:
        """A new stream positioned at the start; the caller closes it."""

    def read_at(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes from ``offset`` (fewer at the end)."""
        with self.open() as stream:
            if offset:
                skip_bytes(stream, offset)
            return stream.read(length)

    def head(self, length: int = HEAD_BYTES) -> bytes:
        """The first bytes, cached: what format detection looks at."""
        if self._head is None or (len(self._head) < length and len(self._head) == HEAD_BYTES):
            self._head = self.read_at(0, max(length, HEAD_BYTES))
        return self._head[:length]

    def close(self) -> None:  # noqa: B027 - optional hook, most blobs hold nothing open
        """Release any handle held open for random access."""


def skip_bytes(stream: BinaryIO, count: int) -> None:
    """Advance a stream by ``count`` bytes, seeking where it can."""
    try:
        stream.seek(count, io.SEEK_CUR)
    except (OSError, io.UnsupportedOperation):
        while count > 0:
            chunk = stream.read(min(count, 1 << 20))
            if not chunk:
                return
            count -= len(chunk)


class FileBlob(Blob):
    """A file on disk, read with ``pread`` so slices need no extra handles."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._size = os.stat(self.path).st_size
        self._fd: int | None = None

    @property
    def size(self) -> int:
        """File size at the time the blob was made."""
        return self._size

    def _handle(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        return self._fd

    def read_at(self, offset: int, length: int) -> bytes:
        """Positional read; never moves a shared file offset."""
        if length <= 0 or offset >= self._size:
            return b""
        length = min(length, self._size - offset)
        fd = self._handle()
        parts: list[bytes] = []
        while length > 0:
            chunk = os.pread(fd, min(length, 1 << 24), offset)
            if not chunk:
                break
            parts.append(chunk)
            offset += len(chunk)
            length -= len(chunk)
        return b"".join(parts)

    def open(self) -> BinaryIO:
        """A buffered stream over the file."""
        return open(self.path, "rb")

    def close(self) -> None:
        """Close the positional-read handle."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class BytesBlob(Blob):
    """Bytes already in memory (a small decompressed member, a nested payload)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    @property
    def size(self) -> int:
        """Length of the bytes."""
        return len(self.data)

    def read_at(self, offset: int, length: int) -> bytes:
        """A slice of the bytes."""
        return self.data[offset : offset + max(length, 0)]

    def open(self) -> BinaryIO:
        """A :class:`io.BytesIO` over the bytes."""
        return io.BytesIO(self.data)


class SliceBlob(Blob):
    """A window ``[start, start + length)`` of another blob (a stored archive member)."""

    def __init__(self, parent: Blob, start: int, length: int) -> None:
        self.parent = parent
        self.start = start
        self.length = max(0, length)

    @property
    def size(self) -> int:
        """Window length."""
        return self.length

    def read_at(self, offset: int, length: int) -> bytes:
        """Read inside the window only."""
        if offset >= self.length or length <= 0:
            return b""
        return self.parent.read_at(self.start + offset, min(length, self.length - offset))

    def open(self) -> BinaryIO:
        """A buffered, seekable stream over the window."""
        return io.BufferedReader(_WindowIO(self), buffer_size=1 << 16)


class _WindowIO(io.RawIOBase):
    """Raw, seekable reader over a :class:`SliceBlob`."""

    def __init__(self, blob: SliceBlob) -> None:
        self._blob = blob
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._blob.length}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._blob.read_at(self._pos, len(buffer))
        n = len(data)
        buffer[:n] = data
        self._pos += n
        return n


class StreamBlob(Blob):
    """Bytes only a stream can produce (decompressed data); every :meth:`open` starts over.

    ``opener`` returns a fresh stream; reads are counted against ``max_bytes`` so a
    decompression bomb stops with :class:`AnalysisLimitError` instead of filling memory.
    """

    def __init__(
        self, opener: Callable[[], Readable], max_bytes: int, size: int | None = None
    ) -> None:
        self._opener = opener
        self._max = max_bytes
        self._size = size

    @property
    def size(self) -> int | None:
        """Known only when the container declared it."""
        return self._size

    def open(self) -> BinaryIO:
        """A fresh bounded stream from the start."""
        return _BoundedReader(self._opener(), self._max)  # type: ignore[return-value]


class _BoundedReader(io.RawIOBase):
    """Sequential reader that refuses to yield more than ``limit`` bytes."""

    def __init__(self, inner: Readable, limit: int) -> None:
        self._inner = inner
        self._limit = limit
        self._count = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self._limit - self._count + 1
        data = self._inner.read(size)
        self._count += len(data)
        if self._count > self._limit:
            raise AnalysisLimitError("decompressed-size", f"stream exceeds {self._limit} bytes")
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            super().close()
