"""Invariant 4: a secret found is redacted in every output — every report format, suppressed
findings included, through the real CLI."""

from __future__ import annotations

import html
import json
import random
import string
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bastion.cli.app import app
from bastion.policy.evaluate import evaluate
from bastion.policy.model import Policy
from bastion.registry import default_registry
from bastion.report import OutputFormat, ReportInput, reporter_for
from bastion.scan.code.suppress import InlineSuppressor
from tests.code.conftest import scan_tree

_RNG = random.Random(99)


def _token(prefix: str, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    while True:
        body = "".join(_RNG.choice(alphabet) for _ in range(n))
        if alphabet != string.ascii_letters + string.digits or (
            any(c.isdigit() for c in body) and body.lower() != body and body.upper() != body
        ):
            return prefix + body


@pytest.fixture
def leaky_project(tmp_path: Path) -> tuple[Path, list[str]]:
    hf = _token("hf_", 34)
    openai = _token("sk-proj-", 64)
    wandb = _token("", 40, "0123456789abcdef")
    db_password = _token("", 18)
    password = "Zq9!vLm2#pR7"
    gh = _token("ghp_", 36)
    suppressed = _token("r8_", 37)
    root = tmp_path / "project"
    root.mkdir()
    (root / "train.py").write_text(
        f'HF_TOKEN = "{hf}"\n'
        f'OPENAI = "{openai}"\n'
        f'DB = "postgresql://etl:{db_password}@db.internal/dw"\n'
        f'REPLICATE = "{suppressed}"  # bastion: ignore[BST-SEC-019] revoked test token\n'
    )
    (root / ".env").write_text(f"WANDB_API_KEY={wandb}\nADMIN_PASSWORD={password}\n")
    notebook = {
        "nbformat": 4,
        "cells": [
            {
                "cell_type": "code",
                "metadata": {},
                "source": [f"os.environ['GH'] = '{gh}'\n"],
                "outputs": [
                    {"output_type": "stream", "name": "stdout", "text": f"token={hf}\n"},
                ],
            }
        ],
    }
    (root / "explore.ipynb").write_text(json.dumps(notebook))
    return root, [hf, openai, wandb, db_password, password, gh, suppressed]


def test_no_report_format_contains_a_raw_secret(leaky_project: tuple[Path, list[str]]) -> None:
    root, secrets = leaky_project
    result = scan_tree(root)
    verdict = evaluate(result, Policy(), suppressors=(InlineSuppressor(root),))
    found = {f.rule_id for f in verdict.findings} | {s.finding.rule_id for s in verdict.suppressed}
    assert {"BST-SEC-011", "BST-SEC-012", "BST-SEC-013", "BST-SEC-014", "BST-SEC-016"} <= found
    assert {"BST-SEC-005", "BST-NB-002", "BST-SEC-019"} <= found
    assert [s.finding.rule_id for s in verdict.suppressed] == ["BST-SEC-019"]
    report = ReportInput(result, verdict, default_registry())
    for fmt in OutputFormat:
        text = reporter_for(fmt).render(report)
        unescaped = html.unescape(text)
        for secret in secrets:
            assert secret not in text and secret not in unescaped, (fmt, secret[:4])
            assert secret[4:] not in unescaped, (fmt, secret[:4])


def test_cli_outputs_never_contain_a_raw_secret(
    leaky_project: tuple[Path, list[str]], tmp_path: Path
) -> None:
    root, secrets = leaky_project
    runner = CliRunner()
    outputs = []
    table = runner.invoke(app, ["scan", str(root), "-q", "-v"])
    assert table.exit_code == 1
    outputs.append(table.output)
    for fmt in ("json", "sarif"):
        target = tmp_path / f"report.{fmt}"
        run = runner.invoke(app, ["scan", str(root), "-q", "-f", fmt, "-o", str(target)])
        assert run.exit_code == 1, run.output
        outputs.append(target.read_text())
    for text in outputs:
        for secret in secrets:
            assert secret not in text
