"""The behaviour monitor and the probing tracker on synthetic, deterministic histories."""

from __future__ import annotations

import numpy as np
import pytest

from bastion.gateway.anomaly.baseline import Observation
from bastion.gateway.anomaly.detector import BehaviourMonitor
from bastion.gateway.probing import ProbeTracker
from bastion.gateway.settings import AnomalySettings

T0 = 1_700_000_000.0 - (1_700_000_000.0 % 86400) + 9 * 3600  # 09:00 UTC


def _history(
    monitor: BehaviourMonitor,
    minutes: int,
    per_minute: int,
    *,
    model: str = "m",
    address: str = "10.0.0.1",
    status: int = 200,
) -> float:
    t = T0
    for minute in range(minutes):
        for i in range(per_minute):
            t = T0 + minute * 60 + i * (50 / per_minute)
            monitor.observe(Observation("key:a", t, status, address, model=model, rows=1))
    return T0 + minutes * 60


def _kinds(found: list) -> list[str]:
    return [d.kind for d in found]


def test_burst_fires_once_per_cooldown() -> None:
    monitor = BehaviourMonitor(AnomalySettings(min_history=10, min_burst=20, z_threshold=6))
    t = _history(monitor, 30, 5)
    found = []
    for i in range(120):
        found += monitor.observe(Observation("key:a", t + i * 0.1, 200, "10.0.0.1", model="m"))
    assert _kinds(found).count("burst") == 1
    burst = next(d for d in found if d.kind == "burst")
    assert burst.rule.id == "BST-GW-011" and burst.evidence["z"] >= 6


def test_steady_traffic_raises_nothing() -> None:
    monitor = BehaviourMonitor(AnomalySettings(min_history=10, min_burst=20))
    found = []
    t = T0
    for minute in range(60):
        for i in range(8):
            t = T0 + minute * 60 + i * 6
            found += monitor.observe(Observation("key:a", t, 200, "10.0.0.1", model="m"))
    assert found == []


def test_credential_sharing() -> None:
    monitor = BehaviourMonitor(AnomalySettings(max_addresses=3))
    found = []
    for i in range(6):
        found += monitor.observe(Observation("key:a", T0 + i, 200, f"10.0.0.{i}", model="m"))
    assert _kinds(found) == ["credential-sharing"]
    assert found[0].evidence["addresses"] == 4


def test_insider_new_model_and_new_hour() -> None:
    monitor = BehaviourMonitor(AnomalySettings(insider_min_requests=50))
    t = _history(monitor, 20, 5, model="fraud")
    new_model = monitor.observe(Observation("key:a", t + 1, 200, "10.0.0.1", model="hr-data"))
    assert _kinds(new_model) == ["insider"]
    assert new_model[0].evidence["reason"] == "new-model"
    night = T0 + 15 * 3600  # 00:00 UTC the next day
    late = monitor.observe(Observation("key:a", night, 200, "10.0.0.1", model="fraud"))
    assert [d.evidence["reason"] for d in late] == ["new-hour"]


def test_error_rate_spike() -> None:
    monitor = BehaviourMonitor(AnomalySettings(min_history=10, min_burst=10, z_threshold=4))
    t = _history(monitor, 30, 10)
    found = []
    for i in range(15):
        found += monitor.observe(Observation("key:a", t + i, 422, "10.0.0.1", model="m"))
    assert "error-rate" in _kinds(found)


def test_extraction_pattern() -> None:
    monitor = BehaviourMonitor(AnomalySettings(extraction_min_rows=200))
    found = []
    for i in range(10):
        found += monitor.observe(
            Observation(
                "key:a", T0 + i, 200, "10.0.0.1", model="m", rows=32, score=12.0, ood_rows=20
            )
        )
    assert _kinds(found) == ["extraction"]


@pytest.mark.slow
def test_isolation_forest_flags_an_odd_interval() -> None:
    settings = AnomalySettings(forest_min_buckets=40, min_history=1000, max_addresses=50)
    monitor = BehaviourMonitor(settings)
    rng = np.random.default_rng(0)
    t = T0
    for minute in range(80):
        for i in range(int(rng.integers(8, 12))):
            t = T0 + minute * 60 + i
            monitor.observe(Observation("key:a", t, 200, "10.0.0.1", model="m", rows=1, score=1.0))
    odd = T0 + 80 * 60
    for i in range(40):
        monitor.observe(
            Observation("key:a", odd + i, 422, f"10.1.0.{i % 30}", model="m", rows=50, score=30.0)
        )
    found = monitor.observe(Observation("key:a", odd + 120, 200, "10.0.0.1", model="m"))
    assert "behaviour-outlier" in _kinds(found)


def test_steady_random_traffic_is_not_an_outlier() -> None:
    monitor = BehaviourMonitor(AnomalySettings(forest_min_buckets=40, min_history=1000))
    rng = np.random.default_rng(3)
    found = []
    for minute in range(150):
        for i in range(int(rng.integers(8, 13))):
            found += monitor.observe(
                Observation(
                    "key:a",
                    T0 + minute * 60 + i,
                    200,
                    "10.0.0.1",
                    model="m",
                    rows=1,
                    score=float(rng.uniform(0.5, 2)),
                )
            )
    assert "behaviour-outlier" not in _kinds(found)


def test_probe_tracker() -> None:
    tracker = ProbeTracker(window=64, epsilon=0.02, min_pairs=10)
    rng = np.random.default_rng(1)
    base = rng.normal(size=(1, 4))
    for _ in range(20):
        count = tracker.observe("key:a", "m", base + rng.normal(scale=0.001, size=(1, 4)))
    assert count >= 10
    for _ in range(20):
        other = tracker.observe("key:b", "m", rng.normal(size=(1, 4)))
    assert other == 0
    for _ in range(20):
        repeats = tracker.observe("key:c", "m", base)
    assert repeats == 0
