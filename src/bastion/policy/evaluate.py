"""Turning a scan result into a verdict: what blocks, what was suppressed, the exit code.

>>> from bastion.policy.evaluate import evaluate
>>> from bastion.policy.model import Policy
>>> from bastion.core import ScanResult
>>> from datetime import datetime, timezone
>>> now = datetime.now(timezone.utc)
>>> evaluate(ScanResult("x", now, now), Policy()).passed
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from bastion.core import ExitCode, Finding, ScanResult, Skipped
from bastion.policy.model import Policy


@dataclass(frozen=True)
class Suppressed:
    """A finding that would have been reported, and why it was not."""

    finding: Finding
    reason: str
    kind: str = "external"


@dataclass(frozen=True)
class Verdict:
    """The gate's decision for one result."""

    passed: bool
    findings: tuple[Finding, ...]
    blocking: tuple[Finding, ...]
    suppressed: tuple[Suppressed, ...] = ()
    new_vs_baseline: tuple[Finding, ...] | None = None
    blocking_skipped: tuple[Skipped, ...] = ()
    reasons: tuple[str, ...] = ()

    @property
    def exit_code(self) -> ExitCode:
        """0 when the gate passes, 1 when the policy fails."""
        return ExitCode.OK if self.passed else ExitCode.POLICY_FAILED

    def is_blocking(self, finding: Finding) -> bool:
        """Whether a finding is one of those that fail the gate."""
        return any(finding is b for b in self.blocking)


#: A hook that may suppress findings (inline comments, baselines): returns a reason or None.
Suppressor = Callable[[Finding], "str | None"]


def evaluate(
    result: ScanResult,
    policy: Policy,
    *,
    suppressors: tuple[Suppressor, ...] = (),
    baseline: frozenset[str] | None = None,
) -> Verdict:
    """Decide the verdict: drop disabled rules, apply suppressions, compare to the threshold.

    ``baseline`` is a set of fingerprints: when given, only findings not in it can block.
    """
    reported: list[Finding] = []
    suppressed: list[Suppressed] = []
    for finding in result.findings:
        if not policy.enabled(finding):
            continue
        hit = next(((s, r) for s in suppressors if (r := s(finding)) is not None), None)
        if hit is not None:
            suppressor, reason = hit
            # SARIF's vocabulary: "inSource" for comments in the file, "external" otherwise.
            suppressed.append(Suppressed(finding, reason, getattr(suppressor, "kind", "external")))
            continue
        reported.append(finding)
    new: tuple[Finding, ...] | None = None
    candidates = reported
    if baseline is not None:
        new = tuple(f for f in reported if f.fingerprint not in baseline)
        candidates = list(new)
    blocking = tuple(f for f in candidates if f.severity >= policy.threshold_for(f.location.path))
    blocking_skipped = result.skipped if policy.fail_on_skipped else ()
    reasons: list[str] = []
    if blocking:
        reasons.append(
            f"{len(blocking)} finding(s) at or above the fail_on threshold ({policy.fail_on.label})"
        )
    if blocking_skipped:
        reasons.append(f"{len(blocking_skipped)} artifact(s) could not be fully checked")
    return Verdict(
        passed=not blocking and not blocking_skipped,
        findings=tuple(reported),
        blocking=blocking,
        suppressed=tuple(suppressed),
        new_vs_baseline=new,
        blocking_skipped=tuple(blocking_skipped),
        reasons=tuple(reasons),
    )


def with_findings(result: ScanResult, findings: tuple[Finding, ...]) -> ScanResult:
    """A copy of ``result`` with other findings (for callers that post-process)."""
    return replace(result, findings=findings)
