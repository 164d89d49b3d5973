"""Findings of the training-data screens and of rows dropped for missing values."""

from __future__ import annotations

from bastion.assess import rules as R
from bastion.assess.config import PoisoningSpec
from bastion.assess.findings.common import LIST_LIMIT, pct, severity_for
from bastion.assess.poisoning.evaluate import PoisoningReport
from bastion.core import Finding, Location, Severity


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
                f"{int(mask.sum())} of {n} labels ({pct(rate)}) disagree with models trained "
                f"without them (cleanlab flags {counts.get('cleanlab', 0)}, the kNN check "
                f"{counts.get('knn', 0)})",
                evidence="label issues",
                severity=severity_for(R.APD_LABELS, over, spec.severity),
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
                severity=severity_for(R.APD_DUPLICATES, over, spec.severity),
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
                f"{int(report.outliers.sum())} samples ({pct(rate)}) sit closer to other classes"
                " than to their own",
                evidence="class-conditional outliers",
                severity=severity_for(R.APD_OUTLIERS, over, spec.severity),
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
                        severity=severity_for(R.APD_BACKDOOR, spec.fail_on_backdoor, spec.severity),
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
            f"estimated poisoning rate {pct(rate)} ({int(report.poison.sum())} of {n} rows "
            "flagged by label, duplicate or backdoor screens)",
            evidence="estimated poisoning rate",
            severity=severity_for(R.APD_RATE, over, spec.severity),
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
