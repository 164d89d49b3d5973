"""Findings of the privacy checks: membership attacks, exposure, inversion, the DP statement."""

from __future__ import annotations

from bastion.assess import rules as R
from bastion.assess.config import PrivacySpec
from bastion.assess.findings.common import pct, severity_for
from bastion.assess.privacy.attacks import MembershipResult
from bastion.assess.privacy.evaluate import PrivacyReport
from bastion.core import Finding, Location
from bastion.rules import Rule


def _membership_dict(result: MembershipResult) -> dict[str, object]:
    s = result.summary
    return {
        "attack": result.attack,
        "auc": round(s.auc, 6),
        "balanced_accuracy": round(s.balanced_accuracy, 6),
        "tpr_at_1pct_fpr": round(s.tpr_at_1pct_fpr, 6),
        "tpr_at_01pct_fpr": round(s.tpr_at_01pct_fpr, 6),
        "note": result.note,
    }


def _membership_finding(
    rule: Rule,
    results: list[MembershipResult],
    report: PrivacyReport,
    spec: PrivacySpec,
    location: Location,
    label: str,
) -> Finding:
    best = max(results, key=lambda r: (r.summary.tpr_at_1pct_fpr, r.summary.auc))
    s = best.summary
    checks = [
        ("AUC", s.auc, spec.max_auc),
        ("TPR at 1% FPR", s.tpr_at_1pct_fpr, spec.max_tpr_at_1pct_fpr),
        ("TPR at 0.1% FPR", s.tpr_at_01pct_fpr, spec.max_tpr_at_01pct_fpr),
    ]
    broken = [
        f"{name} {value:.3f} > {limit:.3f}"
        for name, value, limit in checks
        if limit is not None and value > limit
    ]
    message = (
        f"strongest {label} attack ({best.attack}): AUC {s.auc:.3f}, TPR {pct(s.tpr_at_1pct_fpr)}"
        f" at 1% FPR, {pct(s.tpr_at_01pct_fpr)} at 0.1% FPR, balanced accuracy "
        f"{pct(s.balanced_accuracy)} ({report.members} members vs {report.nonmembers} "
        f"non-members; train accuracy {pct(report.train_accuracy)}, test "
        f"{pct(report.test_accuracy)})"
    )
    if broken:
        message += "; above policy: " + ", ".join(broken)
    return rule.finding(
        location,
        message,
        evidence=f"{report.target}: {label} membership inference",
        severity=severity_for(rule, bool(broken), spec.severity),
        properties={
            "target": report.target,
            "metrics": {
                "attacks": [_membership_dict(r) for r in results],
                "strongest": best.attack,
                "train_accuracy": report.train_accuracy,
                "test_accuracy": report.test_accuracy,
                "members": report.members,
                "nonmembers": report.nonmembers,
            },
            "thresholds": {
                "max_auc": spec.max_auc,
                "max_tpr_at_1pct_fpr": spec.max_tpr_at_1pct_fpr,
                "max_tpr_at_01pct_fpr": spec.max_tpr_at_01pct_fpr,
            },
        },
    )


def privacy_findings(report: PrivacyReport, spec: PrivacySpec, path: str) -> list[Finding]:
    """Membership (shadow-free and LiRA), exposure, inversion, DP statement, fallbacks."""
    location = Location(path)
    findings: list[Finding] = []
    simple = [r for r in report.attacks if not r.attack.startswith("lira")]
    lira = [r for r in report.attacks if r.attack.startswith("lira")]
    if simple:
        findings.append(
            _membership_finding(R.APR_THRESHOLD, simple, report, spec, location, "shadow-free")
        )
    if lira:
        findings.append(
            _membership_finding(R.APR_LIRA, lira, report, spec, location, "likelihood-ratio")
        )
    if report.lira_skipped:
        findings.append(
            R.APR_FALLBACK.finding(
                location,
                report.lira_skipped,
                evidence=f"{report.target}: lira skipped",
                properties={"target": report.target},
            )
        )
    if report.exposed or spec.max_exposed_fraction is not None:
        over = (
            spec.max_exposed_fraction is not None
            and report.exposed_fraction > spec.max_exposed_fraction
        )
        ids = ", ".join(str(i) for i, _ in report.exposed[:10])
        findings.append(
            R.APR_EXPOSED.finding(
                location,
                f"{pct(report.exposed_fraction)} of members score above the 0.1%-FPR threshold "
                f"of the {report.exposure_attack} attack"
                + (f"; most exposed rows: {ids}" if ids else ""),
                evidence=f"{report.target}: exposed records",
                severity=severity_for(R.APR_EXPOSED, over, spec.severity),
                properties={
                    "target": report.target,
                    "metrics": {
                        "exposed_fraction": report.exposed_fraction,
                        "attack": report.exposure_attack,
                        "records": [{"row": i, "score": s} for i, s in report.exposed],
                    },
                    "thresholds": {"max_exposed_fraction": spec.max_exposed_fraction},
                },
            )
        )
    inv = report.inversion
    if inv is not None and inv.classes:
        over = (
            spec.max_inversion_similarity is not None
            and inv.mean_similarity > spec.max_inversion_similarity
        )
        findings.append(
            R.APR_INVERSION.finding(
                location,
                f"reconstructions from {inv.method} resemble their class mean with cosine "
                f"similarity {inv.mean_similarity:.2f} on average; {pct(inv.identification_rate)}"
                f" of {len(inv.classes)} classes are identified",
                evidence=f"{report.target}: model inversion",
                severity=severity_for(R.APR_INVERSION, over, spec.severity),
                properties={
                    "target": report.target,
                    "metrics": {
                        "mean_similarity": inv.mean_similarity,
                        "identification_rate": inv.identification_rate,
                        "per_class": [
                            {"class": c, "similarity": s, "identified": i, "confidence": p}
                            for c, s, i, p in zip(
                                inv.classes,
                                inv.similarity,
                                inv.identified,
                                inv.confidence,
                                strict=True,
                            )
                        ],
                        "queries": inv.queries,
                    },
                    "thresholds": {"max_inversion_similarity": spec.max_inversion_similarity},
                },
            )
        )
    if report.dp is not None or spec.require_dp:
        dp = report.dp
        if dp is None:
            message, bad = "no differential-privacy guarantee, and the policy requires one", True
        else:
            bad = spec.max_epsilon is not None and dp.epsilon > spec.max_epsilon
            message = (
                f"trained with ({dp.epsilon:g}, {dp.delta:g})-differential privacy ({dp.mechanism})"
            )
            if bad:
                message += f"; the policy allows at most ε={spec.max_epsilon:g}"
        findings.append(
            R.APR_DP.finding(
                location,
                message,
                evidence=f"{report.target}: differential privacy",
                severity=severity_for(R.APR_DP, bad, spec.severity),
                properties={
                    "target": report.target,
                    "metrics": {
                        "epsilon": dp.epsilon if dp else None,
                        "delta": dp.delta if dp else None,
                        "mechanism": dp.mechanism if dp else None,
                    },
                    "thresholds": {"max_epsilon": spec.max_epsilon, "require_dp": spec.require_dp},
                },
            )
        )
    return findings
