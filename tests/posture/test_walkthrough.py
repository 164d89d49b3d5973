"""The README's "Posture over time" walk-through, command for command.

Day 1: a project is scanned and its posture accepted. Day 2: a malicious model (a pickle whose
payload would only create a marker file) and a vulnerable dependency (torch 1.13.0,
CVE-2022-45907, from the real OSV records in ``tests/deps/osv/``) arrive; ``posture check`` fails
and names both. The commands are read from README.md, so the documentation cannot drift from
what is tested.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from tests.posture.helpers import make_project, malicious_pickle, run

ROOT = Path(__file__).resolve().parents[2]
OSV = ROOT / "tests" / "deps" / "osv"


def readme_commands() -> list[list[str]]:
    """The ``$ bastion …`` lines of the walk-through's console block."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Posture over time", 1)[1].split("\n## ", 1)[0]
    block = section.split("```console", 1)[1].split("```", 1)[0]
    return [
        shlex.split(line[len("$ bastion ") :])
        for line in block.splitlines()
        if line.startswith("$ bastion ")
    ]


def test_readme_walkthrough(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, marker_dir: Path, isolated_env: Path
) -> None:
    commands = readme_commands()
    assert [c[:2] for c in commands] == [
        ["scan", "."],
        ["baseline", "set"],
        ["posture", "check"],
        ["scan", "."],
        ["history"],
        ["diff", "latest~1"],
        ["report", "--standard"],
    ]
    project = make_project(tmp_path / "fraud-model")
    (project / "bastion.toml").write_text(f'fail_on = "high"\nvuln_db = "{OSV}"\n')
    monkeypatch.chdir(project)
    outputs = []
    for args in commands:
        if args[:2] == ["posture", "check"]:  # day 2 arrives
            (project / "models" / "preprocess.pkl").write_bytes(malicious_pickle(marker_dir))
            with (project / "requirements.txt").open("a") as handle:
                handle.write("torch==1.13.0\n")
        outputs.append(run(*args))
    (scan1, out1), (set_code, _), (check, report), (scan2, _), _, (diff, changes), _ = outputs
    assert scan1 == 0 and "scan run 1 saved" in out1
    assert set_code == 0 and (project / ".bastion-posture.json").is_file()
    flat = " ".join(report.split())
    assert check == 1, report
    assert "new BST-PKL-001 (critical)" in flat and "models/preprocess.pkl" in flat
    assert "new BST-DEP-001 (critical)" in flat and "CVE-2022-45907" in flat
    assert "new dependency torch==1.13.0" in flat
    assert "BST-POS-004" in flat
    assert "FAILED: 4 deviation(s) from the posture baseline at or above low." in flat
    assert scan2 == 1
    assert diff == 0 and "BST-PKL-001" in changes and "BST-DEP-001" in changes
    html = (project / "owasp-ml.html").read_text()
    assert "ML06:2023" in html and "BST-PKL-001" in html
    code, listing = run("history", "--format", "json")
    assert code == 0
    assert [r["kind"] for r in json.loads(listing)] == ["scan", "scan"]
