"""Executors: the Ray executor's streaming and crash handling (driven through a fake ``ray``),
the local pool executor, and how the command line picks one."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bastion.cli.app import app
from bastion.core import SkipReason
from bastion.errors import MissingDependencyError
from bastion.scan import executors
from bastion.scan.engine import ScanOptions, scan
from bastion.scan.executors import (
    ExecutorError,
    ExecutorKind,
    LocalPoolExecutor,
    RayExecutor,
    make_executor,
)
from tests.integrations.fake_ray import FakeRay
from tests.integrations.helpers import digest, pickle_tree


@pytest.fixture
def fake_ray(monkeypatch: pytest.MonkeyPatch) -> FakeRay:
    fake = FakeRay(crash_on="m12.pkl")
    monkeypatch.setattr(executors, "_import_ray", lambda: fake)
    return fake


def test_ray_executor_matches_the_local_scan(
    tmp_path: Path, marker_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeRay()
    monkeypatch.setattr(executors, "_import_ray", lambda: fake)
    pickle_tree(tmp_path, 40, marker_dir)
    local = scan(tmp_path, ScanOptions(workers=1))
    remote = scan(tmp_path, ScanOptions(executor=RayExecutor(chunk_files=3)))
    assert digest(remote) == digest(local)
    assert len([f for f in local.findings if f.rule_id == "BST-PKL-001"]) == 6
    assert fake.remote_options == {"max_retries": 0}  # crashes are handled file by file here


def test_in_flight_tasks_are_bounded(tmp_path: Path, marker_dir: Path, fake_ray: FakeRay) -> None:
    fake_ray.crash_on = "\0"
    pickle_tree(tmp_path, 60, marker_dir)
    result = scan(tmp_path, ScanOptions(executor=RayExecutor(chunk_files=2, max_in_flight=3)))
    assert len(result.artifacts) == 60
    assert fake_ray.max_pending == 3
    assert len(fake_ray.submitted) == 30


def test_default_in_flight_follows_the_cluster_cpus(
    tmp_path: Path, marker_dir: Path, fake_ray: FakeRay
) -> None:
    fake_ray.crash_on = "\0"
    pickle_tree(tmp_path, 40, marker_dir)
    scan(tmp_path, ScanOptions(executor=RayExecutor(chunk_files=1)))
    assert fake_ray.max_pending == 4  # two per CPU of the (fake) two-CPU cluster


def test_a_crashing_task_costs_one_file(
    tmp_path: Path, marker_dir: Path, fake_ray: FakeRay
) -> None:
    pickle_tree(tmp_path, 30, marker_dir)
    result = scan(tmp_path, ScanOptions(executor=RayExecutor(chunk_files=4)))
    crashed = [s for s in result.skipped if s.reason is SkipReason.ERROR]
    assert [s.path for s in crashed] == ["d2/m12.pkl"]
    assert len({a.path for a in result.artifacts}) == 30
    # the chunk that died came back as one task per file
    singles = [chunk for chunk in fake_ray.submitted if len(chunk) == 1]
    assert len(singles) == 4 and ["d2/m12.pkl"] in singles


def test_progress_sees_every_file(tmp_path: Path, marker_dir: Path, fake_ray: FakeRay) -> None:
    pickle_tree(tmp_path, 17, marker_dir)
    seen: list[int] = []

    class Sink:
        def start(self, total: int) -> None:
            seen.append(-total)

        def advance(self, count: int) -> None:
            seen.append(count)

        def finish(self) -> None:
            seen.append(0)

    scan(tmp_path, ScanOptions(executor=RayExecutor(chunk_files=5)), progress=Sink())
    assert seen[0] == -17 and seen[-1] == 0 and sum(seen[1:-1]) == 17


def test_a_session_started_for_the_scan_is_shut_down(tmp_path: Path, fake_ray: FakeRay) -> None:
    (tmp_path / "a.pkl").write_bytes(b"\x80\x04K\x01.")
    scan(tmp_path, ScanOptions(executor=RayExecutor(num_cpus=2)))
    assert fake_ray.shutdowns == 1
    assert fake_ray.init_calls[0]["num_cpus"] == 2
    assert fake_ray.init_calls[0]["include_dashboard"] is False
    scan(tmp_path, ScanOptions(executor=RayExecutor("auto")))
    assert fake_ray.init_calls[1]["address"] == "auto"


def test_an_open_session_is_reused_and_left_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeRay(initialized=True)
    monkeypatch.setattr(executors, "_import_ray", lambda: fake)
    (tmp_path / "a.pkl").write_bytes(b"\x80\x04K\x01.")
    scan(tmp_path, ScanOptions(executor=RayExecutor("ray://head:10001")))
    assert fake.init_calls == [] and fake.shutdowns == 0


def test_an_unreachable_cluster_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeRay()

    def refuse(**kwargs: object) -> None:
        raise ConnectionError("could not find any running Ray instance")

    fake.init = refuse  # type: ignore[method-assign]
    monkeypatch.setattr(executors, "_import_ray", lambda: fake)
    (tmp_path / "a.pkl").write_bytes(b"\x80\x04K\x01.")
    with pytest.raises(ExecutorError, match=r"Ray cluster at 10\.0\.0\.9:6379: cannot start"):
        scan(tmp_path, ScanOptions(executor=RayExecutor("10.0.0.9:6379")))


def test_missing_ray_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    (tmp_path / "a.pkl").write_bytes(b"\x80\x04K\x01.")
    with pytest.raises(MissingDependencyError, match=r"bastion-ml\[ray\]"):
        scan(tmp_path, ScanOptions(executor=RayExecutor()))


def test_local_pool_executor_is_the_default(tmp_path: Path, marker_dir: Path) -> None:
    pickle_tree(tmp_path, 30, marker_dir)
    default = scan(tmp_path, ScanOptions(workers=2))
    explicit = scan(tmp_path, ScanOptions(executor=LocalPoolExecutor(workers=2)))
    single = scan(tmp_path, ScanOptions(executor=LocalPoolExecutor(workers=1)))
    assert digest(default) == digest(explicit) == digest(single)


def test_command_line_choices() -> None:
    assert make_executor(ExecutorKind.LOCAL) is None
    assert make_executor(ExecutorKind.RAY, workers=3, ray_address="auto") == RayExecutor(
        address="auto", num_cpus=3
    )
    with pytest.raises(ExecutorError, match="only meaningful with --executor ray"):
        make_executor(ExecutorKind.LOCAL, ray_address="auto")


def test_scan_command_with_the_ray_executor(
    tmp_path: Path, marker_dir: Path, fake_ray: FakeRay
) -> None:
    fake_ray.crash_on = "\0"
    pickle_tree(tmp_path, 10, marker_dir)
    runner = CliRunner()
    result = runner.invoke(app, ["scan", str(tmp_path), "--executor", "ray", "-f", "json"])
    assert result.exit_code == 1, result.output
    assert '"BST-PKL-001"' in result.output
    assert fake_ray.shutdowns == 1
    wrong = runner.invoke(app, ["scan", str(tmp_path), "--ray-address", "auto"])
    assert wrong.exit_code == 2
