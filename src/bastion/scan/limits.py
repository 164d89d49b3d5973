"""Bounds on every parser: bytes, members, decompression, nesting, opcodes and time.

Invariant 2 of the design: hitting a bound is a skip or a finding, never a crash or a hang.
The defaults are generous enough for real checkpoints (a pickle inside a 100 GB model is a few
megabytes) and tight enough that a hostile file cannot exhaust a CI runner.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from bastion.errors import AnalysisLimitError

MiB = 1024 * 1024
GiB = 1024 * MiB


@dataclass(frozen=True)
class Limits:
    """Resource bounds for one top-level artifact and everything nested in it."""

    max_file_bytes: int = 64 * GiB
    max_pickle_bytes: int = 2 * GiB
    max_opcodes: int = 20_000_000
    max_stack_items: int = 5_000_000
    max_members: int = 100_000
    max_member_bytes: int = 4 * GiB
    max_total_decompressed: int = 16 * GiB
    max_compression_ratio: int = 1000
    max_depth: int = 8
    max_text_bytes: int = 64 * MiB
    max_json_bytes: int = 256 * MiB
    seconds_per_artifact: float = 300.0

    def deadline(self) -> Deadline:
        """A fresh deadline for one top-level artifact."""
        return Deadline(self.seconds_per_artifact)


class Deadline:
    """A wall-clock budget; :meth:`check` raises :class:`AnalysisLimitError` once it is spent."""

    __slots__ = ("_budget", "_end")

    def __init__(self, seconds: float) -> None:
        self._budget = seconds
        self._end = time.monotonic() + seconds

    def check(self) -> None:
        """Raise when the budget is spent."""
        if time.monotonic() > self._end:
            raise AnalysisLimitError("time", f"analysis took longer than {self._budget:g} s")

    @property
    def remaining(self) -> float:
        """Seconds left (never negative)."""
        return max(0.0, self._end - time.monotonic())


class ByteBudget:
    """Counts decompressed bytes across one artifact, against total size and ratio limits."""

    __slots__ = ("_limits", "_total")

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._total = 0

    def spend(self, produced: int, compressed: int) -> None:
        """Account ``produced`` bytes that came out of ``compressed`` input bytes."""
        self._total += produced
        if self._total > self._limits.max_total_decompressed:
            raise AnalysisLimitError(
                "decompressed-size",
                f"more than {self._limits.max_total_decompressed} bytes decompressed",
            )
        if compressed > 0 and produced > 64 * MiB:
            ratio = produced / compressed
            if ratio > self._limits.max_compression_ratio:
                raise AnalysisLimitError(
                    "compression-ratio", f"ratio {ratio:.0f}:1 looks like a decompression bomb"
                )
