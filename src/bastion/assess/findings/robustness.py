"""Findings of the robustness checks: clean accuracy, one finding per attack and norm, fallbacks."""

from __future__ import annotations

from bastion.assess import rules as R
from bastion.assess.config import RobustnessSpec
from bastion.assess.findings.common import pct, severity_for
from bastion.assess.robustness.evaluate import AttackMetrics, RobustnessReport
from bastion.core import Confidence, Finding, Location


def _attack_dict(m: AttackMetrics, threshold: float | None) -> dict[str, object]:
    return {
        "epsilon": m.epsilon,
        "robust_accuracy": round(m.robust_accuracy, 6),
        "success_rate": round(m.success_rate, 6),
        "median_linf": m.median_linf,
        "median_l2": m.median_l2,
        "queries_per_sample_mean": round(m.queries_mean, 3),
        "queries_per_sample_median": m.queries_median,
        "samples": m.samples,
        "attacked": m.attacked,
        "seconds": round(m.seconds, 3),
        "partial": m.partial,
        "min_robust_accuracy": threshold,
    }


_KIND_RULE = {
    "white-box": R.ASR_WHITEBOX,
    "score-based": R.ASR_SCORE,
    "decision-based": R.ASR_DECISION,
}


def robustness_findings(report: RobustnessReport, spec: RobustnessSpec, path: str) -> list[Finding]:
    """Clean accuracy, one finding per attack and norm, fallbacks and partial runs."""
    location = Location(path)
    findings: list[Finding] = []
    low = spec.min_clean_accuracy is not None and report.clean_accuracy < spec.min_clean_accuracy
    findings.append(
        R.ASR_CLEAN.finding(
            location,
            f"clean accuracy {pct(report.clean_accuracy)} on {report.samples} held-out samples"
            + (f", below the policy minimum {pct(spec.min_clean_accuracy or 0)}" if low else ""),
            evidence=f"{report.target}: clean accuracy",
            severity=severity_for(R.ASR_CLEAN, low, spec.severity),
            properties={
                "target": report.target,
                "metrics": {"clean_accuracy": report.clean_accuracy, "samples": report.samples},
                "thresholds": {"min_clean_accuracy": spec.min_clean_accuracy},
            },
        )
    )
    groups: dict[tuple[str, str], list[AttackMetrics]] = {}
    for metric in report.attacks:
        groups.setdefault((metric.attack, metric.norm), []).append(metric)
    for (attack, norm), metrics in groups.items():
        rule = _KIND_RULE[metrics[0].kind]
        curve = sorted(metrics, key=lambda m: m.epsilon)
        violations = [
            (m, t)
            for m in curve
            if (t := spec.robust_threshold(m.epsilon)) is not None and m.robust_accuracy < t
        ]
        points = ", ".join(f"{pct(m.robust_accuracy)} at ε={m.epsilon:g}" for m in curve)
        if violations:
            m, t = violations[0]
            message = (
                f"{attack.upper()} ({norm}) leaves {pct(m.robust_accuracy)} accuracy at "
                f"ε={m.epsilon:g}, below the policy minimum {pct(t)}; robust accuracy: {points}"
            )
        else:
            message = f"{attack.upper()} ({norm}) robust accuracy: {points}"
        queries = max(m.queries_mean for m in curve)
        if metrics[0].kind != "white-box":
            message += f"; up to {queries:.0f} queries per sample"
        findings.append(
            rule.finding(
                location,
                message,
                evidence=f"{report.target}: {attack} {norm}",
                severity=severity_for(rule, bool(violations), spec.severity),
                confidence=Confidence.MEDIUM if any(m.partial for m in curve) else None,
                properties={
                    "target": report.target,
                    "attack": attack,
                    "norm": norm,
                    "kind": metrics[0].kind,
                    "metrics": {
                        "clean_accuracy": report.clean_accuracy,
                        "curve": [_attack_dict(m, spec.robust_threshold(m.epsilon)) for m in curve],
                    },
                    "thresholds": {
                        "min_robust_accuracy": {
                            f"{m.epsilon:g}": spec.robust_threshold(m.epsilon) for m in curve
                        }
                    },
                    "precision": report.precision,
                    "device": report.device,
                },
            )
        )
    if report.fallback:
        findings.append(
            R.ASR_FALLBACK.finding(
                location,
                report.fallback,
                evidence=f"{report.target}: white-box fallback",
                properties={"target": report.target},
            )
        )
    if report.partial:
        findings.append(
            R.ASR_PARTIAL.finding(
                location,
                f"measurements cut short: {report.partial}; "
                + "; ".join(n for n in report.notes if "stopped" in n or "skipped" in n),
                evidence=f"{report.target}: partial robustness",
                properties={"target": report.target, "notes": list(report.notes)},
            )
        )
    return findings
