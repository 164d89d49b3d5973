"""Scan generated samples and say whether bastion's default policy blocks them.

A sample is blocked when the scan reports at least one finding at or above HIGH (``bastion scan``
exits 1). Nothing here loads a sample; the scan is static.
"""

from __future__ import annotations

from pathlib import Path

from bastion.core import Finding, ScanResult, Severity
from bastion.scan.engine import ScanOptions, scan


def scan_tree(root: Path) -> ScanResult:
    """Scan a file or directory in process."""
    return scan(root, ScanOptions(workers=1))


def scan_sample(tmp_path: Path, name: str, data: bytes) -> ScanResult:
    """Write ``data`` to ``tmp_path/samples/name`` and scan that file."""
    target = tmp_path / "samples" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return scan_tree(target)


def blocking(result: ScanResult) -> list[Finding]:
    """Findings that fail the default gate (HIGH and above)."""
    return [f for f in result.findings if f.severity >= Severity.HIGH]


def describe(result: ScanResult) -> str:
    """A short account of a result, for assertion messages."""
    lines = [
        f"{f.rule_id} {f.severity.name} {f.location.member or ''}: {f.message[:160]}"
        for f in result.findings
    ]
    lines += [f"skip {s.reason.value} {s.member or ''}: {s.detail[:160]}" for s in result.skipped]
    return "\n".join(lines) or "(nothing reported)"


def assert_blocked(result: ScanResult, *rule_prefixes: str) -> list[Finding]:
    """The default policy blocks the sample (optionally through one of the given rule ids)."""
    found = blocking(result)
    assert found, "bypass: nothing at HIGH or above\n" + describe(result)
    if rule_prefixes:
        assert any(f.rule_id.startswith(rule_prefixes) for f in found), describe(result)
    return found


def assert_passes(result: ScanResult) -> None:
    """The default policy lets a benign sample through."""
    assert not blocking(result), "false positive:\n" + describe(result)
