"""``bastion baseline set`` and ``bastion posture check``: every deviation kind, every way in."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from bastion.core import Confidence, Finding, Location, RuleId, ScanResult, Severity
from bastion.policy.evaluate import evaluate
from bastion.policy.model import Policy
from bastion.posture.collect import Observation
from bastion.posture.compare import compare, metric_deviation
from bastion.posture.config import PostureSettings
from bastion.posture.model import AcceptedFinding, Posture
from bastion.store.history_types import RunKind, RunRecord
from tests.posture.conftest import Backend
from tests.posture.helpers import make_project, malicious_pickle, run, safetensors_bytes


def _check(project: Path, *extra: str | Path) -> tuple[int, dict[str, Any]]:
    code, output = run("posture", "check", project, "-f", "json", "-q", *extra)
    assert code in (0, 1), output
    return code, json.loads(output)


def _rules(report: dict[str, Any]) -> list[str]:
    return sorted(f["rule_id"] for f in report["findings"])


def _by_rule(report: dict[str, Any], rule: str) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["rule_id"] == rule]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project with its posture set."""
    root = make_project(tmp_path / "proj")
    code, output = run("baseline", "set", root)
    assert code == 0 and "written to" in output, output
    return root


def test_unchanged_project_passes(project: Path) -> None:
    document = json.loads((project / ".bastion-posture.json").read_text())
    assert document["schema"] == "bastion/posture" and document["project"] == "proj"
    assert [m["path"] for m in document["models"]] == ["models/classifier.safetensors"]
    assert document["models"][0]["digest"].startswith("sha256:")
    assert {d["name"]: d["requirement"] for d in document["dependencies"]} == {
        "numpy": "==1.26.4",
        "scikit-learn": "==1.5.0",
    }
    code, report = _check(project)
    assert code == 0 and report["findings"] == [], report["findings"]
    code, output = run("posture", "check", project)
    assert code == 0 and "0 deviation(s)" in " ".join(output.split())


def test_malicious_model_is_named(project: Path, marker_dir: Path) -> None:
    (project / "models" / "helper.pkl").write_bytes(malicious_pickle(marker_dir))
    code, report = _check(project)
    assert code == 1
    new = _by_rule(report, "BST-POS-001")
    assert new and new[0]["severity"] == "critical" and new[0]["category"] == "models"
    assert (
        "new BST-PKL-001" in new[0]["message"] and new[0]["location"]["path"] == "models/helper.pkl"
    )
    assert "CWE-502" in new[0]["references"]["cwe"]  # the original rule's references are kept
    unsigned = _by_rule(report, "BST-POS-004")
    assert unsigned and unsigned[0]["location"]["path"] == "models/helper.pkl"
    assert _by_rule(report, "BST-POS-006") == []  # the safetensors model is still its own model


def test_changed_model_needs_a_trusted_signature(project: Path, tmp_path: Path) -> None:
    model = project / "models" / "classifier.safetensors"
    model.write_bytes(safetensors_bytes(fill=b"\1"))
    code, report = _check(project)
    assert code == 1 and _rules(report) == ["BST-POS-003"]
    assert "no trusted keys configured" in report["findings"][0]["message"]
    assert report["findings"][0]["severity"] == "critical"
    assert run("keygen", tmp_path / "release.pem")[0] == 0
    assert run("keygen", tmp_path / "other.pem")[0] == 0
    assert run("sign", model, "--key", tmp_path / "other.pem", "-q")[0] == 0
    code, report = _check(project, "--key", tmp_path / "release.pem.pub")
    assert code == 1 and _rules(report) == ["BST-POS-003"]
    assert "signature does not verify" in report["findings"][0]["message"]
    assert run("sign", model, "--key", tmp_path / "release.pem", "-q")[0] == 0
    (project / "bastion.toml").write_text(
        f'fail_on = "high"\n[posture]\ntrusted_keys = ["{tmp_path / "release.pem.pub"}"]\n'
    )
    code, report = _check(project)
    assert code == 0 and _rules(report) == ["BST-POS-005"]
    assert report["findings"][0]["severity"] == "info"
    model.write_bytes(safetensors_bytes(fill=b"\2"))  # changed again after signing
    code, report = _check(project)
    assert code == 1 and _rules(report) == ["BST-POS-003"]


def test_removed_model(project: Path) -> None:
    (project / "models" / "classifier.safetensors").unlink()
    code, report = _check(project)
    assert code == 1 and _rules(report) == ["BST-POS-006"]
    code, report = _check(project, "--fail-on", "medium")
    assert code == 0


def test_datasets(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj")
    (root / "data" / "train").mkdir(parents=True)
    (root / "data" / "train" / "part-0.csv").write_text("x,y\n1,0\n")
    code, output = run("baseline", "set", root, "--data", f"train={root / 'data' / 'train'}")
    assert code == 0 and "1 dataset(s)" in " ".join(output.split()), output
    code, report = _check(root)  # the dataset comes back from the baseline
    assert code == 0, report["findings"]
    (root / "data" / "train" / "part-0.csv").write_text("x,y\n1,1\n")
    (root / "data" / "extra").mkdir()
    (root / "data" / "extra" / "a.csv").write_text("a\n")
    code, report = _check(root, "--data", f"extra={root / 'data' / 'extra'}")
    messages = sorted(f["message"] for f in _by_rule(report, "BST-POS-007"))
    assert code == 1 and len(messages) == 2
    assert messages[0].startswith("dataset extra is new") and "dataset train changed" in messages[1]
    (root / "data" / "train" / "part-0.csv").unlink()
    (root / "data" / "train").rmdir()
    code, report = _check(root)
    assert _rules(report) == ["BST-POS-014"] and "not found" in report["findings"][0]["message"]


def test_dependencies(project: Path) -> None:
    (project / "requirements.txt").write_text("numpy==1.21.0\ntorch==1.13.0\n")
    code, report = _check(project, "--fail-on", "medium")
    assert code == 1
    assert [f["message"] for f in _by_rule(report, "BST-POS-008")] == [
        "new dependency torch==1.13.0 (requirements.txt)"
    ]
    changed = _by_rule(report, "BST-POS-009")
    assert changed[0]["message"] == "dependency numpy changed from ==1.26.4 to ==1.21.0"
    assert changed[0]["location"] == {"path": "requirements.txt", "line": 1}
    removed = _by_rule(report, "BST-POS-010")
    assert removed[0]["severity"] == "info" and "scikit-learn" in removed[0]["message"]


def test_unreadable_lockfile_is_not_silently_clean(project: Path) -> None:
    (project / "poetry.lock").write_text("this is [not toml")
    code, report = _check(project)
    assert code == 1 and "BST-POS-014" in _rules(report)
    assert any("poetry.lock" in f["location"]["path"] for f in _by_rule(report, "BST-POS-014"))
    code, output = run("baseline", "set", project)
    assert code == 2 and "could not be measured" in output and "poetry.lock" in output


def _metrics_report(path: Path, values: dict[str, Any]) -> Path:
    """A metrics document shaped like ``bastion assess --format json``."""
    findings = [
        {"rule_id": rule, "severity": "info", "properties": {"metrics": metrics,
                                                             "thresholds": {"clean_accuracy": 0.9}}}
        for rule, metrics in values.items()
    ]  # fmt: skip
    path.write_text(json.dumps({"schema": "bastion/scan-report", "findings": findings}))
    return path


def test_metrics_from_files(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj")
    accepted = _metrics_report(
        tmp_path / "m1.json",
        {
            "BST-ASR-001": {"clean_accuracy": 0.97, "robust_accuracy": {"0.03": 0.61}},
            "BST-APR-002": {"auc": 0.55, "tpr_at_1pct_fpr": 0.02},
            "BST-ASR-002": {"queries": 16},
        },
    )
    code, output = run("baseline", "set", root, "--metrics", accepted)
    assert code == 0 and "5 metric(s)" in " ".join(output.split()), output
    same = _metrics_report(
        tmp_path / "m2.json",
        {
            "BST-ASR-001": {"clean_accuracy": 0.96, "robust_accuracy": {"0.03": 0.62}},
            "BST-APR-002": {"auc": 0.56, "tpr_at_1pct_fpr": 0.02},
            "BST-ASR-002": {"queries": 16},
        },
    )
    code, report = _check(root, "--metrics", same)
    assert code == 0 and report["findings"] == []  # within tolerance or better
    worse = _metrics_report(
        tmp_path / "m3.json",
        {
            "BST-ASR-001": {"clean_accuracy": 0.97, "robust_accuracy": {"0.03": 0.40}},
            "BST-APR-002": {"auc": 0.71},
            "BST-ASR-002": {"queries": 64},
        },
    )
    code, report = _check(root, "--metrics", worse)
    assert code == 1
    worse_names = {f["location"]["member"]: f["message"] for f in _by_rule(report, "BST-POS-011")}
    assert set(worse_names) == {
        "BST-ASR-001/robust_accuracy/0.03",
        "BST-APR-002/auc",
        "BST-ASR-002/queries",
    }
    assert "higher is better" in worse_names["BST-ASR-001/robust_accuracy/0.03"]
    assert "lower is better" in worse_names["BST-APR-002/auc"]
    assert "which way is better is unknown" in worse_names["BST-ASR-002/queries"]
    missing = _by_rule(report, "BST-POS-012")
    assert [f["location"]["member"] for f in missing] == ["BST-APR-002/tpr_at_1pct_fpr"]
    code, report = _check(root)
    assert len(_by_rule(report, "BST-POS-012")) == 5  # nothing measured now
    (root / "bastion.toml").write_text(
        'fail_on = "high"\n[posture]\ntolerance = 0.3\n'
        'higher_is_better = ["*/queries"]\n[posture.tolerances]\n"BST-APR-*" = 0.2\n'
    )
    code, report = _check(root, "--metrics", worse)
    assert code == 1 and [f["location"]["member"] for f in _by_rule(report, "BST-POS-011")] == []
    assert _rules(report) == ["BST-POS-012"]


def test_metric_direction_and_tolerance() -> None:
    settings = PostureSettings()
    assert metric_deviation("BST-ASR-001/robust_accuracy/0.03", 0.6, 0.59, settings) is None
    assert metric_deviation("x/attack_success_rate", 0.1, 0.2, settings) is not None
    assert metric_deviation("x/attack_success_rate", 0.2, 0.1, settings) is None
    assert metric_deviation("x/membership_attack_accuracy", 0.5, 0.6, settings) is not None
    # privacy results: the attack's balanced accuracy is leakage; the model's accuracy is utility
    assert metric_deviation("BST-APR-002/balanced_accuracy", 0.55, 0.65, settings) is not None
    assert metric_deviation("BST-APR-002/balanced_accuracy", 0.65, 0.55, settings) is None
    assert metric_deviation("BST-APR-005/clean_accuracy", 0.9, 0.8, settings) is not None
    assert metric_deviation("BST-APD-001/label_issue_rate", 0.01, 0.2, settings) is not None
    custom = PostureSettings(tolerance=0.0, lower_is_better=("*/loss",))
    assert metric_deviation("train/loss", 1.0, 1.5, custom) is not None
    assert metric_deviation("train/loss", 1.0, 0.5, custom) is None


def test_metrics_from_the_latest_assess_run(
    tmp_path: Path, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend.use(monkeypatch)
    root = make_project(tmp_path / "proj")
    now = datetime.now(timezone.utc)

    def assess(value: float) -> None:
        finding = Finding(
            RuleId("BST-ASR-001"), "Robust accuracy", Severity.INFO, Confidence.HIGH,
            Location("model.onnx"), "measured",
            properties={"metrics": {"robust_accuracy": {"0.03": value}}},
        )  # fmt: skip
        history = backend.open()
        result = ScanResult(str(root), now, now, findings=(finding,))
        history.record(
            RunRecord.from_result(
                RunKind.ASSESS,
                result,
                project="proj",
                target=str(root),
                verdict="passed",
                exit_code=0,
            )
        )
        history.close()

    assess(0.61)
    code, output = run("baseline", "set", root)
    assert code == 0 and "1 metric(s)" in " ".join(output.split()), output
    document = json.loads((root / ".bastion-posture.json").read_text())
    assert document["metrics"] == [
        {"name": "BST-ASR-001/robust_accuracy/0.03", "value": 0.61, "threshold": None}
    ]
    assert document["metrics_source"] == "run 1"
    assess(0.35)
    code, report = _check(root)
    assert code == 1 and _rules(report) == ["BST-POS-011"]
    assert report["findings"][0]["location"]["path"] == "run 2"
    history = backend.open()
    try:
        kinds = [r.kind for r in history.runs()]
        posture_id = history.latest_posture("proj")
    finally:
        history.close()
    assert kinds[0] == "posture"  # the check itself was saved (store configured)
    assert posture_id is not None and posture_id[0] == 1
    (root / ".bastion-posture.json").unlink()  # the store's copy is used instead
    code, output = run("posture", "check", root, "-q", "-f", "markdown")
    assert code == 1 and "BST-POS-011" in output
    code, output = run("baseline", "show", root)
    assert code == 0 and "history store posture 1" in " ".join(output.split())


def test_gateway_configuration(project: Path) -> None:
    policy = project / "bastion.toml"
    policy.write_text(
        'fail_on = "high"\n[gateway]\ninstance = "gw"\n[gateway.limits]\nrate = "10/second"\n'
    )
    code, report = _check(project)
    assert code == 1 and _rules(report) == ["BST-POS-013"]
    assert "was added" in report["findings"][0]["message"]
    assert run("baseline", "set", project)[0] == 0
    policy.write_text(
        'fail_on = "high"\n[gateway.limits]\nrate = "10/second"\n[gateway]\ninstance = "gw"\n'
    )
    assert _check(project)[0] == 0  # same table, other order: same canonical digest
    policy.write_text(
        'fail_on = "high"\n[gateway]\ninstance = "gw"\n[gateway.limits]\nrate = "1000/second"\n'
    )
    code, report = _check(project)
    assert code == 1 and "changed" in report["findings"][0]["message"]


def test_finding_got_worse() -> None:
    now = datetime.now(timezone.utc)
    finding = Finding(
        RuleId("BST-PKL-003"), "Unknown class", Severity.HIGH, Confidence.HIGH,
        Location("m.pkl"), "instantiates acme.Model", evidence="acme.Model",
    )  # fmt: skip
    accepted = AcceptedFinding(finding.fingerprint, "BST-PKL-003", Severity.MEDIUM, "m.pkl")
    result = ScanResult("/p", now, now, findings=(finding,))
    seen = Observation(Posture("p"), result, evaluate(result, Policy()))
    deviations = compare(Posture("p", findings=(accepted,)), seen, PostureSettings())
    assert [d.rule_id for d in deviations] == ["BST-POS-002"]
    assert "accepted at medium, now high" in deviations[0].message


def test_other_formats(project: Path, marker_dir: Path, tmp_path: Path) -> None:
    (project / "models" / "helper.pkl").write_bytes(malicious_pickle(marker_dir))
    out = tmp_path / "posture.sarif"
    code, output = run("posture", "check", project, "-f", "sarif", "-o", out)
    assert code == 1, output
    sarif = json.loads(out.read_text())
    results = [r for run_ in sarif["runs"] for r in run_["results"]]
    assert {r["ruleId"] for r in results} >= {"BST-POS-001", "BST-POS-004"}
    described = {d["id"] for run_ in sarif["runs"] for d in run_["tool"]["driver"]["rules"]}
    assert {"BST-POS-001", "BST-POS-004"} <= described
    code, output = run("posture", "check", project, "-f", "markdown", "-q")
    assert code == 1 and "BST-POS-004" in output and "models/helper.pkl" in output
    code, output = run("posture", "check", project)
    assert code == 1 and "BST-POS-001" in output and "deviation(s) from" in output


def test_show(project: Path) -> None:
    code, output = run("baseline", "show", project)
    assert code == 0 and "posture of proj" in output and "models/classifier.safetensors" in output
    code, output = run("baseline", "show", project / ".bastion-posture.json", "--json")
    assert code == 0 and json.loads(output)["project"] == "proj"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "not valid JSON"),
        ('{"schema": "bastion/baseline"}', "not a posture baseline"),
        ('{"schema": "bastion/posture", "version": "9"}', "posture version '9'"),
        (
            '{"schema": "bastion/posture", "version": "1", "project": "p", "created": "x", '
            '"tool_version": "0", "models": [{"name": 1}]}',
            "models[0].name: must be a string",
        ),
        (
            '{"schema": "bastion/posture", "version": "1", "project": "p", "created": "x", '
            '"tool_version": "0", "findings": [{"fingerprint": "f", "rule_id": "r", '
            '"path": "p", "severity": "dire"}]}',
            "findings[0].severity",
        ),
    ],
)
def test_corrupt_posture_file(project: Path, content: str, problem: str) -> None:
    (project / ".bastion-posture.json").write_text(content)
    code, output = run("posture", "check", project)
    assert code == 2 and ".bastion-posture.json" in output and problem in output, output


def test_bad_input_exit_2(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj")
    code, output = run("posture", "check", root)
    assert code == 2 and "bastion baseline set" in output
    code, output = run("posture", "check", tmp_path / "missing")
    assert code == 2 and "no such file" in output
    code, output = run("posture", "check", root, "--baseline", tmp_path / "none.json")
    assert code == 2 and "posture file not found" in output
    code, output = run("baseline", "set", root, "--save", "--store",
                       "postgresql+psycopg://nobody@127.0.0.1:1/x")  # fmt: skip
    assert code == 2 and "127.0.0.1:1" in output
    assert run("baseline", "set", root)[0] == 0
    code, output = run("posture", "check", root, "--fail-on", "dire")
    assert code == 2 and "--fail-on" in output
    (root / "bastion.toml").write_text('[posture]\ntolerance = "big"\n')
    code, output = run("posture", "check", root)
    assert code == 2 and "posture.tolerance" in output and "bastion.toml" in output
    (root / "bastion.toml").write_text("[posture]\n")
    code, output = run("posture", "check", root, "--metrics", tmp_path / "nope.json")
    assert code == 2 and "metrics file not found" in output
    (tmp_path / "empty.json").write_text("{}")
    code, output = run("posture", "check", root, "--metrics", tmp_path / "empty.json")
    assert code == 2 and "no metrics found" in output


def test_posture_needs_no_database(tmp_path: Path) -> None:
    """Without a store, scan, set and check never import SQLAlchemy (the default path stays
    light: importing it costs about a second on a busy machine)."""
    import subprocess
    import sys

    root = make_project(tmp_path / "proj")
    code = (
        "import sys; from bastion.cli.app import app\n"
        "for args in (['scan', sys.argv[1], '-q'], ['baseline', 'set', sys.argv[1]],\n"
        "             ['posture', 'check', sys.argv[1], '-q']):\n"
        "    try: app(args)\n"
        "    except SystemExit as e: assert e.code == 0, e.code\n"
        "assert 'sqlalchemy' not in sys.modules, 'sqlalchemy imported'\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("BASTION_STORE")}
    done = subprocess.run(
        [sys.executable, "-c", code, str(root)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
