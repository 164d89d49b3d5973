"""Inline suppressions: parsing, the reason requirement (BST-CODE-019), and the CLI wiring."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bastion.cli.app import app
from bastion.core import Confidence, Finding, Location, RuleId, Severity
from bastion.policy.evaluate import evaluate
from bastion.policy.model import Policy
from bastion.scan.code.suppress import DirectiveMap, InlineSuppressor, parse_directives
from tests.code.conftest import scan_tree

runner = CliRunner()


@pytest.mark.parametrize(
    ("line", "ids", "reason", "problem"),
    [
        (
            "x()  # bastion: ignore[BST-CODE-003] cache we wrote",
            ("BST-CODE-003",),
            "cache we wrote",
            None,
        ),
        (
            "# bastion: ignore[bst-code-003, BST-SEC-013] - fixture",
            ("BST-CODE-003", "BST-SEC-013"),
            "fixture",
            None,
        ),
        ("x()  # bastion: ignore[BST-CODE-003]", ("BST-CODE-003",), "", "gives no reason"),
        ("x()  # bastion: ignore[BST-CODE-003] ok", ("BST-CODE-003",), "ok", "gives no reason"),
        ("x()  # bastion: ignore because I said so", (), "", "names no rule id in [brackets]"),
        ("x()  # bastion: ignore[] reason here", (), "reason here", "names no rule id"),
        (
            "x()  # bastion: ignore[B301] reason here",
            ("B301",),
            "reason here",
            "bad rule id 'B301'",
        ),
        (
            "hostPID: true  # bastion: ignore[BST-K8S-004] node exporter reads host processes",
            ("BST-K8S-004",),
            "node exporter reads host processes",
            None,
        ),
    ],
)
def test_parse(line: str, ids: tuple[str, ...], reason: str, problem: str | None) -> None:
    (directive,) = parse_directives(line)
    assert (directive.ids, directive.reason, directive.problem) == (ids, reason, problem)


def test_scope_same_line_or_standalone_line_above() -> None:
    text = (
        "a = 1  # bastion: ignore[BST-CODE-001] trailing\n"  # 1: applies to line 1 only
        "b = 2\n"  # 2
        "# bastion: ignore[BST-CODE-002] standalone above\n"  # 3: applies to line 4
        "c = 3\n"  # 4
    )
    directives = DirectiveMap(parse_directives(text))
    assert directives.reason_for("BST-CODE-001", 1) == "trailing"
    assert directives.reason_for("BST-CODE-001", 2) is None
    assert directives.reason_for("BST-CODE-002", 4) == "standalone above"
    assert directives.reason_for("BST-CODE-002", 5) is None
    assert directives.reason_for("BST-CODE-003", 4) is None
    assert directives.reason_for("BST-CODE-002", None) == "standalone above"


SOURCE = """\
import pickle


def load_cache(blob):
    a = pickle.loads(blob)  # bastion: ignore[BST-CODE-003] blob comes from our own cache dir
    # bastion: ignore[BST-CODE-003] same cache, read back by the trainer
    b = pickle.loads(blob)
    c = pickle.loads(blob)  # bastion: ignore[BST-CODE-003]
    d = pickle.loads(blob)  # bastion: ignore[BST-CODE-008] wrong rule named
    return a, b, c, d
"""


def test_suppressed_findings_are_reported_with_reason(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(SOURCE)
    result = scan_tree(tmp_path)
    verdict = evaluate(result, Policy(), suppressors=(InlineSuppressor(tmp_path),))
    suppressed = sorted((s.finding.location.line, s.reason) for s in verdict.suppressed)
    assert suppressed == [
        (5, "blob comes from our own cache dir"),
        (7, "same cache, read back by the trainer"),
    ]
    reported = sorted((f.rule_id, f.location.line) for f in verdict.findings)
    assert reported == [
        ("BST-CODE-003", 8),  # the reason-less directive suppresses nothing…
        ("BST-CODE-003", 9),  # …nor does one naming another rule
        ("BST-CODE-019", 8),  # …and is reported itself
    ]


def test_cli_json_lists_suppressions(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(SOURCE)
    out = tmp_path / "report.json"
    result = runner.invoke(app, ["scan", str(tmp_path), "-f", "json", "-o", str(out), "-q"])
    assert result.exit_code == 1, result.output
    report = json.loads(out.read_text())
    assert report["summary"]["suppressed"] == 2
    assert {s["suppression"]["reason"] for s in report["suppressed"]} == {
        "blob comes from our own cache dir",
        "same cache, read back by the trainer",
    }
    assert {s["suppression"]["kind"] for s in report["suppressed"]} == {"inSource"}
    assert {f["rule_id"] for f in report["findings"]} == {"BST-CODE-003", "BST-CODE-019"}


def test_single_file_target_and_escapes(tmp_path: Path) -> None:
    path = tmp_path / "t.py"
    path.write_text("x = 1  # bastion: ignore[BST-CODE-001] reviewed in PR 12\n")
    finding = Finding(
        RuleId("BST-CODE-001"), "t", Severity.HIGH, Confidence.HIGH, Location("t.py", line=1), "m"
    )
    assert InlineSuppressor(path)(finding) == "reviewed in PR 12"
    outside = Finding(
        finding.rule_id, "t", Severity.HIGH, finding.confidence, Location("../t.py", line=1), "m"
    )
    assert InlineSuppressor(tmp_path)(outside) is None
    member = Finding(
        finding.rule_id,
        "t",
        Severity.HIGH,
        finding.confidence,
        Location("t.py", member="x", line=1),
        "m",
    )
    assert InlineSuppressor(tmp_path)(member) is None


def test_notebook_cells_and_outputs(tmp_path: Path) -> None:
    cells = [
        {
            "cell_type": "code",
            "metadata": {},
            "source": [
                "# bastion: ignore[BST-NB-004] synthetic demo records\n",
                "import pickle\n",
                "x = pickle.loads(b)  # bastion: ignore[BST-CODE-003] bytes from the test\n",
            ],
            "outputs": [{"output_type": "stream", "name": "stdout", "text": "mel@corp-y.io\n"}],
        }
    ]
    (tmp_path / "n.ipynb").write_text(json.dumps({"nbformat": 4, "cells": cells}))
    result = scan_tree(tmp_path)
    verdict = evaluate(result, Policy(), suppressors=(InlineSuppressor(tmp_path),))
    assert sorted(s.finding.rule_id for s in verdict.suppressed) == ["BST-CODE-003", "BST-NB-004"]
    assert verdict.findings == ()
