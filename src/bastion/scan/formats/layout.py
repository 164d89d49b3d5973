"""Byte-layout checks shared by tensor containers (safetensors, GGUF).

A tensor container declares where each tensor's bytes live. Loaders trust those declarations
to different degrees, so the layout itself is evidence: tensors that overlap, bytes that no
tensor claims (a place to hide a payload), or data past the end of the declared area. This
module computes those facts from ``(name, begin, end)`` extents without reading tensor data,
and hands unclaimed byte ranges back to the engine so a payload hidden there is detected by
content like any other nested artifact.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from bastion.core import Finding, SkipReason
from bastion.errors import AnalysisLimitError
from bastion.scan.blob import Blob, SliceBlob
from bastion.scan.detect import detect
from bastion.scan.interface import AnalysisContext

#: Formats of a hidden byte range that are not worth a nested analysis (padding, noise).
_INERT_FORMATS = frozenset({"unknown", "empty", "text", "image", "media", "document"})
#: Leading zero bytes of a hidden range skipped before detection.
_ZERO_SKIP = 1 << 16


@dataclass(frozen=True)
class Extent:
    """The bytes ``[begin, end)`` one tensor claims, relative to the data area."""

    name: str
    begin: int
    end: int

    @property
    def size(self) -> int:
        """Number of bytes claimed."""
        return self.end - self.begin


@dataclass(frozen=True)
class Layout:
    """What a set of extents leaves unexplained inside a data area ``[0, area)``."""

    overlaps: tuple[tuple[Extent, Extent], ...]
    gaps: tuple[tuple[int, int], ...]
    trailing: tuple[int, int] | None
    overlap_count: int
    gap_count: int


def check_layout(
    extents: list[Extent], area: int, *, padding: int = 1, max_items: int = 32
) -> Layout:
    """Overlaps, gaps (unclaimed runs of at least ``padding`` bytes) and trailing bytes.

    ``area`` is the size of the data area the extents index into. Extents that start or end
    outside it are the caller's business (out of range); they still take part here, clipped.
    ``padding`` is the alignment a format allows between tensors: shorter runs are not gaps.
    At most ``max_items`` overlaps and gaps are kept; the counts say how many there were.
    """
    ordered = sorted((e for e in extents if e.size > 0), key=lambda e: (e.begin, e.end))
    overlaps: list[tuple[Extent, Extent]] = []
    gaps: list[tuple[int, int]] = []
    overlap_count = gap_count = 0
    covered = 0
    holder: Extent | None = None
    for extent in ordered:
        if holder is not None and extent.begin < covered:
            overlap_count += 1
            if len(overlaps) < max_items:
                overlaps.append((holder, extent))
        elif extent.begin - covered >= padding and extent.begin <= area:
            gap_count += 1
            if len(gaps) < max_items:
                gaps.append((covered, extent.begin))
        if extent.end > covered:
            covered = extent.end
            holder = extent
    trailing = (covered, area) if area - covered >= padding else None
    return Layout(tuple(overlaps), tuple(gaps), trailing, overlap_count, gap_count)


def inspect_hidden_bytes(
    blob: Blob, ctx: AnalysisContext, start: int, end: int, label: str
) -> tuple[str, ...]:
    """Detect what an unclaimed byte range holds; analyze it when it is a known format.

    Returns the formats found (empty when the range is padding or unrecognized noise), so the
    caller can say in its finding what was hidden.
    """
    if end <= start:
        return ()
    # NOTE: padding is zeros; a payload placed after it must still be detected by its magic.
    head = blob.read_at(start, min(end - start, _ZERO_SKIP))
    zeros = len(head) - len(head.lstrip(b"\x00"))
    if zeros == end - start:
        return ()
    start += zeros
    member = SliceBlob(blob, start, end - start)
    formats = detect(member, label, ctx.limits)
    if not formats or formats[0] in _INERT_FORMATS:
        return ()
    ctx.dispatch(member, label, formats=formats)
    return formats


class CappedReporter:
    """Reports findings through a context, at most ``cap`` per rule; the rest become one skip.

    A hostile file can declare a million broken tensors; a report with a million lines helps
    nobody. What is not listed is still said: :meth:`close` records how many were held back.
    """

    def __init__(self, ctx: AnalysisContext, cap: int = 25) -> None:
        self._ctx = ctx
        self._cap = cap
        self._counts: Counter[str] = Counter()

    def report(self, finding: Finding) -> None:
        """Record a finding unless its rule already reached the cap."""
        self._counts[finding.rule_id] += 1
        if self._counts[finding.rule_id] <= self._cap:
            self._ctx.report(finding)

    def add_unlisted(self, rule_id: str, count: int) -> None:
        """Account ``count`` findings of a rule that were never built (already truncated)."""
        if count > 0:
            self._counts[rule_id] = max(self._counts[rule_id], self._cap) + count

    def count(self, rule_id: str) -> int:
        """How many findings of a rule were offered (listed or not)."""
        return self._counts[rule_id]

    def close(self) -> None:
        """Record a skip per rule whose findings were not all listed."""
        for rule_id, count in sorted(self._counts.items()):
            if count > self._cap:
                self._ctx.skip(
                    SkipReason.LIMIT,
                    f"{count - self._cap} further {rule_id} findings not listed ({count} in total)",
                )


def blob_size(blob: Blob, max_bytes: int) -> int:
    """The blob's size; for a stream of unknown length, counted by reading it (bounded)."""
    if blob.size is not None:
        return blob.size
    total = 0
    with blob.open() as stream:
        while chunk := stream.read(1 << 20):
            total += len(chunk)
            if total > max_bytes:
                raise AnalysisLimitError("size", f"stream longer than {max_bytes} bytes")
    return total
