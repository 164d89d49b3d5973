"""A posture check as a result and a verdict, so every reporter and the exit code just work.

>>> from bastion.posture.check import fixed_since
>>> from bastion.posture.model import Posture
>>> fixed_since(Posture(project="p"), frozenset())
()
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from bastion.core import ScanResult, Severity
from bastion.policy.evaluate import Verdict, evaluate
from bastion.policy.model import Policy
from bastion.posture.collect import Observation
from bastion.posture.compare import compare
from bastion.posture.config import PostureSettings
from bastion.posture.model import AcceptedFinding, Posture


@dataclass(frozen=True)
class CheckOutcome:
    """Deviations (as a result and its verdict) and what improved since the baseline."""

    result: ScanResult
    verdict: Verdict
    fixed: tuple[AcceptedFinding, ...]


def fixed_since(baseline: Posture, present: frozenset[str]) -> tuple[AcceptedFinding, ...]:
    """Accepted findings whose fingerprint is no longer reported."""
    return tuple(f for f in baseline.findings if f.fingerprint not in present)


def check_posture(
    baseline: Posture,
    seen: Observation,
    settings: PostureSettings,
    *,
    started: datetime | None = None,
    policy_file: str = "bastion.toml",
    keys: tuple[Path, ...] | None = None,
    fail_on: Severity | None = None,
) -> CheckOutcome:
    """Compare and judge: the check fails on deviations at or above ``fail_on``."""
    deviations = compare(baseline, seen, settings, policy_file=policy_file, keys=keys)
    result = dataclasses.replace(
        seen.result,
        started=started or seen.result.started,
        finished=datetime.now(timezone.utc),
        findings=deviations,
    )
    threshold = settings.fail_on if fail_on is None else fail_on
    verdict = evaluate(result, Policy(fail_on=threshold))
    if not verdict.passed:
        reasons = (
            f"{len(verdict.blocking)} deviation(s) from the posture baseline at or above "
            f"{threshold.label}",
        )
        verdict = dataclasses.replace(verdict, reasons=reasons)
    present = frozenset(f.fingerprint for f in seen.verdict.findings)
    return CheckOutcome(result, verdict, fixed_since(baseline, present))
