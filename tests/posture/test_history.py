"""The history store on a real database, and the commands that save to it and list it."""

from __future__ import annotations

import json
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bastion.core import Confidence, Finding, Location, RuleId, ScanResult, Severity
from bastion.store.history import RunNotFoundError
from bastion.store.history_config import store_settings
from bastion.store.history_types import (
    ArtifactRecord,
    FindingRecord,
    MetricRecord,
    RunKind,
    RunRecord,
    metrics_from_findings,
)
from tests.posture.conftest import Backend
from tests.posture.helpers import make_project, malicious_pickle, run


def _run(kind: RunKind, project: str, findings: tuple[FindingRecord, ...] = ()) -> RunRecord:
    now = datetime.now(timezone.utc)
    return RunRecord(
        kind, project, f"/srv/{project}", now, now + timedelta(seconds=1), "passed", 0,
        summary={"note": "ü"}, findings=findings,
        metrics=(MetricRecord("BST-ASR-001/robust_accuracy/0.03", 0.5, 0.4),),
        artifacts=(ArtifactRecord("models/m.pt", "pytorch-zip", "sha256:ab"),),
    )  # fmt: skip


def test_record_and_read_back(backend: Backend) -> None:
    history = backend.open()
    try:
        finding = FindingRecord(
            "fp1", "BST-PKL-001", Severity.CRITICAL, "models/m.pt", "imports os.system",
            member="archive/data.pkl", line=None, title="Dangerous", category="models",
            properties={"offset": 12, "nested": {"a": [1, 2]}},
        )  # fmt: skip
        first = history.record(_run(RunKind.SCAN, "alpha", (finding,)))
        second = history.record(_run(RunKind.ASSESS, "alpha"))
        third = history.record(_run(RunKind.SCAN, "beta"))
        assert first < second < third
        stored = history.run(first)
        assert stored.kind == "scan" and stored.project == "alpha"
        assert stored.finding_count == 1 and stored.max_severity == "critical"
        assert stored.summary == {"note": "ü"}
        assert history.findings(first) == (finding,)
        assert history.findings(first)[0].properties == {"offset": 12, "nested": {"a": [1, 2]}}
        assert history.metrics(first)[0].threshold == 0.4
        assert history.artifacts(first) == (
            ArtifactRecord("models/m.pt", "pytorch-zip", "sha256:ab"),
        )
        assert [r.id for r in history.runs()] == [third, second, first]
        assert [r.id for r in history.runs(project="alpha")] == [second, first]
        assert [r.id for r in history.runs(kind="scan")] == [third, first]
        assert [r.id for r in history.runs(limit=1)] == [third]
        assert history.resolve("latest").id == third
        assert history.resolve("latest~1", project="alpha").id == first
        assert history.resolve(str(second)).id == second
        latest = history.latest("alpha", "assess")
        assert latest is not None and latest.id == second
        assert history.latest("gamma", "scan") is None
        with pytest.raises(RunNotFoundError, match="no run 999"):
            history.run(999)
        with pytest.raises(RunNotFoundError, match="latest~5"):
            history.resolve("latest~5", project="alpha")
        with pytest.raises(RunNotFoundError, match="not a run id"):
            history.resolve("yesterday")
    finally:
        history.close()


def test_metrics_from_assessment_findings() -> None:
    finding = Finding(
        RuleId("BST-ASR-001"), "Robust accuracy", Severity.INFO, Confidence.HIGH,
        Location("model.onnx"), "within policy",
        properties={
            "metrics": {"clean_accuracy": 0.97, "robust_accuracy": {"0.03": 0.61, "0.1": 0.2},
                        "curve": [0.9, 0.5], "flag": True, "label": "x", "nan": float("nan")},
            "thresholds": {"robust_accuracy": {"0.03": 0.5}},
        },
    )  # fmt: skip
    metrics = {m.name: (m.value, m.threshold) for m in metrics_from_findings([finding])}
    assert metrics == {
        "BST-ASR-001/clean_accuracy": (0.97, None),
        "BST-ASR-001/robust_accuracy/0.03": (0.61, 0.5),
        "BST-ASR-001/robust_accuracy/0.1": (0.2, None),
    }


def test_store_settings_precedence(tmp_path: Path, isolated_env: Path) -> None:
    from bastion.config import parse_config

    policy = tmp_path / "bastion.toml"
    loaded = parse_config(
        {"store": {"url": "sqlite:///rel/h.db", "project": "p1"}}, source=str(policy), path=policy
    )
    assert store_settings("sqlite:///cli.db", loaded, {}).url == "sqlite:///cli.db"
    env = {"BASTION_STORE": "sqlite:///env.db", "BASTION_STORE_SCHEMA": "s1"}
    chosen = store_settings(None, loaded, env)
    assert (chosen.url, chosen.schema, chosen.source) == ("sqlite:///env.db", "s1", "BASTION_STORE")
    from_policy = store_settings(None, loaded, {})
    assert from_policy.url == f"sqlite:///{tmp_path / 'rel' / 'h.db'}"
    assert from_policy.project == "p1" and from_policy.configured
    default = store_settings(None, None, {})
    assert not default.configured
    assert default.url == f"sqlite:///{isolated_env / 'bastion' / 'history.db'}"


def test_bad_store_table_names_the_file(tmp_path: Path) -> None:
    make_project(tmp_path / "p")
    (tmp_path / "p" / "bastion.toml").write_text("[store]\nurl = 5\n")
    code, output = run("history", "--config", tmp_path / "p" / "bastion.toml")
    assert code == 2 and "bastion.toml" in output and "store.url" in output


def test_scan_does_not_save_by_default(tmp_path: Path, isolated_env: Path) -> None:
    project = make_project(tmp_path / "p")
    code, output = run("scan", project, "-q")
    assert code == 0, output
    assert not isolated_env.exists()  # nothing written, sqlalchemy not needed


def test_scan_save_uses_the_default_store(tmp_path: Path, isolated_env: Path) -> None:
    project = make_project(tmp_path / "p")
    code, output = run("scan", project, "--save")
    assert code == 0 and "scan run 1 saved" in output, output
    database = isolated_env / "bastion" / "history.db"
    assert database.is_file()
    assert stat.S_IMODE(database.parent.stat().st_mode) == 0o700
    code, output = run("history", "--format", "json")
    runs = json.loads(output)
    assert [(r["id"], r["kind"], r["project"], r["verdict"]) for r in runs] == [
        (1, "scan", "p", "passed")
    ]
    assert runs[0]["policy_digest"].startswith("sha256:")


def test_unwritable_data_dir_warns_and_scan_result_stands(
    tmp_path: Path, isolated_env: Path, marker_dir: Path
) -> None:
    project = make_project(tmp_path / "p")
    (project / "models" / "evil.pkl").write_bytes(malicious_pickle(marker_dir))
    isolated_env.write_text("a file where the data folder should be")  # unwritable even as root
    code, output = run("scan", project, "--save")
    assert code == 1  # the scan's verdict, not the history's failure
    assert "warning: run not saved" in output and "cannot create the history folder" in output


def test_unwritable_store_path_warns(tmp_path: Path, marker_dir: Path) -> None:
    project = make_project(tmp_path / "p")
    (project / "models" / "evil.pkl").write_bytes(malicious_pickle(marker_dir))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, output = run("scan", project, "--store", f"sqlite:///{blocker}/sub/h.db")
    assert code == 1 and "warning: run not saved" in output, output


def test_scan_and_history_on_backend(
    tmp_path: Path, backend: Backend, monkeypatch: pytest.MonkeyPatch, marker_dir: Path
) -> None:
    backend.use(monkeypatch)
    project = make_project(tmp_path / "proj")
    code, output = run("scan", project, "-f", "json", "-o", tmp_path / "r.json")
    assert code == 0 and "scan run 1 saved" in output, output
    (project / "models" / "evil.pkl").write_bytes(malicious_pickle(marker_dir))
    code, output = run("scan", project, "-q")
    assert code == 1
    code, output = run("scan", project, "-q", "--no-save")
    assert code == 1
    code, output = run("history", "--format", "json", "--project", "proj")
    runs = json.loads(output)
    assert [r["id"] for r in runs] == [2, 1]
    assert runs[0]["verdict"] == "failed" and runs[0]["exit_code"] == 1
    assert runs[0]["max_severity"] == "critical"
    history = backend.open()
    try:
        rules = {f.rule for f in history.findings(2)}
        artifacts = {a.path: a for a in history.artifacts(2)}
    finally:
        history.close()
    assert "BST-PKL-001" in rules
    assert artifacts["models/evil.pkl"].format == "pickle"
    code, output = run("history", "--kind", "scan", "--limit", "1")
    assert code == 0 and "proj" in output and "failed" in output
    code, output = run("history", "--project", "nobody")
    assert code == 0 and "no runs" in output


def test_history_errors_exit_2(tmp_path: Path) -> None:
    code, output = run("history", "--store", "postgresql+psycopg://nobody@127.0.0.1:1/x")
    assert code == 2 and "127.0.0.1:1" in output and "error" in output
    code, output = run("history", "--store", "mysql://x@y/z")
    assert code == 2 and "unsupported database" in output
    code, output = run("history", "--store", "sqlite:///" + str(tmp_path / "no" / "dir" / "h.db"))
    assert code == 2 and "does not exist" in output


def test_verify_run_is_saved(
    tmp_path: Path, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend.use(monkeypatch)
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "bert"}')
    (model / "weights.bin").write_bytes(b"\0" * 64)
    code, output = run("keygen", tmp_path / "release.pem")
    assert code == 0, output
    code, output = run("sign", model, "--key", tmp_path / "release.pem", "-q")
    assert code == 0, output
    code, output = run("verify", model, "--key", tmp_path / "release.pem.pub")
    assert code == 0 and "verify run 1 saved" in output, output
    (model / "weights.bin").write_bytes(b"\1" * 64)
    code, output = run("verify", model, "--key", tmp_path / "release.pem.pub", "-q")
    assert code == 1
    history = backend.open()
    try:
        ok, bad = history.run(1), history.run(2)
        assert ok.kind == "verify" and ok.verdict == "passed"
        assert str(ok.summary["model_digest"]).startswith("sha256:")
        assert history.artifacts(1)[0].digest == ok.summary["model_digest"]
        assert bad.verdict == "failed"
        assert [f.rule for f in history.findings(2)] == ["BST-INT-002"]
    finally:
        history.close()


def test_gateway_audit_summary_is_saved(
    tmp_path: Path, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bastion.gateway.audit.writer import AuditWriter
    from bastion.gateway.store import GatewayStore
    from bastion.store import open_store
    from tests.gateway.helpers import write_config

    backend.use(monkeypatch)
    gateway_db = f"sqlite:///{tmp_path / 'gw.db'}"
    config = write_config(tmp_path / "gateway.toml", {"instance": "gw", "store": gateway_db}, [])
    gateway_store = GatewayStore(open_store(gateway_db))
    gateway_store.create()
    writer = AuditWriter(gateway_store, "gw")
    writer.start()
    try:
        for index in range(3):
            writer.append_sync(
                {"kind": "request", "action": "model.infer", "request_id": f"r{index}"}
            )
        writer.append_sync({"kind": "detection", "action": "detection.probing"})
    finally:
        writer.stop()
    gateway_store.store.dispose()
    code, output = run("audit", "verify", "--config", config, "--save")
    assert code == 0 and "gw: OK" in output, output
    history = backend.open()
    try:
        gateway_run = history.latest(history.runs()[0].project, "gateway")
        assert gateway_run is not None and gateway_run.verdict == "passed"
        metrics = {m.name: m.value for m in history.metrics(gateway_run.id)}
    finally:
        history.close()
    assert metrics["gateway/gw/records"] >= 4
    assert metrics["gateway/gw/request/model.infer"] == 3
    assert metrics["gateway/gw/detection/detection.probing"] == 1


def test_result_of_scan_round_trips_through_record() -> None:
    now = datetime.now(timezone.utc)
    finding = Finding(
        RuleId("BST-PKL-001"), "t", Severity.HIGH, Confidence.HIGH, Location("a.pkl", line=3), "m"
    )
    record = RunRecord.from_result(
        RunKind.SCAN, ScanResult("/x", now, now, findings=(finding,)), project="x",
        target="/x", verdict="failed", exit_code=1,
    )  # fmt: skip
    assert record.summary["by_severity"]["high"] == 1
    assert record.findings[0].fingerprint == finding.fingerprint
    assert record.findings[0].line == 3
