"""Comparing the accepted posture with the measured one: every deviation is a finding.

>>> from bastion.posture.compare import metric_deviation
>>> from bastion.posture.config import PostureSettings
>>> metric_deviation("BST-ASR-001/robust_accuracy/0.03", 0.60, 0.50, PostureSettings())
'worse by 0.1 (0.6 → 0.5; higher is better, tolerance 0.02)'

Rules are in :mod:`bastion.posture.rules`. A changed or new model (or dataset) is accepted
without a deviation only when a signature next to it verifies the *new* digest with a trusted
key (``bastion.integrity.verify``); that case is still reported, at ``info``, so the baseline can
be brought up to date.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from bastion.core import Finding, Location
from bastion.errors import BastionError
from bastion.posture import rules
from bastion.posture.collect import Observation
from bastion.posture.config import PostureSettings
from bastion.posture.model import DigestEntry, MetricEntry, Posture
from bastion.rules import Rule


def signature_check(path: Path, digest: str, keys: tuple[Path, ...]) -> tuple[bool, str]:
    """Whether a signature next to ``path`` verifies content with ``digest``: (ok, signer|why)."""
    from bastion.integrity.signing import default_signature_path

    if not keys:
        return False, "no trusted keys configured ([posture] or [deploy] trusted_keys, --key)"
    signature = default_signature_path(path)
    if not signature.is_file():
        return False, f"no signature ({signature.name})"
    try:
        from bastion.integrity.verify import Trust, verify_model

        result = verify_model(path, signature, Trust(keys=keys))
    except ImportError as exc:
        return False, f"cannot verify the signature: {exc} (pip install 'bastion-ml[sign]')"
    except BastionError as exc:
        return False, f"cannot verify the signature: {exc.diagnostics()}"
    if not result.verified:
        reasons = "; ".join(p.message for p in result.problems[:3])
        return False, f"signature does not verify: {reasons}"
    if result.model_digest != digest:
        return False, "the signature verifies other content than the one measured"
    return True, result.signer or "a trusted key"


def metric_deviation(
    name: str, before: float, after: float, settings: PostureSettings
) -> str | None:
    """Why a metric counts as worse, or ``None`` when it is within tolerance."""
    tolerance = settings.tolerance_for(name)
    delta = after - before
    direction = settings.direction(name)
    change = f"({before:.6g} → {after:.6g}"
    if direction > 0 and delta < -tolerance:
        return f"worse by {-delta:.6g} {change}; higher is better, tolerance {tolerance:g})"
    if direction < 0 and delta > tolerance:
        return f"worse by {delta:.6g} {change}; lower is better, tolerance {tolerance:g})"
    if direction == 0 and abs(delta) > tolerance:
        return (
            f"changed by {delta:+.6g} {change}; which way is better is unknown: name it in "
            f"[posture] higher_is_better or lower_is_better; tolerance {tolerance:g})"
        )
    return None


class _Deviations:
    """Collects deviation findings."""

    def __init__(self) -> None:
        self.items: list[Finding] = []

    def add(
        self, rule: Rule, where: Location, message: str, evidence: str, **props: object
    ) -> None:
        """Add one deviation of ``rule``."""
        self.items.append(rule.finding(where, message, evidence=evidence, properties=props))


def _findings(baseline: Posture, seen: Observation, out: _Deviations) -> None:
    accepted = {f.fingerprint: f for f in baseline.findings}
    for finding in seen.verdict.findings:
        known = accepted.get(finding.fingerprint)
        if known is None:
            deviation = rules.NEW_FINDING.finding(
                finding.location,
                f"new {finding.rule_id} ({finding.severity.label}): {finding.title}: "
                f"{finding.message}",
                evidence=finding.fingerprint,
                severity=finding.severity,
                confidence=finding.confidence,
                references=finding.references,
                remediation=finding.remediation or None,
                properties={"rule_id": finding.rule_id, "fingerprint": finding.fingerprint},
            )
            out.items.append(dataclasses.replace(deviation, category=finding.category))
        elif finding.severity > known.severity:
            out.add(
                rules.FINDING_WORSE,
                finding.location,
                f"{finding.rule_id} was accepted at {known.severity.label}, now "
                f"{finding.severity.label}: {finding.message}",
                finding.fingerprint,
                rule_id=finding.rule_id,
                fingerprint=finding.fingerprint,
            )


def _digests(
    kind: str,
    before: tuple[DigestEntry, ...],
    after: tuple[DigestEntry, ...],
    paths: Mapping[str, Path],
    unmeasured: set[str],
    keys: tuple[Path, ...],
    out: _Deviations,
) -> None:
    old = {e.name: e for e in before}
    cur = {e.name: e for e in after}
    changed_rule = rules.DATASET_CHANGED if kind == "dataset" else rules.MODEL_UNSIGNED_CHANGE
    new_rule = rules.DATASET_CHANGED if kind == "dataset" else rules.MODEL_UNSIGNED_NEW
    for name in sorted(set(old) | set(cur)):
        a, b = old.get(name), cur.get(name)
        if b is None:
            if a is None or a.path in unmeasured:
                continue  # reported as not measured, not as removed
            removed = rules.DATASET_CHANGED if kind == "dataset" else rules.MODEL_REMOVED
            out.add(
                removed,
                Location(a.path),
                f"{kind} {name} ({a.digest[:19]}…) was accepted and is gone",
                f"removed {a.digest}",
                digest_before=a.digest,
            )
            continue
        if a is not None and a.digest == b.digest:
            continue
        signed, why = signature_check(paths[name], b.digest, keys)
        what = "changed" if a is not None else "is new"
        props: dict[str, object] = {"digest_after": b.digest}
        if a is not None:
            props["digest_before"] = a.digest
        if signed:
            out.add(
                rules.MODEL_RESIGNED,
                Location(b.path),
                f"{kind} {name} {what} and is signed by {why}; set the baseline to accept it",
                b.digest,
                **props,
            )
        else:
            rule = changed_rule if a is not None else new_rule
            digests = f"{a.digest[:19]}… → {b.digest[:19]}…" if a is not None else b.digest[:19]
            out.add(
                rule,
                Location(b.path),
                f"{kind} {name} {what} ({digests}) without a valid new signature: {why}",
                b.digest,
                **props,
            )


def _dependencies(baseline: Posture, seen: Observation, out: _Deviations) -> None:
    old = {d.key: d for d in baseline.dependencies}
    cur = {d.key: d for d in seen.posture.dependencies}
    for key in sorted(set(old) | set(cur)):
        a, b = old.get(key), cur.get(key)
        if b is None:
            if a is None:
                continue
            out.add(
                rules.DEPENDENCY_REMOVED,
                Location(a.source),
                f"dependency {a.name}{a.requirement} is no longer declared",
                f"{key} removed",
                package=a.name,
            )
        elif a is None:
            out.add(
                rules.DEPENDENCY_NEW,
                Location(b.source, line=b.line),
                f"new dependency {b.name}{b.requirement} ({b.source})",
                f"{key}{b.requirement}",
                package=b.name,
                requirement=b.requirement,
            )
        elif a.requirement != b.requirement:
            out.add(
                rules.DEPENDENCY_CHANGED,
                Location(b.source, line=b.line),
                f"dependency {b.name} changed from {a.requirement} to {b.requirement}",
                f"{key}{a.requirement}->{b.requirement}",
                package=b.name,
                before=a.requirement,
                after=b.requirement,
            )


def _metrics(
    baseline: Posture, seen: Observation, settings: PostureSettings, out: _Deviations
) -> None:
    current: dict[str, MetricEntry] = {m.name: m for m in seen.posture.metrics}
    source = seen.posture.metrics_source or "assessment"
    for accepted in baseline.metrics:
        now = current.get(accepted.name)
        where = Location(source, member=accepted.name)
        if now is None:
            state = "not measured" if current else "no assessment metrics to compare"
            out.add(
                rules.METRIC_MISSING,
                where,
                f"metric {accepted.name} (accepted {accepted.value:.6g}): {state}",
                accepted.name,
                metric=accepted.name,
            )
            continue
        why = metric_deviation(accepted.name, accepted.value, now.value, settings)
        if why is not None:
            out.add(
                rules.METRIC_WORSE,
                where,
                f"metric {accepted.name} {why}",
                accepted.name,
                metric=accepted.name,
                before=accepted.value,
                after=now.value,
            )


def compare(
    baseline: Posture,
    seen: Observation,
    settings: PostureSettings,
    *,
    policy_file: str = "bastion.toml",
    keys: tuple[Path, ...] | None = None,
) -> tuple[Finding, ...]:
    """Every deviation of ``seen`` from ``baseline``, as findings in report order."""
    trusted = settings.trusted_keys if keys is None else keys
    out = _Deviations()
    _findings(baseline, seen, out)
    unmeasured = {u.path for u in seen.unchecked}
    _digests(
        "model", baseline.models, seen.posture.models, seen.model_paths, unmeasured, trusted, out
    )
    _digests(
        "dataset",
        baseline.datasets,
        seen.posture.datasets,
        seen.dataset_paths,
        unmeasured,
        trusted,
        out,
    )
    _dependencies(baseline, seen, out)
    _metrics(baseline, seen, settings, out)
    before, after = baseline.gateway_digest, seen.posture.gateway_digest
    if before != after:
        state = "was added" if before is None else "was removed" if after is None else "changed"
        out.add(
            rules.GATEWAY_CHANGED,
            Location(policy_file),
            f"the [gateway] configuration {state} since the posture baseline",
            f"{before}->{after}",
            digest_before=before,
            digest_after=after,
        )
    for item in seen.unchecked:
        out.add(rules.UNCHECKED, Location(item.path), item.message, item.message)
    return tuple(sorted(out.items, key=lambda f: (-f.severity, f.sort_key())))
