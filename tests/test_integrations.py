"""The CI integration files (pre-commit, GitHub Action, GitLab) stay in sync with the CLI."""

from __future__ import annotations

import os
import re
from pathlib import Path

import yaml
from typer.testing import CliRunner

from bastion.cli.app import app
from tests.formats.pickle import asm

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def _scan_flags() -> set[str]:
    help_text = runner.invoke(app, ["scan", "--help"], terminal_width=200).output
    return set(re.findall(r"--[a-z][a-z-]+", help_text))


def _flags_in(command: str) -> set[str]:
    return set(re.findall(r"--[a-z][a-z-]+", command))


def test_pre_commit_hooks() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    ids = {h["id"] for h in hooks}
    assert ids == {"bastion-scan", "bastion-scan-all"}
    for hook in hooks:
        assert hook["entry"].startswith("bastion scan")
        assert _flags_in(hook["entry"]) <= _scan_flags()


def test_github_action_uses_existing_flags() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    scripts = " ".join(step.get("run", "") for step in action["runs"]["steps"])
    assert "bastion scan" in scripts
    assert _flags_in(scripts) <= _scan_flags()
    assert any("upload-sarif" in step.get("uses", "") for step in action["runs"]["steps"])


def test_gitlab_template_uses_existing_flags_and_reports_junit() -> None:
    template = yaml.safe_load((ROOT / "ci" / "gitlab-bastion.yml").read_text())
    job = template["bastion"]
    assert _flags_in(" ".join(job["script"])) <= _scan_flags()
    assert job["artifacts"]["reports"]["junit"] == "bastion-junit.xml"


def test_pre_commit_style_multiple_paths(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "bad.pkl").write_bytes(asm.call("os", "system", "id"))
    (tmp_path / "models" / "ok.pkl").write_bytes(asm.proto(2) + asm.NONE + asm.STOP)
    (tmp_path / "other.pkl").write_bytes(asm.call("os", "system", "id"))
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        result = runner.invoke(app, ["scan", "models/bad.pkl", "models/ok.pkl", "-f", "json"])
    finally:
        os.chdir(cwd)
    assert result.exit_code == 1
    assert '"path": "models/bad.pkl"' in result.output
    assert "other.pkl" not in result.output
