"""The vocabulary every part of bastion speaks: severities, artifacts, locations, findings, results.

Everything that checks something produces :class:`Finding` values; everything that reports or
decides consumes them. The types are frozen dataclasses so a result, once built, cannot be changed
behind a reporter's back; new values are made with :func:`dataclasses.replace`.

>>> from bastion.core import Finding, Location, Severity, Confidence, RuleId
>>> f = Finding(RuleId("BST-PKL-001"), "Dangerous import", Severity.CRITICAL, Confidence.HIGH,
...             Location("models/model.pkl"), "imports os.system")
>>> f.severity >= Severity.HIGH
True
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum, IntEnum
from typing import NewType

RuleId = NewType("RuleId", str)
Fingerprint = NewType("Fingerprint", str)


class Severity(IntEnum):
    """How bad a finding is; ordered, so ``>=`` compares against a policy threshold."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, text: str) -> Severity:
        """Read a severity name case-insensitively (``"high"`` → ``HIGH``)."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(s.name.lower() for s in cls)
            raise ValueError(f"unknown severity {text!r} (expected one of: {names})") from None

    @property
    def label(self) -> str:
        """Lower-case name, as written in reports and policy files."""
        return self.name.lower()

    @property
    def security_severity(self) -> str:
        """The SARIF ``security-severity`` score GitHub buckets into the same level."""
        return {
            Severity.INFO: "0.0",
            Severity.LOW: "3.0",
            Severity.MEDIUM: "5.5",
            Severity.HIGH: "8.0",
            Severity.CRITICAL: "9.5",
        }[self]

    @property
    def sarif_level(self) -> str:
        """The SARIF ``level`` for a result of this severity."""
        if self >= Severity.HIGH:
            return "error"
        if self >= Severity.MEDIUM:
            return "warning"
        return "note"


class Confidence(IntEnum):
    """How sure the rule is that the finding is real (kept apart from severity)."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3

    @property
    def label(self) -> str:
        """Lower-case name, as written in reports."""
        return self.name.lower()


class ArtifactKind(str, Enum):
    """The broad kind of an artifact, which decides the report category of its findings."""

    MODEL = "model"
    ARCHIVE = "archive"
    CODE = "code"
    NOTEBOOK = "notebook"
    DEPENDENCIES = "dependencies"
    CONFIG = "config"
    DATASET = "dataset"
    DOCUMENT = "document"
    OTHER = "other"


class SkipReason(str, Enum):
    """Why an artifact (or part of one) was not fully checked."""

    UNSUPPORTED = "unsupported"
    TOO_LARGE = "too-large"
    LIMIT = "limit-reached"
    ENCRYPTED = "encrypted"
    MALFORMED = "malformed"
    UNREADABLE = "unreadable"
    MISSING_DEPENDENCY = "missing-dependency"
    ERROR = "analyzer-error"


@dataclass(frozen=True)
class References:
    """Where a rule sits in the standards: CWE, OWASP (with edition), MITRE ATLAS, NIST AI RMF."""

    cwe: tuple[str, ...] = ()
    owasp: tuple[str, ...] = ()
    atlas: tuple[str, ...] = ()
    nist: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()

    def tags(self) -> tuple[str, ...]:
        """Flat tags for SARIF and filters: ``external/cwe/cwe-502``, ``owasp-ml:ML06``, …"""
        tags = [f"external/cwe/{cwe.lower()}" for cwe in self.cwe]
        for item in self.owasp:
            ident = item.split(":", 1)[0]
            family = "owasp-llm" if ident.startswith("LLM") else "owasp-ml"
            tags.append(f"{family}:{ident}")
        tags.extend(f"atlas:{t}" for t in self.atlas)
        tags.extend(f"nist:{n}" for n in self.nist)
        return tuple(tags)

    def merged(self, other: References) -> References:
        """Union of two reference sets, order kept, duplicates dropped."""

        def join(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(dict.fromkeys(a + b))

        return References(
            cwe=join(self.cwe, other.cwe),
            owasp=join(self.owasp, other.owasp),
            atlas=join(self.atlas, other.atlas),
            nist=join(self.nist, other.nist),
            urls=join(self.urls, other.urls),
        )


@dataclass(frozen=True)
class Location:
    """Where a finding is: a path relative to the scan root, and optionally inside it.

    ``member`` names the archive member chain (``archive/data.pkl``, or ``inner.zip!x.pkl`` for
    nested archives); ``offset`` is a byte offset within that member (or the file); ``line`` and
    ``column`` are 1-based; ``cell`` is a notebook cell index.
    """

    path: str
    member: str | None = None
    line: int | None = None
    column: int | None = None
    offset: int | None = None
    cell: int | None = None

    def display(self) -> str:
        """Human form: ``models/m.pt!archive/data.pkl@1234`` or ``train.py:12``."""
        text = self.path
        if self.member:
            text += f"!{self.member}"
        if self.cell is not None:
            text += f"[cell {self.cell}]"
        if self.line is not None:
            text += f":{self.line}"
            if self.column is not None:
                text += f":{self.column}"
        if self.offset is not None:
            text += f"@{self.offset}"
        return text


@dataclass(frozen=True)
class Artifact:
    """One file, or one member of an archive, that the scan looked at."""

    path: str
    format: str
    kind: ArtifactKind
    size: int
    member: str | None = None
    sha256: str | None = None

    @property
    def display(self) -> str:
        """``path`` or ``path!member``."""
        return f"{self.path}!{self.member}" if self.member else self.path


_WS = re.compile(r"\s+")
_HEXDIGITS = re.compile(r"\b[0-9a-f]{12,}\b")


def normalize_evidence(evidence: str) -> str:
    """Evidence as fingerprints see it: white space folded, volatile hex runs masked."""
    return _HEXDIGITS.sub("<hex>", _WS.sub(" ", evidence.strip().lower()))


@dataclass(frozen=True)
class Finding:
    """One thing a rule found, with enough context for a person to act on it."""

    rule_id: RuleId
    title: str
    severity: Severity
    confidence: Confidence
    location: Location
    message: str
    evidence: str = ""
    remediation: str = ""
    references: References = field(default_factory=References)
    category: str = "models"
    properties: Mapping[str, object] = field(default_factory=dict, hash=False, compare=False)

    @property
    def fingerprint(self) -> Fingerprint:
        """A stable identity that ignores line numbers and offsets, so baselines survive edits."""
        parts = [
            self.rule_id,
            self.location.path,
            self.location.member or "",
            normalize_evidence(self.evidence or self.message),
        ]
        digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
        return Fingerprint(digest[:32])

    def sort_key(self) -> tuple[str, str, int, int, int, str, str]:
        """Deterministic report order: path, member, position, then rule."""
        loc = self.location
        return (
            loc.path,
            loc.member or "",
            loc.cell if loc.cell is not None else -1,
            loc.line if loc.line is not None else -1,
            loc.offset if loc.offset is not None else -1,
            self.rule_id,
            self.evidence,
        )


@dataclass(frozen=True)
class Skipped:
    """An artifact, or part of one, that was not fully checked, and why: never silently clean."""

    path: str
    reason: SkipReason
    detail: str
    member: str | None = None
    format: str | None = None

    @property
    def display(self) -> str:
        """``path`` or ``path!member``."""
        return f"{self.path}!{self.member}" if self.member else self.path


@dataclass(frozen=True)
class ScanResult:
    """Everything one scan (or assessment) saw, found and could not check.

    ``notes`` record facts about how the scan ran that are neither findings nor skips (which
    vulnerability data was used and how old it is).
    """

    root: str
    started: datetime
    finished: datetime
    artifacts: tuple[Artifact, ...] = ()
    findings: tuple[Finding, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    not_applicable: int = 0
    notes: tuple[str, ...] = ()

    @property
    def max_severity(self) -> Severity | None:
        """The worst severity among the findings, or ``None`` when there are none."""
        return max((f.severity for f in self.findings), default=None)

    @property
    def duration(self) -> float:
        """Wall time of the scan in seconds."""
        return (self.finished - self.started).total_seconds()

    def by_rule(self) -> dict[RuleId, tuple[Finding, ...]]:
        """Findings grouped by rule id, in report order."""
        grouped: dict[RuleId, list[Finding]] = {}
        for finding in self.findings:
            grouped.setdefault(finding.rule_id, []).append(finding)
        return {rule: tuple(items) for rule, items in sorted(grouped.items())}

    def counts(self) -> dict[str, int]:
        """Number of findings per severity label, every level present."""
        counts = {s.label: 0 for s in Severity}
        for finding in self.findings:
            counts[finding.severity.label] += 1
        return counts


class ExitCode(IntEnum):
    """Process exit status of every bastion command."""

    OK = 0
    POLICY_FAILED = 1
    ERROR = 2
