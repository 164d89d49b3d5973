"""Reading a text file for analysis: bounded, decoded, binary refused, positions mapped to lines.

Every text analyzer (Python, notebooks, configs, plain text) reads through :func:`read_text`, so
the same rules apply everywhere: at most ``Limits.max_text_bytes`` are read (the rest is reported
as not checked), a file with NUL bytes is binary whatever its name says, Python sources honour a
PEP 263 ``coding:`` line, and undecodable bytes are replaced and reported instead of failing.
"""

from __future__ import annotations

import bisect
import codecs
import re
from dataclasses import dataclass

from bastion.errors import MalformedInputError
from bastion.scan.blob import Blob

_BINARY_PROBE = 8192
_CODING = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class TextFile:
    """Decoded text and what reading it left out."""

    text: str
    size: int
    truncated: bool
    encoding: str
    #: Byte offset of the first undecodable byte (replaced by U+FFFD), if any.
    undecodable_at: int | None = None

    def problems(self, limit: int) -> list[str]:
        """Human descriptions of what was not checked exactly, for skip records."""
        found = []
        if self.truncated:
            found.append(f"only the first {limit} of {self.size} bytes were checked")
        if self.undecodable_at is not None:
            found.append(
                f"bytes at offset {self.undecodable_at} are not valid {self.encoding}; "
                "they were replaced before checking"
            )
        return found


def read_text(blob: Blob, limit: int, *, python: bool = False) -> TextFile:
    """Read and decode at most ``limit`` bytes; raise :class:`MalformedInputError` if binary."""
    raw = blob.read_at(0, limit + 1)
    size = blob.size if blob.size is not None else len(raw)
    truncated = len(raw) > limit
    if truncated:
        raw = raw[:limit]
    if b"\x00" in raw[:_BINARY_PROBE]:
        at = raw.index(b"\x00")
        raise MalformedInputError(
            f"binary content (NUL byte at offset {at}) in a file named like text; not checked"
        )
    encoding = _encoding(raw) if python else "utf-8"
    if raw.startswith(_BOM):
        raw = raw[len(_BOM) :]
        encoding = "utf-8"
    try:
        text = raw.decode(encoding)
        return TextFile(text, size, truncated, encoding)
    except UnicodeDecodeError as exc:
        if truncated and exc.start >= len(raw) - 4:
            # A multi-byte character cut by the limit, not bad input.
            text = raw[: exc.start].decode(encoding, "replace")
            return TextFile(text, size, truncated, encoding)
        return TextFile(raw.decode(encoding, "replace"), size, truncated, encoding, exc.start)


def _encoding(raw: bytes) -> str:
    """PEP 263: a ``coding`` comment on line one or two; UTF-8 otherwise."""
    for line in raw.split(b"\n", 2)[:2]:
        match = _CODING.match(line)
        if match:
            name = match.group(1).decode("ascii", "replace")
            try:
                return codecs.lookup(name).name
            except LookupError:
                return "utf-8"
    return "utf-8"


class LineIndex:
    """Maps offsets in a text to 1-based (line, column); cheap for a few lookups, indexed after."""

    _BUILD_AFTER = 16

    def __init__(self, text: str) -> None:
        self.text = text
        self._starts: list[int] | None = None
        self._queries = 0

    def position(self, offset: int) -> tuple[int, int]:
        """1-based line and column (in characters) of ``offset``."""
        self._queries += 1
        if self._starts is None and self._queries > self._BUILD_AFTER:
            self._starts = [0, *(m.end() for m in re.finditer("\n", self.text))]
        if self._starts is not None:
            line = bisect.bisect_right(self._starts, offset)
            return line, offset - self._starts[line - 1] + 1
        line = self.text.count("\n", 0, offset) + 1
        return line, offset - (self.text.rfind("\n", 0, offset) + 1) + 1

    def line_text(self, line: int) -> str:
        """The text of a 1-based line (without its newline); empty if out of range."""
        if self._starts is None:
            self._starts = [0, *(m.end() for m in re.finditer("\n", self.text))]
        if not 1 <= line <= len(self._starts):
            return ""
        start = self._starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start : end if end >= 0 else len(self.text)]


def char_column(line_text: str, byte_offset: int) -> int:
    """1-based character column from the UTF-8 byte offset the ``ast`` module reports."""
    if line_text.isascii():
        return byte_offset + 1
    return len(line_text.encode("utf-8")[:byte_offset].decode("utf-8", "ignore")) + 1
