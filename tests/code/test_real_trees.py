"""Precision on real code: the code and secrets analyzers over scikit-learn's and PyTorch's own
installed source trees, compared with the checked-in counts in ``real_tree_counts.json``.

Every high or critical finding on those trees is listed in the JSON with a written defence (why
it is a true positive); a new one fails this test until it is defended there or the rule is
fixed. Counts are per rule. The recorded library versions must match the installed ones (the
test is skipped otherwise: other versions have other code). To re-record after a deliberate rule
change: ``BASTION_RECORD_TREES=1 .venv/bin/pytest tests/code/test_real_trees.py -m slow`` and
review the diff (new high findings get an empty defence that the test then rejects).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bastion.core import Finding, Severity
from bastion.registry import Registry
from bastion.scan.code.analyzer import PythonAnalyzer
from bastion.scan.engine import ScanOptions, scan
from bastion.scan.notebooks.analyzer import NotebookAnalyzer
from bastion.scan.secrets.analyzer import SecretsAnalyzer

COUNTS = Path(__file__).with_name("real_tree_counts.json")
TREES = {"sklearn": "scikit-learn", "torch": "torch"}
FAMILIES = ("BST-CODE", "BST-SEC", "BST-NB")


def _registry() -> Registry:
    registry = Registry()
    for analyzer in (PythonAnalyzer, NotebookAnalyzer, SecretsAnalyzer):
        registry.add_analyzer(analyzer)
    return registry


def _tree_root(package: str) -> Path:
    module = __import__(package)
    assert module.__file__ is not None
    return Path(module.__file__).parent


def _scan(package: str) -> list[Finding]:
    # One process, only these analyzers: the pool would load the default registry.
    result = scan(_tree_root(package), ScanOptions(workers=1), registry=_registry())
    return [f for f in result.findings if f.rule_id.startswith(FAMILIES)]


def _key(finding: Finding) -> str:
    return f"{finding.rule_id} {finding.location.display()}"


def _record(package: str, findings: list[Finding], previous: dict[str, Any]) -> dict[str, Any]:
    defences = {item["finding"]: item["defence"] for item in previous.get("high", [])}
    return {
        "version": importlib.metadata.version(TREES[package]),
        "counts": dict(sorted(Counter(f.rule_id for f in findings).items())),
        "high": [
            {"finding": _key(f), "message": f.message, "defence": defences.get(_key(f), "")}
            for f in findings
            if f.severity >= Severity.HIGH
        ],
    }


@pytest.mark.slow
@pytest.mark.parametrize("package", sorted(TREES))
def test_counts_and_defended_high_findings(package: str) -> None:
    recorded = json.loads(COUNTS.read_text())
    expected = recorded["trees"][package]
    installed = importlib.metadata.version(TREES[package])
    if os.environ.get("BASTION_RECORD_TREES") == "1":
        recorded["trees"][package] = _record(package, _scan(package), expected)
        COUNTS.write_text(json.dumps(recorded, indent=2, ensure_ascii=False) + "\n")
        pytest.skip("recorded")
    if installed != expected["version"]:
        pytest.skip(
            f"{TREES[package]} {installed} installed, counts recorded for {expected['version']}"
        )
    findings = _scan(package)
    assert dict(sorted(Counter(f.rule_id for f in findings).items())) == expected["counts"]
    high = {_key(f) for f in findings if f.severity >= Severity.HIGH}
    defended = {item["finding"] for item in expected["high"] if item["defence"].strip()}
    assert high == defended, f"undefended or missing: {sorted(high ^ defended)}"
