"""The bundled example projects: the vulnerable one trips exactly these rules, the fixed one none.

The projects are copied to a temporary folder and their models built there (the builder writes
the one malicious checkpoint at test time; its payload is inert and never runs).
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bastion.cli.app import app
from bastion.config import find_config, load_config
from bastion.scan.engine import ScanOptions, scan
from bastion.scan.interface import ScanSettings

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

VULNERABLE_RULES = {
    # models
    "BST-PKL-001",
    # ML code and notebooks
    "BST-CODE-002", "BST-CODE-003", "BST-CODE-005", "BST-CODE-006", "BST-CODE-007",
    "BST-CODE-009", "BST-CODE-010", "BST-CODE-011", "BST-CODE-012", "BST-CODE-017",
    "BST-NB-001", "BST-NB-004", "BST-NB-006",
    # secrets
    "BST-SEC-013", "BST-SEC-016", "BST-SEC-017",
    # dependencies: torch 1.13.0 (CVE-2022-45907), unpinned, extra index over HTTP, typosquat
    "BST-DEP-001", "BST-DEP-003", "BST-DEP-008", "BST-DEP-009", "BST-DEP-011",
    # Dockerfile, Kubernetes, KServe, Kubeflow Pipelines
    "BST-DKR-001", "BST-DKR-002", "BST-DKR-004", "BST-DKR-005", "BST-DKR-006", "BST-DKR-007",
    "BST-DKR-008",
    "BST-K8S-001", "BST-K8S-002", "BST-K8S-003", "BST-K8S-004", "BST-K8S-005", "BST-K8S-006",
    "BST-K8S-007", "BST-K8S-008", "BST-K8S-010", "BST-K8S-011", "BST-K8S-012",
    "BST-KSV-001", "BST-KSV-003", "BST-KSV-004",
    "BST-KFP-002", "BST-KFP-003", "BST-KFP-004", "BST-KFP-005", "BST-KFP-006",
}  # fmt: skip


def _builder() -> object:
    spec = importlib.util.spec_from_file_location("build_models", EXAMPLES / "build_models.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("examples")
    for name in ("vulnerable-project", "fixed-project", "osv"):
        shutil.copytree(EXAMPLES / name, root / name, ignore=shutil.ignore_patterns("models"))
    builder = _builder()
    builder.build(root / "vulnerable-project" / "models", malicious=True)  # type: ignore[attr-defined]
    builder.build(root / "fixed-project" / "models", malicious=False)  # type: ignore[attr-defined]
    return root


def _scan(path: Path) -> tuple[set[str], tuple[str, ...], int]:
    policy = load_config(find_config(path)).policy
    settings = ScanSettings(limits=policy.limits, vuln_db=policy.vuln_db)
    result = scan(path, ScanOptions(settings=settings))
    return {f.rule_id for f in result.findings}, result.notes, len(result.skipped)


def test_vulnerable_project_trips_exactly_these_rules(projects: Path) -> None:
    rules, notes, skipped = _scan(projects / "vulnerable-project")
    assert rules == VULNERABLE_RULES
    assert any("checked against OSV data" in n for n in notes)
    assert skipped == 0


def test_fixed_project_is_clean(projects: Path) -> None:
    rules, notes, skipped = _scan(projects / "fixed-project")
    assert rules == set()
    assert any("checked against OSV data" in n for n in notes)
    assert skipped == 0


def test_cli_gate_on_both(projects: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["scan", str(projects / "vulnerable-project"), "-q"]).exit_code == 1
    fixed = runner.invoke(app, ["scan", str(projects / "fixed-project"), "-q"])
    assert fixed.exit_code == 0, fixed.output
