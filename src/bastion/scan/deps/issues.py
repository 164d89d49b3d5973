"""The value every dependency check returns: a rule, where, what, and any override.

Checks are pure functions from parsed dependency files to :class:`DepIssue` values; the analyzer
turns them into findings with locations relative to the scan root.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bastion.core import Confidence, Severity
from bastion.rules import Rule


@dataclass(frozen=True)
class DepIssue:
    """One problem in one dependency file (``source`` is the file's path as parsed)."""

    rule: Rule
    source: str
    line: int | None
    message: str
    evidence: str
    severity: Severity | None = None
    confidence: Confidence | None = None
    remediation: str | None = None
    properties: Mapping[str, object] = field(default_factory=dict, hash=False, compare=False)
