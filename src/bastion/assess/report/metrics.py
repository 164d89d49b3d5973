"""The JSON metrics document: every number an assessment measured, versioned.

Schema ``bastion/assess-metrics`` version 1. Findings (with their thresholds) are in the usual
JSON/SARIF reports; this document holds the full curves, ROC points, per-class inversion
scores and per-method screening results, for dashboards and before/after comparisons.
"""

from __future__ import annotations

import json
from typing import Any

from bastion import __version__
from bastion.assess.poisoning.evaluate import PoisoningReport
from bastion.assess.privacy.evaluate import PrivacyReport
from bastion.assess.robustness.evaluate import RobustnessReport
from bastion.assess.runner import Assessment
from bastion.policy.evaluate import Verdict

SCHEMA = "bastion/assess-metrics"
SCHEMA_VERSION = "1.0"


def robustness_dict(report: RobustnessReport) -> dict[str, Any]:
    """One target's robustness measurements."""
    return {
        "target": report.target,
        "clean_accuracy": report.clean_accuracy,
        "samples": report.samples,
        "precision": report.precision,
        "device": report.device,
        "fallback": report.fallback,
        "partial": report.partial,
        "notes": list(report.notes),
        "attacks": [
            {
                "attack": m.attack,
                "kind": m.kind,
                "norm": m.norm,
                "epsilon": m.epsilon,
                "robust_accuracy": m.robust_accuracy,
                "success_rate": m.success_rate,
                "median_linf": m.median_linf,
                "median_l2": m.median_l2,
                "queries_per_sample_mean": m.queries_mean,
                "queries_per_sample_median": m.queries_median,
                "samples": m.samples,
                "attacked": m.attacked,
                "seconds": m.seconds,
                "partial": m.partial,
            }
            for m in report.attacks
        ],
    }


def privacy_dict(report: PrivacyReport) -> dict[str, Any]:
    """One target's privacy measurements."""
    inv = report.inversion
    return {
        "target": report.target,
        "members": report.members,
        "nonmembers": report.nonmembers,
        "train_accuracy": report.train_accuracy,
        "test_accuracy": report.test_accuracy,
        "shadow_models": report.shadow_models,
        "lira_skipped": report.lira_skipped,
        "attacks": [
            {
                "attack": r.attack,
                "auc": r.summary.auc,
                "balanced_accuracy": r.summary.balanced_accuracy,
                "tpr_at_1pct_fpr": r.summary.tpr_at_1pct_fpr,
                "tpr_at_01pct_fpr": r.summary.tpr_at_01pct_fpr,
                "note": r.note,
                "roc": [[a, b] for a, b in r.roc],
            }
            for r in report.attacks
        ],
        "strongest": report.strongest.attack if report.strongest else None,
        "exposed": {
            "attack": report.exposure_attack,
            "fraction": report.exposed_fraction,
            "records": [{"row": i, "score": s} for i, s in report.exposed],
        },
        "inversion": None
        if inv is None
        else {
            "method": inv.method,
            "mean_similarity": inv.mean_similarity,
            "identification_rate": inv.identification_rate,
            "queries": inv.queries,
            "note": inv.note,
            "classes": [
                {"class": c, "similarity": s, "identified": i, "confidence": p}
                for c, s, i, p in zip(
                    inv.classes, inv.similarity, inv.identified, inv.confidence, strict=True
                )
            ],
        },
        "differential_privacy": None
        if report.dp is None
        else {
            "epsilon": report.dp.epsilon,
            "delta": report.dp.delta,
            "mechanism": report.dp.mechanism,
        },
        "notes": list(report.notes),
    }


def poisoning_dict(report: PoisoningReport) -> dict[str, Any]:
    """The data screens' results (flagged row ids per method)."""
    backdoor = report.backdoor
    return {
        "source": report.source,
        "screened": report.screened,
        "estimated_poison_rate": report.estimated_rate,
        "poison_rows": report.ids(report.poison),
        "methods": {
            name: {"flagged": int(mask.sum()), "rows": report.ids(mask)}
            for name, mask in report.methods.items()
        },
        "backdoor_classes": list(backdoor.suspect_classes) if backdoor else [],
        "reclassified_per_class": list(backdoor.reclassified_counts) if backdoor else [],
        "representation": report.representation,
        # Every screened row's suspicion score: with ground truth, precision and recall at any
        # threshold follow directly.
        "scores": {
            "rows": [int(v) for v in report.rows],
            "suspicion": [round(float(v), 4) for v in report.suspicion],
        },
        "most_suspicious": [
            {
                "row": int(report.rows[i]),
                "label": int(report.labels[i]),
                "suspicion": float(report.suspicion[i]),
            }
            for i in report.most_suspicious(50)
        ],
        "notes": list(report.notes),
    }


def metrics_document(assessment: Assessment, verdict: Verdict) -> dict[str, Any]:
    """The whole document as a JSON-ready dict."""
    result = assessment.result
    return {
        "schema": SCHEMA,
        "version": SCHEMA_VERSION,
        "tool": {"name": "bastion", "version": __version__},
        "config": assessment.settings.source,
        "seed": assessment.settings.seed,
        "checks": list(assessment.checks),
        "started": result.started.isoformat(),
        "finished": result.finished.isoformat(),
        "duration_seconds": round(result.duration, 3),
        "timings": {k: round(v, 3) for k, v in assessment.timings.items()},
        "verdict": {
            "passed": verdict.passed,
            "reasons": list(verdict.reasons),
            "blocking": [f.rule_id for f in verdict.blocking],
        },
        "data": assessment.data_summary,
        "targets": list(assessment.targets),
        "robustness": [robustness_dict(r) for r in assessment.robustness],
        "privacy": [privacy_dict(r) for r in assessment.privacy],
        "poisoning": poisoning_dict(assessment.poisoning) if assessment.poisoning else None,
        "sanitized": list(assessment.sanitized),
    }


def render_metrics(assessment: Assessment, verdict: Verdict) -> str:
    """The document as indented JSON text."""
    return json.dumps(metrics_document(assessment, verdict), indent=2, default=str) + "\n"
