"""Comparing two saved runs: new, fixed and changed findings; metric and artifact changes.

Findings are matched by fingerprint (rule, path, archive member, normalized evidence: never the
line), so moved code is not "new". When a fingerprint occurs several times in a run, the
occurrences are paired in order and the surplus is new or fixed. A matched pair whose severity
or message differs is *changed*.

>>> from bastion.store.history_diff import diff_findings
>>> diff_findings((), ()).new
()
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bastion.store.history_types import (
    ArtifactRecord,
    FindingRecord,
    MetricRecord,
    StoredRun,
)

if TYPE_CHECKING:
    from bastion.store.history import HistoryStore


@dataclass(frozen=True)
class ChangedFinding:
    """The same finding in both runs, with a different severity or message."""

    before: FindingRecord
    after: FindingRecord

    @property
    def changes(self) -> tuple[str, ...]:
        """What changed: ``severity``, ``message``."""
        parts = []
        if self.before.severity != self.after.severity:
            parts.append("severity")
        if self.before.message != self.after.message:
            parts.append("message")
        return tuple(parts)


@dataclass(frozen=True)
class FindingDiff:
    """Findings only in the second run, only in the first, and changed between them."""

    new: tuple[FindingRecord, ...]
    fixed: tuple[FindingRecord, ...]
    changed: tuple[ChangedFinding, ...]
    unchanged: int


@dataclass(frozen=True)
class MetricChange:
    """A metric in either run; ``before``/``after`` is ``None`` where it was not measured."""

    name: str
    before: float | None
    after: float | None
    threshold: float | None = None

    @property
    def delta(self) -> float | None:
        """``after - before`` when both exist."""
        if self.before is None or self.after is None:
            return None
        return self.after - self.before


@dataclass(frozen=True)
class ArtifactChange:
    """An artifact added, removed, or whose digest changed."""

    path: str
    change: str  # "added" | "removed" | "changed"
    before: str | None
    after: str | None


@dataclass(frozen=True)
class RunDiff:
    """Everything that differs between run A (before) and run B (after)."""

    a: StoredRun
    b: StoredRun
    findings: FindingDiff
    metrics: tuple[MetricChange, ...]
    artifacts: tuple[ArtifactChange, ...]

    def to_json(self) -> dict[str, Any]:
        """The diff as a JSON object (``bastion diff --format json``)."""
        return {
            "schema": "bastion/run-diff",
            "version": "1",
            "a": self.a.to_json(),
            "b": self.b.to_json(),
            "summary": {
                "new": len(self.findings.new),
                "fixed": len(self.findings.fixed),
                "changed": len(self.findings.changed),
                "unchanged": self.findings.unchanged,
                "metrics_changed": len(self.metrics),
                "artifacts_changed": len(self.artifacts),
            },
            "new": [finding_json(f) for f in self.findings.new],
            "fixed": [finding_json(f) for f in self.findings.fixed],
            "changed": [
                {
                    "changes": list(c.changes),
                    "before": finding_json(c.before),
                    "after": finding_json(c.after),
                }
                for c in self.findings.changed
            ],
            "metrics": [
                {
                    "name": m.name,
                    "before": m.before,
                    "after": m.after,
                    "delta": m.delta,
                    "threshold": m.threshold,
                }
                for m in self.metrics
            ],
            "artifacts": [
                {"path": a.path, "change": a.change, "before": a.before, "after": a.after}
                for a in self.artifacts
            ],
        }


def finding_json(finding: FindingRecord) -> dict[str, Any]:
    """A stored finding as JSON."""
    data: dict[str, Any] = {
        "fingerprint": finding.fingerprint,
        "rule_id": finding.rule,
        "severity": finding.severity.label,
        "path": finding.path,
        "message": finding.message,
    }
    if finding.member:
        data["member"] = finding.member
    if finding.line is not None:
        data["line"] = finding.line
    if finding.title:
        data["title"] = finding.title
    return data


def _order(finding: FindingRecord) -> tuple[int, str]:
    return (finding.line if finding.line is not None else -1, finding.message)


def diff_findings(before: Sequence[FindingRecord], after: Sequence[FindingRecord]) -> FindingDiff:
    """Match findings by fingerprint (occurrences paired in order)."""
    old: dict[str, list[FindingRecord]] = defaultdict(list)
    for finding in before:
        old[finding.fingerprint].append(finding)
    cur: dict[str, list[FindingRecord]] = defaultdict(list)
    for finding in after:
        cur[finding.fingerprint].append(finding)
    new: list[FindingRecord] = []
    fixed: list[FindingRecord] = []
    changed: list[ChangedFinding] = []
    unchanged = 0
    for fingerprint in dict.fromkeys([*old, *cur]):
        a = sorted(old.get(fingerprint, ()), key=_order)
        b = sorted(cur.get(fingerprint, ()), key=_order)
        for x, y in zip(a, b, strict=False):
            if x.severity != y.severity or x.message != y.message:
                changed.append(ChangedFinding(x, y))
            else:
                unchanged += 1
        fixed.extend(a[len(b) :])
        new.extend(b[len(a) :])
    return FindingDiff(tuple(new), tuple(fixed), tuple(changed), unchanged)


def diff_metrics(
    before: Sequence[MetricRecord], after: Sequence[MetricRecord]
) -> tuple[MetricChange, ...]:
    """Metrics whose value differs, appeared or disappeared, by name."""
    old = {m.name: m for m in before}
    cur = {m.name: m for m in after}
    changes = []
    for name in sorted(set(old) | set(cur)):
        a, b = old.get(name), cur.get(name)
        if a is not None and b is not None and a.value == b.value:
            continue
        known = b if b is not None else a
        threshold = known.threshold if known is not None else None
        changes.append(
            MetricChange(
                name,
                a.value if a is not None else None,
                b.value if b is not None else None,
                threshold,
            )
        )
    return tuple(changes)


def diff_artifacts(
    before: Sequence[ArtifactRecord], after: Sequence[ArtifactRecord]
) -> tuple[ArtifactChange, ...]:
    """Artifacts added, removed, or with another digest, by path."""
    old = {a.path: a.digest for a in before}
    cur = {a.path: a.digest for a in after}
    changes = []
    for path in sorted(set(old) | set(cur)):
        if path not in old:
            changes.append(ArtifactChange(path, "added", None, cur[path]))
        elif path not in cur:
            changes.append(ArtifactChange(path, "removed", old[path], None))
        elif old[path] != cur[path]:
            changes.append(ArtifactChange(path, "changed", old[path], cur[path]))
    return tuple(changes)


def diff_runs(history: HistoryStore, a: StoredRun, b: StoredRun) -> RunDiff:
    """Read both runs' findings, metrics and artifacts and compare them."""
    return RunDiff(
        a,
        b,
        diff_findings(history.findings(a.id), history.findings(b.id)),
        diff_metrics(history.metrics(a.id), history.metrics(b.id)),
        diff_artifacts(history.artifacts(a.id), history.artifacts(b.id)),
    )
