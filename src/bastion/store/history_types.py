"""The values the history store keeps: runs, and the findings, metrics and artifacts of each.

Values only: no database code here (the store itself is :mod:`bastion.store.history`).

>>> from datetime import datetime, timezone
>>> from bastion.core import ScanResult
>>> from bastion.store.history_types import RunKind, RunRecord
>>> now = datetime.now(timezone.utc)
>>> run = RunRecord.from_result(RunKind.SCAN, ScanResult("/p", now, now), project="p",
...                             target="/p", verdict="passed", exit_code=0)
>>> run.summary["findings"]
0
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from bastion import __version__
from bastion.core import Finding, ScanResult, Severity
from bastion.policy.model import Policy
from bastion.posture.canonical import (
    MAX_METRICS,
    canonical_json,
    flatten_numbers,
    jsonable,
    policy_digest,
)

__all__ = [
    "MAX_METRICS",
    "ArtifactRecord",
    "FindingRecord",
    "MetricRecord",
    "RunKind",
    "RunRecord",
    "StoredRun",
    "canonical_json",
    "flatten_numbers",
    "jsonable",
    "metrics_from_findings",
    "policy_digest",
]


class RunKind(str, Enum):
    """What produced a run."""

    SCAN = "scan"
    ASSESS = "assess"
    VERIFY = "verify"
    GATEWAY = "gateway"
    POSTURE = "posture"


@dataclass(frozen=True)
class FindingRecord:
    """One finding as stored: enough to diff runs and to show what changed."""

    fingerprint: str
    rule: str
    severity: Severity
    path: str
    message: str
    member: str | None = None
    line: int | None = None
    title: str | None = None
    category: str | None = None
    properties: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @classmethod
    def from_finding(cls, finding: Finding) -> FindingRecord:
        """The stored form of a finding."""
        return cls(
            fingerprint=finding.fingerprint,
            rule=finding.rule_id,
            severity=finding.severity,
            path=finding.location.path,
            message=finding.message,
            member=finding.location.member,
            line=finding.location.line,
            title=finding.title,
            category=finding.category,
            properties=jsonable(dict(finding.properties)),
        )

    @property
    def display(self) -> str:
        """``path``, ``path!member`` or ``path:line``."""
        text = f"{self.path}!{self.member}" if self.member else self.path
        return f"{text}:{self.line}" if self.line is not None else text


@dataclass(frozen=True)
class MetricRecord:
    """A measured number (an assessment metric, a count), and the threshold it was held to."""

    name: str
    value: float
    threshold: float | None = None


@dataclass(frozen=True)
class ArtifactRecord:
    """A file a run looked at: path (``path!member`` inside archives), digest, format."""

    path: str
    format: str
    digest: str | None = None


@dataclass(frozen=True)
class RunRecord:
    """A run to save."""

    kind: RunKind
    project: str
    target: str
    started: datetime
    finished: datetime
    verdict: str
    exit_code: int
    summary: Mapping[str, Any] = field(default_factory=dict)
    findings: tuple[FindingRecord, ...] = ()
    metrics: tuple[MetricRecord, ...] = ()
    artifacts: tuple[ArtifactRecord, ...] = ()
    policy_digest: str | None = None
    tool_version: str = __version__

    @property
    def max_severity(self) -> Severity | None:
        """The worst severity among the findings."""
        return max((f.severity for f in self.findings), default=None)

    @classmethod
    def from_result(
        cls,
        kind: RunKind,
        result: ScanResult,
        *,
        project: str,
        target: str,
        verdict: str,
        exit_code: int,
        findings: Iterable[Finding] | None = None,
        metrics: Iterable[MetricRecord] = (),
        summary: Mapping[str, Any] | None = None,
        policy: Policy | None = None,
        artifacts: Iterable[ArtifactRecord] | None = None,
    ) -> RunRecord:
        """A run from a result; ``findings`` defaults to all of the result's findings and
        ``artifacts`` to the result's artifacts."""
        chosen = tuple(result.findings if findings is None else findings)
        counts = {s.label: 0 for s in Severity}
        for finding in chosen:
            counts[finding.severity.label] += 1
        base: dict[str, Any] = {
            "root": result.root,
            "findings": len(chosen),
            "by_severity": counts,
            "artifacts": len(result.artifacts),
            "skipped": len(result.skipped),
            "duration_seconds": round(result.duration, 3),
        }
        base.update(summary or {})
        measured = tuple(metrics) or metrics_from_findings(chosen)
        return cls(
            kind=kind,
            project=project,
            target=target,
            started=result.started,
            finished=result.finished,
            verdict=verdict,
            exit_code=exit_code,
            summary=jsonable(base),
            findings=tuple(FindingRecord.from_finding(f) for f in chosen),
            metrics=measured,
            artifacts=tuple(artifacts)
            if artifacts is not None
            else tuple(
                ArtifactRecord(a.display, a.format, f"sha256:{a.sha256}" if a.sha256 else None)
                for a in result.artifacts
            ),
            policy_digest=policy_digest(policy) if policy is not None else None,
        )


@dataclass(frozen=True)
class StoredRun:
    """A run as read back, with its id."""

    id: int
    kind: str
    project: str
    target: str
    started: str
    finished: str
    tool_version: str
    verdict: str
    exit_code: int
    policy_digest: str | None
    summary: Mapping[str, Any]
    finding_count: int
    max_severity: str | None

    def to_json(self) -> dict[str, Any]:
        """The run as a JSON object (``bastion history --format json``)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "project": self.project,
            "target": self.target,
            "started": self.started,
            "finished": self.finished,
            "tool_version": self.tool_version,
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "policy_digest": self.policy_digest,
            "findings": self.finding_count,
            "max_severity": self.max_severity,
            "summary": dict(self.summary),
        }


def metrics_from_findings(findings: Iterable[Finding]) -> tuple[MetricRecord, ...]:
    """Numbers assessment findings carry: ``properties["metrics"]`` (and ``["thresholds"]``).

    Nested values are flattened into ``RULE/key/subkey`` names, so a robust-accuracy curve over
    epsilon becomes one metric per epsilon. Only finite numbers are kept.
    """
    found: dict[str, MetricRecord] = {}
    for finding in findings:
        values = finding.properties.get("metrics")
        if not isinstance(values, Mapping):
            continue
        raw = finding.properties.get("thresholds")
        thresholds = dict(flatten_numbers(raw)) if isinstance(raw, Mapping) else {}
        for key, number in flatten_numbers(values):
            name = f"{finding.rule_id}/{key}"
            if name not in found and len(found) < MAX_METRICS:
                found[name] = MetricRecord(name, number, thresholds.get(key))
    return tuple(found[k] for k in sorted(found))
