"""Detections: what the anomaly monitors raise, as audit records and as ``Finding``s."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from bastion.core import Finding, Location, Severity
from bastion.gateway.rules import DETECTION_RULES
from bastion.rules import Rule


@dataclass(frozen=True)
class Detection:
    """One detection about one identity (or address, or model)."""

    kind: str
    severity: Severity
    message: str
    identity: str | None = None
    model: str | None = None
    address: str | None = None
    request_id: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    id: str = field(default_factory=lambda: secrets.token_hex(8))

    @property
    def rule(self) -> Rule:
        """The rule this kind of detection raises."""
        return DETECTION_RULES[self.kind]

    def finding(self, instance: str) -> Finding:
        """The detection as a runtime finding."""
        target = self.model or "gateway"
        return self.rule.finding(
            Location(f"gateway://{instance}/{target}"),
            self.message,
            evidence=f"{self.kind}:{self.identity or self.address or '-'}",
            severity=self.severity,
            properties={
                "identity": self.identity,
                "address": self.address,
                "request_id": self.request_id,
                "detection_id": self.id,
                **self.evidence,
            },
        )

    def record(self) -> dict[str, Any]:
        """The audit record body."""
        rule = self.rule
        return {
            "kind": "detection",
            "action": f"detection.{self.kind}",
            "outcome": "unknown",
            "request_id": self.request_id,
            "detection": {
                "id": self.id,
                "type": self.kind,
                "severity": self.severity.label,
                "message": self.message,
                "identity": self.identity,
                "model": self.model,
                "address": self.address,
                "evidence": self.evidence,
            },
            "rule_id": rule.id,
            "rule_name": rule.title,
            "atlas": list(rule.references.atlas),
            "cwe": list(rule.references.cwe),
            "owasp": list(rule.references.owasp),
        }
