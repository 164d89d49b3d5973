"""Data screens: duplicates, trimmed distances, label flips and a corner-patch backdoor."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bastion.assess.config import PoisoningSpec
from bastion.assess.data import Dataset
from bastion.assess.metrics import Detection
from bastion.assess.poisoning.duplicates import screen_duplicates
from bastion.assess.poisoning.evaluate import sanitize, screen_data
from bastion.assess.poisoning.neighbors import trimmed_neighbors
from tests.assess.conftest import Digits


def test_exact_and_near_duplicates_with_conflicting_labels() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((40, 5)).astype(np.float32)
    y = np.arange(40) % 2
    x[10] = x[3]  # exact duplicate, conflicting label (3 is odd, 10 is even)
    y[10] = 0
    x[20] = x[21] + 1e-6  # near duplicate pair, conflicting labels
    screen = screen_duplicates(x, y)
    assert screen.exact_groups == ((3, 10),)
    assert (20, 21) in screen.near_pairs or (21, 20) in screen.near_pairs
    assert set(np.flatnonzero(screen.flags)) == {3, 10, 20, 21}


def test_trimmed_distance_ignores_a_small_patch() -> None:
    rng = np.random.default_rng(0)
    base = rng.random((30, 64)).astype(np.float32) * 0.1
    x = np.vstack([base, base[:1] + 0.01])
    x[-1, :4] = 1.0  # a 4-pixel "trigger" on a copy of row 0
    y = np.zeros(len(x), dtype=np.int64)
    index, _, _ = trimmed_neighbors(x, y, 1, trim=6)
    assert index[-1, 0] == 0


def _flip(digits: Digits, rate: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = digits.y.copy()
    idx = rng.choice(len(y), int(rate * len(y)), replace=False)
    y[idx] = (y[idx] + rng.integers(1, 10, len(idx))) % 10
    truth = np.zeros(len(y), dtype=bool)
    truth[idx] = True
    return digits.x.reshape(-1, 1, 8, 8), y, truth


def _backdoor(digits: Digits, rate: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = digits.x.reshape(-1, 1, 8, 8).copy()
    y = digits.y.copy()
    idx = rng.choice(np.flatnonzero(y != 0), int(rate * len(y)), replace=False)
    x[idx, 0, 6:, 6:] = 1.0
    y[idx] = 0
    truth = np.zeros(len(y), dtype=bool)
    truth[idx] = True
    return x, y, truth


@pytest.mark.slow
def test_label_flips_are_found(digits: Digits, tmp_path: Path) -> None:
    x, y, truth = _flip(digits, 0.05, seed=0)
    data = Dataset.of(x, y, source="digits")
    report = screen_data(data, PoisoningSpec(), image=True, seed=0)
    combined = Detection.of(report.poison, truth)
    assert combined.f1 >= 0.95
    assert combined.f1 > Detection.of(report.methods["cleanlab"], truth).f1
    assert report.backdoor is not None and report.backdoor.suspect_classes == ()
    assert abs(report.estimated_rate - 0.05) < 0.01
    cleaned, listing = sanitize(data, report, tmp_path / "clean")
    removed = json.loads(listing.read_text())["removed"]
    assert len(removed) == int(report.poison.sum())
    with np.load(cleaned) as archive:
        assert len(archive["y"]) == len(y) - len(removed)
        assert not set(archive["ids"].tolist()) & set(removed)


@pytest.mark.slow
def test_corner_patch_backdoor_is_found(digits: Digits) -> None:
    x, y, truth = _backdoor(digits, 0.10, seed=0)
    report = screen_data(Dataset.of(x, y, source="digits"), PoisoningSpec(), image=True, seed=0)
    assert report.backdoor is not None and report.backdoor.suspect_classes == (0,)
    assert Detection.of(report.poison, truth).f1 >= 0.8
    assert Detection.of(report.methods["label-combined"], truth).recall < 0.2  # labels alone fail


def test_too_few_rows_is_a_clear_error() -> None:
    from bastion.assess.errors import AssessError

    data = Dataset.of(np.random.default_rng(0).random((10, 3)), np.arange(10) % 2, source="tiny")
    with pytest.raises(AssessError, match="tiny: 10 rows are too few"):
        screen_data(data, PoisoningSpec(), image=False)
