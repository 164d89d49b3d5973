"""Turning measurements into findings: each carries its metrics and the thresholds it was judged by.

A measurement within policy (or with no threshold configured) is an ``info`` finding, so JSON
and SARIF reports always carry the numbers; one outside policy gets the rule's severity (or the
section's ``severity`` override) and the ordinary ``fail_on`` gate decides. Evidence strings are
stable (attack, norm, check), so fingerprints and baselines survive changing numbers.
"""

from __future__ import annotations

from pathlib import Path

from bastion.assess import rules as R
from bastion.assess.config import PoisoningSpec, PrivacySpec, RobustnessSpec
from bastion.assess.poisoning.evaluate import PoisoningReport
from bastion.assess.privacy.attacks import MembershipResult
from bastion.assess.privacy.evaluate import PrivacyReport
from bastion.assess.robustness.evaluate import AttackMetrics, RobustnessReport
from bastion.core import Confidence, Finding, Location, Severity
from bastion.rules import Rule

LIST_LIMIT = 100


def display_path(source: str, base_dir: Path) -> str:
    """A location path: relative to the project when inside it, else as given."""
    if "://" in source:
        return source
    try:
        return Path(source).resolve().relative_to(base_dir.resolve()).as_posix()
    except ValueError:
        return source


def _severity(rule: Rule, violated: bool, override: Severity | None) -> Severity:
    if not violated:
        return Severity.INFO
    return override if override is not None else rule.severity


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


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
            f"clean accuracy {_pct(report.clean_accuracy)} on {report.samples} held-out samples"
            + (f", below the policy minimum {_pct(spec.min_clean_accuracy or 0)}" if low else ""),
            evidence=f"{report.target}: clean accuracy",
            severity=_severity(R.ASR_CLEAN, low, spec.severity),
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
        points = ", ".join(f"{_pct(m.robust_accuracy)} at ε={m.epsilon:g}" for m in curve)
        if violations:
            m, t = violations[0]
            message = (
                f"{attack.upper()} ({norm}) leaves {_pct(m.robust_accuracy)} accuracy at "
                f"ε={m.epsilon:g}, below the policy minimum {_pct(t)}; robust accuracy: {points}"
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
                severity=_severity(rule, bool(violations), spec.severity),
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
        f"strongest {label} attack ({best.attack}): AUC {s.auc:.3f}, TPR {_pct(s.tpr_at_1pct_fpr)}"
        f" at 1% FPR, {_pct(s.tpr_at_01pct_fpr)} at 0.1% FPR, balanced accuracy "
        f"{_pct(s.balanced_accuracy)} ({report.members} members vs {report.nonmembers} "
        f"non-members; train accuracy {_pct(report.train_accuracy)}, test "
        f"{_pct(report.test_accuracy)})"
    )
    if broken:
        message += "; above policy: " + ", ".join(broken)
    return rule.finding(
        location,
        message,
        evidence=f"{report.target}: {label} membership inference",
        severity=_severity(rule, bool(broken), spec.severity),
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
                f"{_pct(report.exposed_fraction)} of members score above the 0.1%-FPR threshold "
                f"of the {report.exposure_attack} attack"
                + (f"; most exposed rows: {ids}" if ids else ""),
                evidence=f"{report.target}: exposed records",
                severity=_severity(R.APR_EXPOSED, over, spec.severity),
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
                f"similarity {inv.mean_similarity:.2f} on average; {_pct(inv.identification_rate)}"
                f" of {len(inv.classes)} classes are identified",
                evidence=f"{report.target}: model inversion",
                severity=_severity(R.APR_INVERSION, over, spec.severity),
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
                severity=_severity(R.APR_DP, bad, spec.severity),
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


def poisoning_findings(report: PoisoningReport, spec: PoisoningSpec, path: str) -> list[Finding]:
    """Label issues, duplicates, outliers, backdoors and the estimated poisoning rate."""
    location = Location(path)
    n = report.screened
    findings: list[Finding] = []
    counts = {name: int(mask.sum()) for name, mask in report.methods.items()}
    base = {"screened": n, "flags_per_method": counts}
    if report.label_screen is not None:
        mask = report.label_screen.combined
        rate = float(mask.mean())
        over = spec.max_label_issue_rate is not None and rate > spec.max_label_issue_rate
        findings.append(
            R.APD_LABELS.finding(
                location,
                f"{int(mask.sum())} of {n} labels ({_pct(rate)}) disagree with models trained "
                f"without them (cleanlab flags {counts.get('cleanlab', 0)}, the kNN check "
                f"{counts.get('knn', 0)})",
                evidence="label issues",
                severity=_severity(R.APD_LABELS, over, spec.severity),
                properties={
                    "metrics": {**base, "rate": rate, "rows": report.ids(mask)[:LIST_LIMIT]},
                    "thresholds": {"max_label_issue_rate": spec.max_label_issue_rate},
                },
            )
        )
    if report.duplicates is not None:
        d = report.duplicates
        conflicts = len(d.exact_groups) + len(d.near_pairs)
        over = (
            spec.max_conflicting_duplicates is not None
            and conflicts > spec.max_conflicting_duplicates
        )
        findings.append(
            R.APD_DUPLICATES.finding(
                location,
                f"{len(d.exact_groups)} exact and {len(d.near_pairs)} near duplicate group(s) "
                f"with conflicting labels ({d.exact_duplicates} exact duplicate rows in all)",
                evidence="conflicting duplicates",
                severity=_severity(R.APD_DUPLICATES, over, spec.severity),
                properties={
                    "metrics": {
                        **base,
                        "conflicts": conflicts,
                        "rows": report.ids(d.flags)[:LIST_LIMIT],
                    },
                    "thresholds": {"max_conflicting_duplicates": spec.max_conflicting_duplicates},
                },
            )
        )
    if "outliers" in report.methods:
        rate = float(report.outliers.mean())
        over = spec.max_outlier_rate is not None and rate > spec.max_outlier_rate
        findings.append(
            R.APD_OUTLIERS.finding(
                location,
                f"{int(report.outliers.sum())} samples ({_pct(rate)}) sit closer to other classes"
                " than to their own",
                evidence="class-conditional outliers",
                severity=_severity(R.APD_OUTLIERS, over, spec.severity),
                properties={
                    "metrics": {
                        **base,
                        "rate": rate,
                        "rows": report.ids(report.outliers)[:LIST_LIMIT],
                    },
                    "thresholds": {"max_outlier_rate": spec.max_outlier_rate},
                },
            )
        )
    if report.backdoor is not None:
        b = report.backdoor
        classes = b.suspect_classes
        if classes:
            for c in classes:
                mask = b.flags & (report.labels == c)
                sources = sorted({int(v) for v in b.reclassified_to[mask]})
                findings.append(
                    R.APD_BACKDOOR.finding(
                        location,
                        f"class {c} holds {int(mask.sum())} samples that models trained without "
                        f"them assign to classes {sources}; the other classes move "
                        f"{sorted(v for k, v in enumerate(b.reclassified_counts) if k != c)}",
                        evidence=f"backdoor class {c}",
                        severity=_severity(R.APD_BACKDOOR, spec.fail_on_backdoor, spec.severity),
                        properties={
                            "metrics": {
                                **base,
                                "class": c,
                                "reclassified": int(mask.sum()),
                                "reclassified_per_class": list(b.reclassified_counts),
                                "representation": report.representation,
                                "rows": report.ids(mask)[:LIST_LIMIT],
                            },
                            "thresholds": {"fail_on_backdoor": spec.fail_on_backdoor},
                        },
                    )
                )
        else:
            findings.append(
                R.APD_BACKDOOR.finding(
                    location,
                    "no class shows a backdoor signature (reclassified per class: "
                    f"{list(b.reclassified_counts)}; spectral flags {int(b.spectral.sum())}, "
                    f"clustering flags {int(b.clustering.sum())})",
                    evidence="backdoor screen",
                    severity=Severity.INFO,
                    properties={
                        "metrics": {
                            **base,
                            "reclassified_per_class": list(b.reclassified_counts),
                            "representation": report.representation,
                        },
                        "thresholds": {"fail_on_backdoor": spec.fail_on_backdoor},
                    },
                )
            )
    rate = report.estimated_rate
    over = spec.max_poison_rate is not None and rate > spec.max_poison_rate
    findings.append(
        R.APD_RATE.finding(
            location,
            f"estimated poisoning rate {_pct(rate)} ({int(report.poison.sum())} of {n} rows "
            "flagged by label, duplicate or backdoor screens)",
            evidence="estimated poisoning rate",
            severity=_severity(R.APD_RATE, over, spec.severity),
            properties={
                "metrics": {**base, "rate": rate, "rows": report.ids(report.poison)[:LIST_LIMIT]},
                "thresholds": {"max_poison_rate": spec.max_poison_rate},
            },
        )
    )
    return findings


def dropped_rows_finding(source: str, rows: tuple[int, ...], path: str) -> Finding:
    """States the rows left out because of NaN or infinite values (nan_policy = "drop")."""
    shown = ", ".join(str(r) for r in rows[:20]) + (" …" if len(rows) > 20 else "")
    return R.APD_NONFINITE.finding(
        Location(path),
        f"{len(rows)} row(s) with NaN or infinite values were dropped from every measurement "
        f"(rows {shown})",
        evidence="non-finite rows dropped",
        properties={
            "metrics": {"dropped": len(rows), "rows": list(rows[:LIST_LIMIT])},
            "source": source,
        },
    )
