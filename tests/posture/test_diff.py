"""``bastion diff``: new, fixed and changed findings, metric and artifact changes."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from bastion.core import Severity
from bastion.store.history_diff import diff_artifacts, diff_findings, diff_metrics
from bastion.store.history_types import (
    ArtifactRecord,
    FindingRecord,
    MetricRecord,
    RunKind,
    RunRecord,
)
from tests.posture.conftest import Backend
from tests.posture.helpers import make_project, malicious_pickle, run


def _f(
    fp: str, sev: Severity = Severity.HIGH, msg: str = "m", line: int | None = None
) -> FindingRecord:
    return FindingRecord(fp, "BST-X-001", sev, "a.py", msg, line=line)


def test_new_fixed_changed_unchanged() -> None:
    before = [_f("keep", line=3), _f("gone"), _f("worse", Severity.MEDIUM), _f("reworded")]
    after = [
        _f("keep", line=30),  # moved: same fingerprint, line ignored
        _f("worse", Severity.CRITICAL),
        _f("reworded", msg="other words"),
        _f("fresh"),
    ]
    diff = diff_findings(before, after)
    assert [f.fingerprint for f in diff.new] == ["fresh"]
    assert [f.fingerprint for f in diff.fixed] == ["gone"]
    assert {c.after.fingerprint: c.changes for c in diff.changed} == {
        "worse": ("severity",),
        "reworded": ("message",),
    }
    assert diff.unchanged == 1


def test_repeated_fingerprints_pair_in_order() -> None:
    before = [_f("dup", line=1), _f("dup", line=2)]
    after = [_f("dup", line=5), _f("dup", line=6), _f("dup", line=7)]
    diff = diff_findings(before, after)
    assert diff.unchanged == 2 and len(diff.new) == 1 and diff.new[0].line == 7
    diff = diff_findings(after, before)
    assert diff.unchanged == 2 and len(diff.fixed) == 1 and not diff.new


def test_metrics_and_artifacts() -> None:
    metrics = diff_metrics(
        [MetricRecord("a", 0.5), MetricRecord("same", 1.0), MetricRecord("gone", 2.0)],
        [MetricRecord("a", 0.4, 0.45), MetricRecord("same", 1.0), MetricRecord("new", 3.0)],
    )
    assert [(m.name, m.before, m.after) for m in metrics] == [
        ("a", 0.5, 0.4),
        ("gone", 2.0, None),
        ("new", None, 3.0),
    ]
    assert metrics[0].delta == pytest.approx(-0.1) and metrics[0].threshold == 0.45
    assert metrics[1].delta is None
    artifacts = diff_artifacts(
        [ArtifactRecord("m.pt", "pt", "sha256:1"), ArtifactRecord("x", "pt", "sha256:2")],
        [ArtifactRecord("m.pt", "pt", "sha256:9"), ArtifactRecord("y", "pt", None)],
    )
    assert [(a.path, a.change) for a in artifacts] == [
        ("m.pt", "changed"),
        ("x", "removed"),
        ("y", "added"),
    ]


def test_cli_diff_on_backend(
    tmp_path: Path, backend: Backend, monkeypatch: pytest.MonkeyPatch, marker_dir: Path
) -> None:
    backend.use(monkeypatch)
    project = make_project(tmp_path / "proj")
    assert run("scan", project, "-q")[0] == 0
    (project / "models" / "evil.pkl").write_bytes(malicious_pickle(marker_dir))
    assert run("scan", project, "-q")[0] == 1
    history = backend.open()
    now = datetime.now(timezone.utc)
    for value in (0.61, 0.52):
        history.record(
            RunRecord(RunKind.ASSESS, "proj", str(project), now, now, "passed", 0,
                      metrics=(MetricRecord("BST-ASR-001/robust_accuracy/0.03", value, 0.5),))
        )  # fmt: skip
    history.close()
    code, output = run("diff", "1", "2", "--format", "json")
    assert code == 0, output
    data = json.loads(output)
    assert data["schema"] == "bastion/run-diff"
    assert {f["rule_id"] for f in data["new"]} >= {"BST-PKL-001"}
    assert all(f["path"] == "models/evil.pkl" for f in data["new"])
    assert data["fixed"] == [] and data["summary"]["new"] == len(data["new"])
    assert {a["path"]: a["change"] for a in data["artifacts"]}["models/evil.pkl"] == "added"
    code, output = run("diff", "2", "1", "--format", "markdown")
    assert code == 0 and "#### Fixed findings" in output and "BST-PKL-001" in output
    code, output = run("diff", "latest~1", "latest", "--kind", "assess", "-f", "json")
    metric = json.loads(output)["metrics"][0]
    assert metric["name"] == "BST-ASR-001/robust_accuracy/0.03"
    assert (metric["before"], metric["after"]) == (0.61, 0.52)
    code, output = run("diff", "1", "2")
    assert code == 0 and "1 new, 0 fixed" in " ".join(output.split()) and "BST-PKL-001" in output
    out = tmp_path / "diff.md"
    code, output = run("diff", "1", "2", "-f", "markdown", "-o", out)
    assert code == 0 and out.read_text().startswith("### bastion diff: run 1 → run 2")


def test_cli_diff_unknown_run(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    backend.use(monkeypatch)
    code, output = run("diff", "1", "2")
    assert code == 2 and "no run 1" in output
    code, output = run("diff", "tomorrow", "1")
    assert code == 2 and "not a run id" in output
