"""The policy: what fails the gate, which rules run, what a project trusts.

A :class:`Policy` is built once (from ``bastion.toml``, ``[tool.bastion]`` in ``pyproject.toml``,
and command-line flags, in that order of precedence, lowest first) and then only read.

>>> from bastion.policy.model import Policy
>>> from bastion.core import Severity
>>> Policy().fail_on is Severity.HIGH
True
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

from bastion.core import Finding, Severity
from bastion.scan.limits import Limits


@dataclass(frozen=True)
class PathOverride:
    """Policy changes for paths matching any of ``paths`` (glob patterns, ``**`` allowed)."""

    paths: tuple[str, ...]
    fail_on: Severity | None = None
    disable: tuple[str, ...] = ()

    def matches(self, path: str) -> bool:
        """Whether the override applies to a path relative to the scan root."""
        return any(_path_match(path, pattern) for pattern in self.paths)


def _path_match(path: str, pattern: str) -> bool:
    if fnmatch.fnmatchcase(path, pattern):
        return True
    if pattern.endswith("/**") and (path == pattern[:-3] or path.startswith(pattern[:-2])):
        return True
    return pattern.startswith("**/") and fnmatch.fnmatchcase(path, pattern[3:])


def rule_matches(rule_id: str, tags: tuple[str, ...], selector: str) -> bool:
    """Whether a selector (rule id, id prefix like ``BST-PKL``, or a tag) names a rule.

    Tags are the standards references (``owasp-ml:ML06``, ``atlas:AML.T0011.000``,
    ``external/cwe/cwe-502``) and ``cwe:CWE-502``.
    """
    sel = selector.strip()
    if not sel:
        return False
    upper = sel.upper()
    if rule_id == upper or rule_id.startswith(upper.rstrip("-") + "-"):
        return True
    lowered = sel.lower()
    for tag in tags:
        t = tag.lower()
        if t == lowered or t.startswith(lowered + ".") or t.startswith(lowered + ":"):
            return True
        if lowered.startswith("cwe:") and t == f"external/cwe/{lowered[4:]}":
            return True
    return False


@dataclass(frozen=True)
class Policy:
    """Everything that decides a verdict, validated when loaded."""

    fail_on: Severity = Severity.HIGH
    fail_on_skipped: bool = False
    select: tuple[str, ...] = ()
    disable: tuple[str, ...] = ()
    allow_globals: tuple[str, ...] = ()
    deny_globals: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    overrides: tuple[PathOverride, ...] = ()
    limits: Limits = field(default_factory=Limits)
    source: str | None = None
    #: OSV vulnerability data for dependency checks (a path; relative ones are resolved
    #: against the policy file's folder when loaded).
    vuln_db: str | None = None

    def overrides_for(self, path: str) -> tuple[PathOverride, ...]:
        """Overrides that apply to ``path``, in file order (later ones win)."""
        return tuple(o for o in self.overrides if o.matches(path))

    def enabled(self, finding: Finding) -> bool:
        """Whether a finding's rule runs for its path (selection and disables)."""
        tags = finding.references.tags()
        rule = finding.rule_id
        if self.select and not any(rule_matches(rule, tags, s) for s in self.select):
            return False
        disabled = self.disable + tuple(
            d for o in self.overrides_for(finding.location.path) for d in o.disable
        )
        return not any(rule_matches(rule, tags, d) for d in disabled)

    def threshold_for(self, path: str) -> Severity:
        """The ``fail_on`` severity in force for a path."""
        threshold = self.fail_on
        for override in self.overrides_for(path):
            if override.fail_on is not None:
                threshold = override.fail_on
        return threshold
