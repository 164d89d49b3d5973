"""Fuzzing the pickle machine and the container readers: hostile bytes never crash an analyzer.

The engine turns any unexpected exception into an ``analyzer-error`` skip so a scan survives; a
fuzz case producing one is still a bug, so these tests assert there is none.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.core import SkipReason
from bastion.scan.discover import Candidate
from bastion.scan.engine import analyze_file
from bastion.scan.interface import ScanSettings
from bastion.scan.limits import Limits
from tests.formats.pickle import asm
from tests.formats.ziptricks import Member, build_zip

_SETTINGS = ScanSettings(limits=Limits(seconds_per_artifact=5.0))
_SEEDS = (
    [pickle.dumps({"a": [1, 2.5, "x", b"y"], "b": (None, True)}, protocol=p) for p in range(6)]
    + [asm.call("os", "system", "true", protocol=p) for p in (0, 2, 4)]
    + [
        build_zip(
            [
                Member("archive/data.pkl", pickle.dumps([1, 2], protocol=2)),
                Member("archive/data/0", b"\x00" * 32, deflate=True),
            ]
        ),
    ]
)


def _analyze(data: bytes, name: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        outcome = analyze_file(Candidate(str(path), name, len(data)), _SETTINGS)
    errors = [s for s in outcome.skipped if s.reason is SkipReason.ERROR]
    assert not errors, errors


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=512), st.sampled_from(["x.pkl", "x.pt", "x.bin", "x.npy", "x"]))
def test_random_bytes(data: bytes, name: str) -> None:
    _analyze(data, name)


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    seed = bytearray(draw(st.sampled_from(_SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        action = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        if not seed:
            break
        pos = draw(st.integers(0, len(seed) - 1))
        if action == "flip":
            seed[pos] ^= 1 << draw(st.integers(0, 7))
        elif action == "cut":
            del seed[pos:]
        elif action == "insert":
            seed[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        else:
            del seed[pos : pos + draw(st.integers(1, 8))]
    return bytes(seed)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated(), st.sampled_from(["m.pkl", "m.pt", "m.joblib"]))
def test_mutated_pickles_and_archives(data: bytes, name: str) -> None:
    _analyze(data, name)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.text(min_size=1, max_size=12), st.binary(max_size=64)), max_size=5))
def test_arbitrary_zip_members(members: list[tuple[str, bytes]]) -> None:
    data = build_zip(
        [Member(name, payload, deflate=bool(i % 2)) for i, (name, payload) in enumerate(members)]
    )
    _analyze(data, "archive.zip")


def test_no_worker_state_leaks_between_fuzz_cases() -> None:
    """The analyzer opened and closed every file: no descriptor stays behind."""
    before = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0
    for seed in _SEEDS:
        _analyze(seed, "m.pkl")
    after = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0
    assert after <= before
