"""Rules: stable ids, default severity, documentation and standards references.

A rule is a value. Analyzers declare the rules they can raise and build findings through
:meth:`Rule.finding`, so every finding carries the rule's title, references and remediation.
``bastion rules`` lists them and ``bastion rules explain ID`` prints :attr:`Rule.doc`.

>>> from bastion.rules import Rule
>>> from bastion.core import Location, Severity
>>> rule = Rule("BST-DEMO-001", "Demo", Severity.LOW, "models", doc="A demo rule.")
>>> rule.finding(Location("x.pkl"), "demo").rule_id
'BST-DEMO-001'
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field

from bastion.core import Confidence, Finding, Location, References, RuleId, Severity

#: Report categories (one SARIF run each), in display order.
CATEGORIES: tuple[str, ...] = (
    "models",
    "code",
    "secrets",
    "dependencies",
    "configs",
    "data",
    "assessment",
    "runtime",
    "integrity",
)


@dataclass(frozen=True)
class Rule:
    """One check with a stable id; its ``doc`` is its documentation."""

    id: str
    title: str
    severity: Severity
    category: str
    doc: str = ""
    remediation: str = ""
    references: References = field(default_factory=References)
    confidence: Confidence = Confidence.HIGH

    def __post_init__(self) -> None:
        if not self.id or self.id != self.id.strip() or " " in self.id:
            raise ValueError(f"rule id {self.id!r} must be a non-empty token")
        if self.category not in CATEGORIES:
            raise ValueError(f"rule {self.id}: unknown category {self.category!r}")

    @property
    def rule_id(self) -> RuleId:
        """The id as a :data:`RuleId`."""
        return RuleId(self.id)

    @property
    def description(self) -> str:
        """The documentation with common indentation removed."""
        return textwrap.dedent(self.doc).strip()

    def finding(
        self,
        location: Location,
        message: str,
        *,
        evidence: str = "",
        severity: Severity | None = None,
        confidence: Confidence | None = None,
        title: str | None = None,
        remediation: str | None = None,
        references: References | None = None,
        properties: Mapping[str, object] | None = None,
    ) -> Finding:
        """Build a finding of this rule; severity and the rest default to the rule's own."""
        refs = self.references if references is None else self.references.merged(references)
        return Finding(
            rule_id=self.rule_id,
            title=title or self.title,
            severity=self.severity if severity is None else severity,
            confidence=self.confidence if confidence is None else confidence,
            location=location,
            message=message,
            evidence=evidence,
            remediation=self.remediation if remediation is None else remediation,
            references=refs,
            category=self.category,
            properties=dict(properties or {}),
        )


# Reference sets reused by many rules (see shared STANDARDS.md §0).
UNSAFE_ARTIFACT = References(
    cwe=("CWE-502", "CWE-94"),
    owasp=("ML06:2023", "LLM03:2025"),
    atlas=("AML.T0011.000", "AML.T0010.003", "AML.T0018.002"),
    nist=("MANAGE 3.2", "NISTAML.051"),
)
MALFORMED_ARTIFACT = References(
    cwe=("CWE-20",),
    owasp=("ML06:2023", "LLM03:2025"),
    atlas=("AML.T0010.003", "AML.T0076"),
    nist=("MANAGE 3.2",),
)
RESOURCE_ABUSE = References(
    cwe=("CWE-400", "CWE-409"),
    owasp=("ML06:2023", "LLM10:2025"),
    atlas=("AML.T0029",),
    nist=("MANAGE 3.2",),
)
PATH_ESCAPE = References(
    cwe=("CWE-22", "CWE-59"),
    owasp=("ML06:2023", "LLM03:2025"),
    atlas=("AML.T0010.003", "AML.T0011.000"),
    nist=("MANAGE 3.2",),
)
