"""The Ray executor on a real local Ray instance: same results as the local pool, a worker
crash costs one file, and ``bastion scan --executor ray`` end to end.

Starting Ray takes 10-30 s on a small machine, so the instance is shared by the module and the
tests are marked slow (they still run in CI).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from bastion.cli.app import app
from bastion.core import SkipReason
from bastion.scan.engine import ScanOptions, scan
from bastion.scan.executors import RayExecutor
from tests.conftest import inert_command
from tests.formats.pickle import asm
from tests.integrations.helpers import digest, pickle_tree
from tests.integrations.ray_tasks import die_on_boom

ray = pytest.importorskip("ray")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]


@pytest.fixture(scope="module")
def ray_session() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
             object_store_memory=128 << 20)  # fmt: skip
    try:
        yield
    finally:
        ray.shutdown()


def _mixed_tree(root: Path, marker_dir: Path) -> None:
    pickle_tree(root / "pickles", 45, marker_dir)
    np.save(root / "weights.npy", np.arange(12, dtype=np.float32))
    np.save(root / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("archive/data.pkl", asm.call("os", "system", inert_command(marker_dir)))
        archive.writestr("archive/version", "3\n")
    (root / "model.pt").write_bytes(buffer.getvalue())
    (root / "train.py").write_text("import torch\nmodel = torch.load('m.pt')\n")


def test_ray_and_local_pool_give_identical_results(
    tmp_path: Path, marker_dir: Path, ray_session: None
) -> None:
    _mixed_tree(tmp_path, marker_dir)
    local = scan(tmp_path, ScanOptions(workers=2))
    remote = scan(tmp_path, ScanOptions(executor=RayExecutor(chunk_files=4, max_in_flight=3)))
    assert digest(remote) == digest(local)
    rules = {f.rule_id for f in remote.findings}
    assert {"BST-PKL-001"} <= rules
    assert any(f.location.path == "model.pt" for f in remote.findings)


def test_a_worker_crash_costs_one_file(tmp_path: Path, marker_dir: Path, ray_session: None) -> None:
    pickle_tree(tmp_path, 20, marker_dir)
    (tmp_path / "d1" / "boom.pkl").write_bytes(b"\x80\x04K\x01.")
    executor = RayExecutor(chunk_files=4, task=die_on_boom)
    result = scan(tmp_path, ScanOptions(executor=executor))
    crashed = [s for s in result.skipped if s.reason is SkipReason.ERROR]
    assert [s.path for s in crashed] == ["d1/boom.pkl"]
    assert len({a.path for a in result.artifacts}) == 21
    assert len([f for f in result.findings if f.rule_id == "BST-PKL-001"]) == 3


def test_scan_command_on_ray(tmp_path: Path, marker_dir: Path, ray_session: None) -> None:
    pickle_tree(tmp_path, 12, marker_dir)
    out = tmp_path / "report.json"
    result = CliRunner().invoke(
        app, ["scan", str(tmp_path), "--executor", "ray", "-f", "json", "-o", str(out), "-q"]
    )
    assert result.exit_code == 1, result.output
    report = json.loads(out.read_text())
    assert len([f for f in report["findings"] if f["rule_id"] == "BST-PKL-001"]) == 2
    assert ray.is_initialized()  # an open session is used and left to its owner
