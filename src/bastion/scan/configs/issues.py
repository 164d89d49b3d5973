"""What the configuration checks return: an :class:`Issue` about a named :class:`Subject`.

Checks are pure functions of parsed values; they know the rule, the line and what to say, not the
analysis context. :func:`report_issues` turns issues into findings at the right location. Every
message starts with the subject (``Deployment/prod/trainer (document 2), container 'train'``) and
the evidence repeats it, so two containers with the same problem are two findings with two
fingerprints, and a baseline entry survives the file being reformatted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from bastion.core import Confidence, Severity
from bastion.rules import Rule
from bastion.scan.interface import AnalysisContext


@dataclass(frozen=True)
class Subject:
    """The object a finding is about: a manifest object, a Dockerfile stage, a script."""

    #: ``Deployment/prod/trainer``, ``Dockerfile stage 2 (runtime)``, ``service 'mlflow'``…
    name: str
    #: 1-based document index in a multi-document file (``None`` for single-document files).
    document: int | None = None
    #: The container (or component, executor, template) inside the object.
    container: str | None = None

    def label(self) -> str:
        """The subject as it opens a message."""
        text = self.name
        if self.document is not None:
            text += f" (document {self.document})"
        if self.container is not None:
            text += f", {self.container}"
        return text

    def key(self) -> str:
        """The subject as evidence carries it (no document index: it changes when files merge)."""
        return f"{self.name}, {self.container}" if self.container else self.name

    def with_container(self, container: str | None) -> Subject:
        """The same object, another container."""
        return replace(self, container=container)


@dataclass(frozen=True)
class Issue:
    """One problem found by a check: the rule, where, what, and optional overrides."""

    rule: Rule
    subject: Subject
    line: int | None
    #: What is wrong, without the subject (it is prefixed when reported).
    message: str
    #: The offending setting as written (secrets redacted), without the subject.
    evidence: str
    severity: Severity | None = None
    confidence: Confidence | None = None
    properties: Mapping[str, object] = field(default_factory=dict, compare=False)

    def retarget(self, rule: Rule, severity: Severity | None = None) -> Issue:
        """The same issue under another rule (a KFP component's pod problem, say)."""
        return replace(self, rule=rule, severity=severity if severity else self.severity)


def report_issues(ctx: AnalysisContext, issues: Iterable[Issue]) -> None:
    """Turn issues into findings on the artifact being analyzed."""
    for issue in issues:
        subject = issue.subject
        props: dict[str, object] = {"object": subject.name}
        if subject.document is not None:
            props["document"] = subject.document
        if subject.container is not None:
            props["container"] = subject.container
        props.update(issue.properties)
        ctx.report(
            issue.rule.finding(
                ctx.location(line=issue.line),
                f"{subject.label()}: {issue.message}",
                evidence=f"{subject.key()}: {issue.evidence}",
                severity=issue.severity,
                confidence=issue.confidence,
                properties=props,
            )
        )
