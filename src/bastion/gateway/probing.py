"""Near-duplicate probing: many inputs from one identity that differ by tiny perturbations.

For each identity a ring buffer keeps its last ``window`` input rows (in robust units when the
model has a profile). A new row that lies within ``epsilon`` (RMS distance per feature) of a
recent row, without being identical, counts as a probe; when the probes among the last
``window`` rows reach ``min_pairs`` the identity is probing (black-box adversarial search,
boundary extraction). Exact repeats are retries, not probes.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from typing import Any

import numpy as np

_MAX_IDENTITIES = 10_000
_MAX_ROWS_PER_REQUEST = 32


class _Track:
    def __init__(self, window: int, features: int) -> None:
        self.rows = np.zeros((window, features), dtype=np.float64)
        self.filled = 0
        self.next = 0
        self.flags: deque[bool] = deque(maxlen=window)
        self.probes = 0


class ProbeTracker:
    """Per-(identity, model) near-duplicate counters."""

    def __init__(self, window: int, epsilon: float, min_pairs: int) -> None:
        self.window = window
        self.epsilon = epsilon
        self.min_pairs = min_pairs
        self._tracks: OrderedDict[tuple[str, str], _Track] = OrderedDict()

    def observe(self, identity: str, model: str, rows: np.ndarray[Any, Any]) -> int:
        """Add rows (already scaled); returns the probe count in the window."""
        flat = np.asarray(rows, dtype=np.float64).reshape(rows.shape[0], -1)
        flat = flat[:_MAX_ROWS_PER_REQUEST]
        key = (identity, model)
        track = self._tracks.get(key)
        if track is None or track.rows.shape[1] != flat.shape[1]:
            track = _Track(self.window, flat.shape[1])
            self._tracks[key] = track
            if len(self._tracks) > _MAX_IDENTITIES:
                self._tracks.popitem(last=False)
        else:
            self._tracks.move_to_end(key)
        # NOTE: compare squared distances (no square root) against epsilon² per feature.
        limit = self.epsilon * self.epsilon * max(flat.shape[1], 1)
        for row in flat:
            probe = False
            if track.filled:
                diff = track.rows[: track.filled] - row
                dist = np.einsum("ij,ij->i", diff, diff)
                probe = bool(((dist <= limit) & (dist > 0)).any())
            if len(track.flags) == self.window and track.flags[0]:
                track.probes -= 1
            track.flags.append(probe)
            track.probes += probe
            track.rows[track.next] = row
            track.next = (track.next + 1) % self.window
            track.filled = min(track.filled + 1, self.window)
        return track.probes

    def reset(self, identity: str) -> None:
        """Forget an identity (after a playbook acted on it)."""
        for key in [k for k in self._tracks if k[0] == identity]:
            del self._tracks[key]
