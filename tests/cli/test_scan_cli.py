"""`bastion scan` and `bastion rules` end to end: exit codes, reports, policy files."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bastion.cli.app import app
from tests.conftest import inert_command
from tests.formats.pickle import asm
from tests.formats.ziptricks import Member, build_zip

runner = CliRunner()


@pytest.fixture
def project(tmp_path: Path, marker_dir: Path) -> Path:
    root = tmp_path / "project"
    (root / "models").mkdir(parents=True)
    (root / "models" / "clean.pkl").write_bytes(pickle.dumps({"w": [1.0, 2.0]}))
    payload = asm.call("os", "system", inert_command(marker_dir), protocol=2)
    (root / "models" / "bad.pt").write_bytes(
        build_zip([Member("bad/data.pkl", payload), Member("bad/version", b"3\n")])
    )
    (root / "models" / "helper.pkl").write_bytes(asm.call("mypkg.tools", "prepare", "x"))
    return root


def _invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_exit_codes(project: Path, tmp_path: Path) -> None:
    code, output = _invoke("scan", str(project))
    assert code == 1
    assert "BST-PKL-001" in output and "FAILED" in output
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "m.pkl").write_bytes(pickle.dumps([1, 2]))
    assert _invoke("scan", str(clean))[0] == 0
    code, output = _invoke("scan", str(tmp_path / "missing"))
    assert code == 2 and "no such file" in output


def test_json_report(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    code, _ = _invoke("scan", str(project), "--format", "json", "-o", str(out))
    assert code == 1
    report = json.loads(out.read_text())
    assert report["schema"] == "bastion/scan-report" and report["version"] == "1.0"
    assert {"findings", "skipped", "artifacts", "summary"} <= report.keys()
    [bad] = [f for f in report["findings"] if f["rule_id"] == "BST-PKL-001"]
    assert bad["location"]["path"] == "models/bad.pt"
    assert bad["location"]["member"] == "bad/data.pkl"
    assert bad["blocking"] is True and bad["severity"] == "critical"
    assert "CWE-502" in bad["references"]["cwe"]
    assert "ML06:2023" in bad["references"]["owasp"]
    assert report["summary"]["passed"] is False and report["summary"]["exit_code"] == 1
    members = {(a["path"], a.get("member")) for a in report["artifacts"]}
    assert ("models/bad.pt", "bad/data.pkl") in members


def test_sarif_report(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.sarif"
    _invoke("scan", str(project), "--format", "sarif", "-o", str(out))
    sarif = json.loads(out.read_text())
    assert sarif["version"] == "2.1.0" and sarif["$schema"].endswith("sarif-2.1.0.json")
    categories = [run["automationDetails"]["id"] for run in sarif["runs"]]
    assert len(categories) == len(set(categories)) and "bastion/models/" in categories
    models = next(r for r in sarif["runs"] if r["automationDetails"]["id"] == "bastion/models/")
    rules = models["tool"]["driver"]["rules"]
    for rule in rules:
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
        assert rule["help"]["text"] and 0 < float(rule["properties"]["security-severity"]) <= 10
    for result in models["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert not uri.startswith("/") and "\\" not in uri
        assert result["partialFingerprints"]["primaryLocationLineHash"].endswith(":1")


def test_fingerprints_are_stable_across_runs_and_roots(project: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    _invoke("scan", str(project), "-f", "json", "-o", str(first))
    moved = tmp_path / "elsewhere"
    project.rename(moved)
    _invoke("scan", str(moved), "-f", "json", "-o", str(second))
    prints = [
        {f["fingerprint"] for f in json.loads(p.read_text())["findings"]} for p in (first, second)
    ]
    assert prints[0] == prints[1]


def test_policy_file_and_flags(project: Path) -> None:
    (project / "bastion.toml").write_text(
        'fail_on = "critical"\nallow_globals = ["mypkg.*"]\nexclude = ["models/bad.pt"]\n'
    )
    code, output = _invoke("scan", str(project))
    assert code == 0, output
    assert "prepare" not in output  # allowed by the policy
    code, _ = _invoke("scan", str(project), "--fail-on", "high", "--exclude", "nothing")
    assert code == 0  # helper.pkl is allowed; bad.pt still excluded by the file
    (project / "bastion.toml").write_text('fail_on = "high"\n')
    assert _invoke("scan", str(project))[0] == 1


def test_pyproject_tool_section(project: Path) -> None:
    (project / "pyproject.toml").write_text('[tool.bastion]\ndisable = ["BST-PKL"]\n')
    code, output = _invoke("scan", str(project))
    assert code == 0, output


def test_invalid_policy_names_file_and_key(project: Path) -> None:
    config = project / "bastion.toml"
    config.write_text('fail_on = "severe"\n')
    code, output = _invoke("scan", str(project))
    assert code == 2 and "bastion.toml" in output and "fail_on" in output
    config.write_text("fail_on = [\n")
    code, output = _invoke("scan", str(project))
    assert code == 2 and "invalid TOML" in output
    config.write_text("unknown_key = 1\n")
    code, output = _invoke("scan", str(project))
    assert code == 2 and "unknown_key" in output


def test_fail_on_skipped(tmp_path: Path) -> None:
    (tmp_path / "weights.bin").write_bytes(bytes(range(256)))
    assert _invoke("scan", str(tmp_path), "--fail-on", "critical")[0] == 0
    assert _invoke("scan", str(tmp_path), "--fail-on", "critical", "--fail-on-skipped")[0] == 1


def test_unwritable_output_leaves_nothing(project: Path, tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "dir" / "r.json"
    code, output = _invoke("scan", str(project), "-f", "json", "-o", str(target))
    assert code == 2 and "does not exist" in output
    assert not target.parent.exists()


def test_rules_list_and_explain() -> None:
    code, output = _invoke("rules", "--json")
    assert code == 0
    ids = {r["id"] for r in json.loads(output)}
    assert {"BST-PKL-001", "BST-ARC-001", "BST-SCN-002"} <= ids
    code, output = _invoke("rules", "explain", "bst-pkl-001")
    assert code == 0 and "weights_only" in output and "CWE-502" in output
    code, output = _invoke("rules", "explain", "BST-NOPE-999")
    assert code == 2 and "no rule" in output


def test_version() -> None:
    code, output = _invoke("--version")
    assert code == 0 and output.startswith("bastion ")


def test_baseline_blocks_only_new_findings(project: Path, tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    code, _ = _invoke("baseline", "create", str(project), "-o", str(baseline))
    assert code == 0 and "BST-PKL-001" in baseline.read_text()
    assert _invoke("scan", str(project), "--baseline", str(baseline))[0] == 0
    (project / "models" / "new.pkl").write_bytes(asm.call("subprocess", "run", "id"))
    out = tmp_path / "r.json"
    code, _ = _invoke(
        "scan", str(project), "--baseline", str(baseline), "-f", "json", "-o", str(out)
    )
    assert code == 1
    report = json.loads(out.read_text())
    assert report["summary"]["new_since_baseline"] == 1
    assert [f["location"]["path"] for f in report["findings"] if f["new"]] == ["models/new.pkl"]
    sarif = tmp_path / "r.sarif"
    _invoke("scan", str(project), "--baseline", str(baseline), "-f", "sarif", "-o", str(sarif))
    states = {
        r["baselineState"] for run in json.loads(sarif.read_text())["runs"] for r in run["results"]
    }
    assert states == {"new", "unchanged"}


def test_expired_baseline_entries_stop_suppressing(project: Path, tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    _invoke("baseline", "create", str(project), "-o", str(baseline))
    data = json.loads(baseline.read_text())
    for entry in data["findings"]:
        entry["expires"] = "2000-01-01"
        entry["justification"] = "accepted during the migration"
    baseline.write_text(json.dumps(data))
    assert _invoke("scan", str(project), "--baseline", str(baseline))[0] == 1
    baseline.write_text('{"schema": "other"}')
    code, output = _invoke("scan", str(project), "--baseline", str(baseline))
    assert code == 2 and "not a bastion baseline" in output
