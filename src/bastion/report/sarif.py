"""SARIF 2.1.0 for GitHub code scanning: one run per category, stable fingerprints.

Each run has ``automationDetails.id`` ``bastion/<category>/`` so uploads of several categories do
not overwrite one another. Rules carry help text, tags (CWE, OWASP, ATLAS, NIST) and a
``security-severity`` score. Model files have no lines, so results point at line 1 and carry a
``primaryLocationLineHash`` derived from the finding's fingerprint (rule, path, member,
evidence), which survives rescans. Skipped artifacts become ``toolExecutionNotifications``.
"""

from __future__ import annotations

import json
from typing import Any

from bastion.core import Finding, Skipped
from bastion.report.interface import Reporter, ReportInput
from bastion.rules import CATEGORIES, Rule

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/bastion-ml/bastion"
_PRECISION = {3: "high", 2: "medium", 1: "low"}


def _rule_descriptor(rule: Rule) -> dict[str, Any]:
    tags = ["security", rule.category, *rule.references.tags()][:20]
    description = rule.description or rule.title
    help_text = description + (f"\n\nRemediation: {rule.remediation}" if rule.remediation else "")
    return {
        "id": rule.id,
        "name": "".join(w.capitalize() for w in rule.title.split()[:8] if w.isalnum()) or rule.id,
        "shortDescription": {"text": rule.title[:1024]},
        "fullDescription": {"text": description[:1024]},
        "help": {"text": help_text, "markdown": help_text},
        "defaultConfiguration": {"level": rule.severity.sarif_level},
        "properties": {
            "tags": tags,
            "precision": _PRECISION[int(rule.confidence)],
            "security-severity": rule.severity.security_severity,
            "problem.severity": "error" if rule.severity.sarif_level == "error" else "warning",
        },
    }


def _result(
    finding: Finding, rule_index: int, blocking: bool, state: str | None = None
) -> dict[str, Any]:
    loc = finding.location
    region: dict[str, Any] = {"startLine": loc.line or 1}
    if loc.column:
        region["startColumn"] = loc.column
    physical: dict[str, Any] = {
        "artifactLocation": {"uri": loc.path, "uriBaseId": "%SRCROOT%"},
        "region": region,
    }
    location: dict[str, Any] = {"physicalLocation": physical}
    if loc.member:
        location["logicalLocations"] = [{"name": loc.member, "kind": "member"}]
    where = f" [{loc.member}]" if loc.member else ""
    if loc.offset is not None:
        where += f" (offset {loc.offset})"
    properties: dict[str, Any] = {
        "severity": finding.severity.label,
        "confidence": finding.confidence.label,
        "blocking": blocking,
        "security-severity": finding.severity.security_severity,
    }
    if finding.evidence:
        properties["evidence"] = finding.evidence
    if loc.member:
        properties["member"] = loc.member
    if loc.offset is not None:
        properties["offset"] = loc.offset
    if loc.cell is not None:
        properties["cell"] = loc.cell
    result: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "level": finding.severity.sarif_level,
        "message": {"text": f"{finding.message}{where}"},
        "locations": [location],
        "partialFingerprints": {"primaryLocationLineHash": f"{finding.fingerprint}:1"},
        "fingerprints": {"bastion/v1": finding.fingerprint},
        "properties": properties,
    }
    if state is not None:
        result["baselineState"] = state
    return result


def _state(finding: Finding, new_ids: set[int] | None) -> str | None:
    if new_ids is None:
        return None
    return "new" if id(finding) in new_ids else "unchanged"


def _notification(skipped: Skipped) -> dict[str, Any]:
    uri = {"uri": skipped.path, "uriBaseId": "%SRCROOT%"}
    text = f"{skipped.display}: not fully checked ({skipped.reason.value}): {skipped.detail}"
    return {
        "level": "warning",
        "message": {"text": text},
        "locations": [{"physicalLocation": {"artifactLocation": uri}}],
    }


def sarif_document(report: ReportInput) -> dict[str, Any]:
    """The SARIF log as a dict."""
    verdict = report.verdict
    rules_by_category: dict[str, list[Rule]] = {c: [] for c in CATEGORIES}
    for rule in report.registry.rules():
        rules_by_category.setdefault(rule.category, []).append(rule)
    findings_by_category: dict[str, list[Finding]] = {}
    for finding in verdict.findings:
        findings_by_category.setdefault(finding.category, []).append(finding)
    blocking_ids = {id(f) for f in verdict.blocking}
    new_ids = None if verdict.new_vs_baseline is None else {id(f) for f in verdict.new_vs_baseline}
    runs = []
    for category in CATEGORIES:
        rules = rules_by_category.get(category, [])
        findings = findings_by_category.get(category, [])
        if not rules and not findings:
            continue
        known = {r.id for r in rules}
        for finding in findings:
            if finding.rule_id not in known:
                rules.append(report.registry.rule(finding.rule_id))
                known.add(finding.rule_id)
        index = {rule.id: i for i, rule in enumerate(rules)}
        notifications = (
            [_notification(s) for s in report.result.skipped]
            + [{"level": "note", "message": {"text": n}} for n in report.result.notes]
            if category == "models"
            else []
        )
        runs.append(
            {
                "tool": {
                    "driver": {
                        "name": "bastion",
                        "semanticVersion": report.tool_version,
                        "informationUri": INFORMATION_URI,
                        "rules": [_rule_descriptor(r) for r in rules],
                    }
                },
                "automationDetails": {"id": f"bastion/{category}/"},
                "invocations": [
                    {
                        "executionSuccessful": True,
                        "toolExecutionNotifications": notifications,
                    }
                ],
                "results": [
                    _result(f, index[f.rule_id], id(f) in blocking_ids, _state(f, new_ids))
                    for f in findings
                ],
            }
        )
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": runs}


class SarifReporter(Reporter):
    """SARIF 2.1.0 JSON."""

    name = "sarif"

    def render(self, report: ReportInput) -> str:
        """The SARIF document."""
        return json.dumps(sarif_document(report), indent=2, ensure_ascii=False) + "\n"
