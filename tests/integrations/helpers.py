"""Shared builders: a tree of pickles (a few malicious, all inert) and result comparison."""

from __future__ import annotations

import pickle
from pathlib import Path

from bastion.core import ScanResult
from tests.conftest import inert_command
from tests.formats.pickle import asm


def pickle_tree(root: Path, count: int, marker_dir: Path) -> None:
    """``count`` pickles in five folders; every seventh one calls os.system (inert command)."""
    for i in range(count):
        sub = root / f"d{i % 5}"
        sub.mkdir(parents=True, exist_ok=True)
        if i % 7 == 0:
            data = asm.call("os", "system", inert_command(marker_dir, f"m{i}"))
        else:
            data = pickle.dumps({"layer": i, "weights": [0.5] * 8})
        (sub / f"m{i}.pkl").write_bytes(data)


def digest(result: ScanResult) -> tuple[object, ...]:
    """Everything a scan decides, without timings and the root label."""
    return (
        [(f.fingerprint, f.severity, f.location) for f in result.findings],
        result.artifacts,
        result.skipped,
        result.not_applicable,
    )
