"""The JSON report: a versioned document with ``findings``, ``skipped``, ``artifacts``, ``summary``.

Schema ``bastion/scan-report`` version 1: every finding's ``location.path`` is relative to the
scan root with ``/`` separators, ``location.member`` names the archive member, and
``fingerprint`` is stable across line moves so baselines survive edits.
"""

from __future__ import annotations

import json
from typing import Any

from bastion.core import Finding, Location, References, Skipped
from bastion.report.interface import Reporter, ReportInput

SCHEMA = "bastion/scan-report"
SCHEMA_VERSION = "1.0"


def location_dict(loc: Location) -> dict[str, Any]:
    """A location as JSON (absent parts omitted)."""
    data: dict[str, Any] = {"path": loc.path}
    for key in ("member", "line", "column", "offset", "cell"):
        value = getattr(loc, key)
        if value is not None:
            data[key] = value
    return data


def references_dict(refs: References) -> dict[str, list[str]]:
    """References as JSON lists."""
    return {
        "cwe": list(refs.cwe),
        "owasp": list(refs.owasp),
        "atlas": list(refs.atlas),
        "nist": list(refs.nist),
        "urls": list(refs.urls),
    }


def finding_dict(finding: Finding, *, blocking: bool, new: bool | None = None) -> dict[str, Any]:
    """One finding as JSON (``new``: not in the baseline, when one was given)."""
    data = {
        "rule_id": finding.rule_id,
        "title": finding.title,
        "severity": finding.severity.label,
        "confidence": finding.confidence.label,
        "category": finding.category,
        "message": finding.message,
        "evidence": finding.evidence,
        "remediation": finding.remediation,
        "location": location_dict(finding.location),
        "references": references_dict(finding.references),
        "fingerprint": finding.fingerprint,
        "blocking": blocking,
        "properties": _jsonable(dict(finding.properties)),
    }
    if new is not None:
        data["new"] = new
    return data


def skipped_dict(skipped: Skipped) -> dict[str, Any]:
    """One skip as JSON."""
    data: dict[str, Any] = {
        "path": skipped.path,
        "reason": skipped.reason.value,
        "detail": skipped.detail,
    }
    if skipped.member:
        data["member"] = skipped.member
    if skipped.format:
        data["format"] = skipped.format
    return data


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def report_dict(report: ReportInput) -> dict[str, Any]:
    """The whole report as a JSON-ready dict."""
    result, verdict = report.result, report.verdict
    counts = dict.fromkeys(("info", "low", "medium", "high", "critical"), 0)
    for finding in verdict.findings:
        counts[finding.severity.label] += 1
    blocking_ids = {id(f) for f in verdict.blocking}
    new_ids = None if verdict.new_vs_baseline is None else {id(f) for f in verdict.new_vs_baseline}
    return {
        "schema": SCHEMA,
        "version": SCHEMA_VERSION,
        "tool": {"name": "bastion", "version": report.tool_version},
        "target": result.root,
        "started": result.started.isoformat(),
        "finished": result.finished.isoformat(),
        "summary": {
            "passed": verdict.passed,
            "exit_code": int(verdict.exit_code),
            "reasons": list(verdict.reasons),
            "findings": len(verdict.findings),
            "by_severity": counts,
            "blocking": len(verdict.blocking),
            "suppressed": len(verdict.suppressed),
            "new_since_baseline": (
                None if verdict.new_vs_baseline is None else len(verdict.new_vs_baseline)
            ),
            "artifacts": len(result.artifacts),
            "skipped": len(result.skipped),
            "not_applicable": result.not_applicable,
            "duration_seconds": round(result.duration, 3),
        },
        "findings": [
            finding_dict(
                f,
                blocking=id(f) in blocking_ids,
                new=None if new_ids is None else id(f) in new_ids,
            )
            for f in verdict.findings
        ],
        "suppressed": [
            {
                **finding_dict(s.finding, blocking=False),
                "suppression": {"reason": s.reason, "kind": s.kind},
            }
            for s in verdict.suppressed
        ],
        "notes": list(result.notes),
        "skipped": [skipped_dict(s) for s in result.skipped],
        "artifacts": [
            {
                "path": a.path,
                **({"member": a.member} if a.member else {}),
                "format": a.format,
                "kind": a.kind.value,
                "size": a.size,
                **({"sha256": a.sha256} if a.sha256 else {}),
            }
            for a in result.artifacts
        ],
    }


class JsonReporter(Reporter):
    """Pretty-printed JSON, stable key order."""

    name = "json"

    def render(self, report: ReportInput) -> str:
        """The JSON document."""
        return json.dumps(report_dict(report), indent=2, ensure_ascii=False) + "\n"
