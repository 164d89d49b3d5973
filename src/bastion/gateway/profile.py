"""Training-data profiles and the input anomaly score (request path step 5b).

A profile holds, per feature, the median and a robust scale (1.4826 × MAD, falling back to the
standard deviation, floored) of the training data. An input row's score is its largest robust
z-score across features: 0 for a typical row, large for a row far from anything the model was
trained on. Build one with :func:`build_profile` and store it next to the model as JSON::

    import json, numpy as np
    from bastion.gateway.profile import build_profile
    json.dump(build_profile(np.load("train.npy")), open("model.profile.json", "w"))
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bastion.gateway.errors import GatewayError

_MAX_FEATURES = 1_000_000
_FLOOR = 1e-6


def build_profile(data: np.ndarray[Any, Any]) -> dict[str, Any]:
    """A JSON-ready profile of training data (rows × features; extra dims are flattened)."""
    rows = np.asarray(data, dtype=np.float64).reshape(len(data), -1)
    median = np.median(rows, axis=0)
    mad = np.median(np.abs(rows - median), axis=0) * 1.4826
    std = rows.std(axis=0)
    scale = np.where(mad > _FLOOR, mad, np.maximum(std, _FLOOR))
    return {
        "version": 1,
        "rows": int(rows.shape[0]),
        "median": median.tolist(),
        "scale": scale.tolist(),
        "min": rows.min(axis=0).tolist(),
        "max": rows.max(axis=0).tolist(),
    }


@dataclass(frozen=True)
class Profile:
    """A loaded profile."""

    median: np.ndarray[Any, Any]
    scale: np.ndarray[Any, Any]

    @property
    def features(self) -> int:
        """Number of features."""
        return int(self.median.shape[0])

    def score(self, array: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Per-row score: the largest robust z-score across features."""
        rows = np.asarray(array, dtype=np.float64).reshape(array.shape[0], -1)
        z = np.abs(rows - self.median) / self.scale
        scores: np.ndarray[Any, Any] = np.minimum(z.max(axis=1), 1e9)
        return scores

    def scaled(self, array: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Rows in robust units (for near-duplicate distances)."""
        rows = np.asarray(array, dtype=np.float64).reshape(array.shape[0], -1)
        scaled: np.ndarray[Any, Any] = (rows - self.median) / self.scale
        return scaled


def load_profile(path: Path, features: int) -> Profile:
    """Read and check a profile file; ``features`` is what the model's schema implies."""
    try:
        if path.stat().st_size > 64 << 20:
            raise GatewayError(f"{path}: profile larger than 64 MiB")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GatewayError(f"{path}: cannot read the profile: {exc}") from exc
    if not isinstance(data, dict):
        raise GatewayError(f"{path}: a profile is a JSON object")
    try:
        median = np.asarray(data["median"], dtype=np.float64)
        scale = np.asarray(data["scale"], dtype=np.float64)
    except (KeyError, TypeError, ValueError) as exc:
        raise GatewayError(f"{path}: profile needs numeric 'median' and 'scale' lists") from exc
    if median.ndim != 1 or median.shape != scale.shape or median.size > _MAX_FEATURES:
        raise GatewayError(f"{path}: 'median' and 'scale' must be lists of the same length")
    if median.size != features:
        raise GatewayError(f"{path}: profile has {median.size} features, the model {features}")
    if not (np.isfinite(median).all() and np.isfinite(scale).all()) or (scale <= 0).any():
        raise GatewayError(f"{path}: profile values must be finite, scales positive")
    return Profile(median=median, scale=np.maximum(scale, _FLOOR))
