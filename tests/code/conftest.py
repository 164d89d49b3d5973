"""Helpers for the code, notebook and secrets analyzer tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

from bastion.core import ScanResult
from bastion.scan.code.analyzer import check_python
from bastion.scan.engine import ScanOptions, scan


def code_hits(source: str) -> list[tuple[str, int]]:
    """(rule id, line) of every code-rule hit in a dedented Python source."""
    result = check_python(textwrap.dedent(source))
    assert result.syntax_error is None, result.syntax_error
    return [(hit.rule.id, hit.line) for hit in result.hits]


def rule_ids(source: str) -> set[str]:
    """The rule ids hit in a dedented Python source."""
    return {rule for rule, _ in code_hits(source)}


def scan_tree(root: Path) -> ScanResult:
    """Scan a directory in process (no pool), as the CLI would."""
    return scan(root, ScanOptions(workers=1))
