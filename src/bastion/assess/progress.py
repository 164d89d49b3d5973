"""Progress sinks and the time budget an assessment runs under.

Library callers pass nothing (silence); the CLI passes a sink that prints one line per step on
standard error. The :class:`TimeBudget` is checked between attack batches: when it is spent the
current measurement is closed with what it has, marked partial, and the next ones are skipped.
"""

from __future__ import annotations

import time
from typing import Protocol


class ProgressSink(Protocol):
    """Receives one short human-readable line per step."""

    def __call__(self, message: str) -> None:
        """Report a step."""


def silent(message: str) -> None:
    """The default sink: says nothing."""


class TimeBudget:
    """A wall-clock budget in seconds (``None`` = unlimited)."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self._start = time.monotonic()

    def expired(self) -> bool:
        """Whether the budget is spent."""
        return self.seconds is not None and time.monotonic() - self._start > self.seconds

    def elapsed(self) -> float:
        """Seconds since the budget started."""
        return time.monotonic() - self._start
