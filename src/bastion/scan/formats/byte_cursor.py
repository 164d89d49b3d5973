"""Sequential reads over a blob through a sliding window, never past the declared size.

Binary headers (GGUF) are read field by field; one ``pread`` per field would cost a system call
per token of a 150,000-entry vocabulary. The cursor keeps a window of the file in memory and
refills it as the position moves, and refuses (``EOFError``) any read or skip beyond the end,
so a declared length is checked before anything is allocated for it.
"""

from __future__ import annotations

import struct

from bastion.scan.blob import Blob

#: Bytes read ahead per refill.
WINDOW = 1 << 20


class ByteCursor:
    """Sequential reads over a blob through a sliding window, bounded by the file size."""

    def __init__(self, blob: Blob, size: int, endian: str = "<") -> None:
        self.blob = blob
        self.size = size
        self.pos = 0
        self.endian = endian
        self._buf = b""
        self._buf_start = 0

    @property
    def remaining(self) -> int:
        """Bytes between the position and the end."""
        return self.size - self.pos

    def take(self, n: int) -> bytes:
        """The next ``n`` bytes; :class:`EOFError` when the file has fewer."""
        if n > self.remaining:
            raise EOFError(n)
        offset = self.pos - self._buf_start
        if offset < 0 or offset + n > len(self._buf):
            self._buf = self.blob.read_at(self.pos, max(n, WINDOW))
            self._buf_start = self.pos
            offset = 0
            if len(self._buf) < n:
                raise EOFError(n)
        self.pos += n
        return self._buf[offset : offset + n]

    def skip(self, n: int) -> None:
        """Move past ``n`` bytes without reading them."""
        if n > self.remaining:
            raise EOFError(n)
        self.pos += n

    def unpack(self, code: str, n: int) -> int | float:
        """One ``struct`` value of ``n`` bytes, in the cursor's byte order."""
        value: int | float = struct.unpack(self.endian + code, self.take(n))[0]
        return value

    def u32(self) -> int:
        """An unsigned 32-bit integer."""
        return int(self.unpack("I", 4))

    def u64(self) -> int:
        """An unsigned 64-bit integer."""
        return int(self.unpack("Q", 8))

    def skip_strings(self, count: int, width: int) -> tuple[int, int] | None:
        """Skip ``count`` strings prefixed by a ``width``-byte length (4 or 8).

        Returns ``None`` when all were skipped, or ``(index, length)`` of the first string whose
        declared length runs past the end of the file (the position is then at its length
        field). Walks the window directly: a vocabulary of 150,000 tokens costs one pass.
        """
        unpack = struct.Struct(self.endian + ("Q" if width == 8 else "I")).unpack_from
        done = 0
        while done < count:
            if self.remaining < width:
                raise EOFError(width)
            offset = self.pos - self._buf_start
            if offset < 0 or offset + width > len(self._buf):
                self._buf = self.blob.read_at(self.pos, WINDOW)
                self._buf_start, offset = self.pos, 0
            buf, limit, base = self._buf, len(self._buf) - width, self._buf_start
            while done < count and offset <= limit:
                (length,) = unpack(buf, offset)
                if length > self.size - (base + offset + width):
                    self.pos = base + offset
                    return done, length
                offset += width + length
                done += 1
            self.pos = base + offset
        return None
