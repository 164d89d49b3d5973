"""Scan helpers for the pickle tests."""

from __future__ import annotations

from pathlib import Path

from bastion.core import Finding, ScanResult, Severity
from bastion.scan.engine import ScanOptions, scan
from bastion.scan.interface import ScanSettings


def scan_bytes(
    tmp_path: Path, data: bytes, name: str = "model.pkl", **settings: tuple[str, ...]
) -> ScanResult:
    """Write ``data`` to ``tmp_path/name`` and scan it (nothing is ever loaded)."""
    target = tmp_path / name
    target.write_bytes(data)
    return scan(target, ScanOptions(settings=ScanSettings(**settings)))  # type: ignore[arg-type]


def blocking(result: ScanResult, threshold: Severity = Severity.HIGH) -> list[Finding]:
    """Findings that fail the default gate."""
    return [f for f in result.findings if f.severity >= threshold]


def rules(result: ScanResult) -> set[str]:
    """Rule ids found."""
    return {f.rule_id for f in result.findings}


def globals_flagged(result: ScanResult) -> set[str]:
    """Pickle globals named by findings."""
    return {str(f.properties["global"]) for f in result.findings if "global" in f.properties}
