"""Gateway decisions as ``Finding``s: every audited denial and detection carries a ``BST-GW``
rule, so reports (JSON, SARIF, …) and the history store read them like scan findings.

>>> from bastion.gateway.findings import finding_from_record
>>> finding_from_record({"kind": "request", "status": 200}, "gw") is None
True
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from bastion.core import Finding, Location, ScanResult, Severity
from bastion.gateway.detections import Detection
from bastion.gateway.rules import RULES
from bastion.rules import Rule

_BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}


def finding_from_record(record: dict[str, Any], instance: str) -> Finding | None:
    """The finding of one audit record, or ``None`` for records without a rule (allowed)."""
    if record.get("kind") == "detection":
        det = record.get("detection")
        if not isinstance(det, dict):
            return None
        try:
            severity = Severity.parse(str(det.get("severity", "medium")))
            detection = Detection(
                kind=str(det.get("type")),
                severity=severity,
                message=str(det.get("message")),
                identity=det.get("identity"),
                model=det.get("model"),
                address=det.get("address"),
                request_id=record.get("request_id"),
                evidence=dict(det.get("evidence") or {}),
                id=str(det.get("id")),
            )
            return detection.finding(instance)
        except (KeyError, ValueError):
            return None
    rule = _BY_ID.get(str(record.get("rule_id")))
    if rule is None:
        return None
    identity = record.get("identity") or {}
    who = identity.get("id") if isinstance(identity, dict) else None
    client = record.get("client") or {}
    address = client.get("ip") if isinstance(client, dict) else None
    target = record.get("model") or record.get("route") or "gateway"
    reason = str(record.get("reason") or rule.title)
    return rule.finding(
        Location(
            f"gateway://{instance}/{str(target).strip('/')}",
            offset=record.get("seq") if isinstance(record.get("seq"), int) else None,
        ),
        f"{record.get('method', '')} {record.get('path', '')} -> {record.get('status')}: "
        f"{reason}".strip(),
        evidence=f"{record.get('auth_failure') or record.get('action')}:{who or address or '-'}",
        properties={
            "identity": who,
            "address": address,
            "request_id": record.get("request_id"),
            "status": record.get("status"),
            "audit_seq": record.get("seq"),
        },
    )


def findings_result(records: Iterable[dict[str, Any]], instance: str) -> ScanResult:
    """A ``ScanResult`` holding the findings of audit records (for the reporters)."""
    findings: list[Finding] = []
    first: str | None = None
    last: str | None = None
    for record in records:
        stamp = record.get("time")
        if isinstance(stamp, str):
            first = first or stamp
            last = stamp
        found = finding_from_record(record, instance)
        if found is not None:
            findings.append(found)
    now = datetime.now(timezone.utc)

    def when(stamp: str | None) -> datetime:
        try:
            return datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else now
        except ValueError:
            return now

    return ScanResult(
        root=f"gateway://{instance}",
        started=when(first),
        finished=when(last),
        findings=tuple(findings),
    )
