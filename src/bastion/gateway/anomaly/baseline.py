"""Per-identity baselines learned online: request and error counts per interval, input scores,
rows, hours of activity, models and client addresses."""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

import numpy as np

HISTORY = 720
#: Columns of one closed interval in the history (the isolation forest's features).
FEATURES = ("requests", "error_rate", "mean_score", "models", "addresses", "rows")


@dataclass(frozen=True)
class Observation:
    """What the monitor learns from one finished request."""

    identity: str
    time: float
    status: int
    address: str
    model: str | None = None
    rows: int = 0
    score: float | None = None
    ood_rows: int = 0
    probes: int = 0


def robust_z(value: float, history: np.ndarray[Any, Any], floor: float) -> float:
    """(value − median) / max(1.4826·MAD, floor)."""
    if history.size == 0:
        return 0.0
    median = float(np.median(history))
    mad = float(np.median(np.abs(history - median))) * 1.4826
    return (value - median) / max(mad, floor)


class Baseline:
    """What one identity usually does."""

    def __init__(self, start: float, bucket_seconds: float) -> None:
        self.bucket_seconds = bucket_seconds
        self.bucket_start = start - (start % bucket_seconds)
        self.history: deque[tuple[float, ...]] = deque(maxlen=HISTORY)
        self.hours = np.zeros(24, dtype=np.int64)
        self.models: Counter[str] = Counter()
        self.addresses: dict[str, float] = {}
        self.total = 0
        self.scores: deque[float] = deque(maxlen=512)
        self._reset_bucket()
        self.last_alert: dict[str, float] = {}
        self.forest: Any = None
        self.forest_fitted_at = 0

    def _reset_bucket(self) -> None:
        self.b_requests = 0
        self.b_errors = 0
        self.b_rows = 0
        self.b_ood = 0
        self.b_probes = 0
        self.b_score_sum = 0.0
        self.b_scored = 0
        self.b_models: set[str] = set()
        self.b_addresses: set[str] = set()

    def current(self) -> tuple[float, ...]:
        """The open interval as a feature row."""
        return (
            float(self.b_requests),
            self.b_errors / self.b_requests if self.b_requests else 0.0,
            self.b_score_sum / self.b_scored if self.b_scored else 0.0,
            float(len(self.b_models)),
            float(len(self.b_addresses)),
            float(self.b_rows),
        )

    def roll(self, now: float) -> list[tuple[float, ...]]:
        """Close every interval that ended before ``now``; returns the closed rows."""
        closed: list[tuple[float, ...]] = []
        while now >= self.bucket_start + self.bucket_seconds:
            closed.append(self.current())
            self.history.append(closed[-1])
            self._reset_bucket()
            self.bucket_start += self.bucket_seconds
            if len(closed) >= HISTORY:
                self.bucket_start = now - (now % self.bucket_seconds)
                break
        return closed

    def column(self, name: str) -> np.ndarray[Any, Any]:
        """One feature over the closed history."""
        if not self.history:
            return np.zeros(0)
        return np.asarray([row[FEATURES.index(name)] for row in self.history], dtype=np.float64)

    def add(self, obs: Observation) -> None:
        """Count a request into the open interval and the long-term profile."""
        self.total += 1
        self.b_requests += 1
        if obs.status >= 400:
            self.b_errors += 1
        self.b_rows += obs.rows
        self.b_ood += obs.ood_rows
        self.b_probes = max(self.b_probes, obs.probes)
        if obs.score is not None:
            self.b_score_sum += obs.score
            self.b_scored += 1
            self.scores.append(obs.score)
        if obs.model is not None:
            self.b_models.add(obs.model)
            self.models[obs.model] += 1
        self.b_addresses.add(obs.address)
        self.addresses[obs.address] = obs.time
        self.hours[time.gmtime(obs.time).tm_hour] += 1

    def recent_addresses(self, now: float, window: float) -> int:
        """Distinct addresses seen within the window (old ones are forgotten)."""
        stale = [a for a, seen in self.addresses.items() if now - seen > window]
        for address in stale:
            del self.addresses[address]
        return len(self.addresses)

    def cooled(self, kind: str, now: float, cooldown: float) -> bool:
        """Whether an alert of this kind may fire again (and mark it fired if so)."""
        last = self.last_alert.get(kind)
        if last is not None and now - last < cooldown:
            return False
        self.last_alert[kind] = now
        return True
