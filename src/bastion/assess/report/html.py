"""The self-contained HTML report: findings, charts (inline SVG) and images (inline PNG).

One file with no external resource and no script: robust accuracy over ε per attack, ROC curves
of the membership attacks on log-log axes (where the low-FPR regime the literature cares about is
visible), histograms of per-record leakage for members and non-members, adversarial examples
next to their originals, reconstructed class representatives next to the true class means, and
the most suspicious training samples.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import jinja2

from bastion import __version__
from bastion.assess.poisoning.evaluate import PoisoningReport
from bastion.assess.privacy.evaluate import PrivacyReport
from bastion.assess.report.png import data_uri
from bastion.assess.report.svg import histogram, line_chart
from bastion.assess.robustness.evaluate import RobustnessReport
from bastion.assess.runner import Assessment
from bastion.assess.targets.interface import NDArray
from bastion.policy.evaluate import Verdict


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}g}"


def _image(x: NDArray, bounds: tuple[float, float], image: bool) -> str | None:
    if not image or x.ndim not in (2, 3):
        return None
    try:
        return data_uri(x, bounds)
    except ValueError:
        return None


def _robustness(r: RobustnessReport, bounds: tuple[float, float], image: bool) -> dict[str, Any]:
    charts = []
    for norm in ("linf", "l2"):
        series = [
            (attack, [(0.0, r.clean_accuracy), *r.curve(attack, norm)])
            for attack in dict.fromkeys(m.attack for m in r.attacks if m.norm == norm)
        ]
        if series:
            charts.append(
                line_chart(
                    series,
                    title=f"{r.target}: robust accuracy vs ε ({norm})",
                    x_label=f"ε ({'L∞' if norm == 'linf' else 'L2'})",
                    y_label="robust accuracy",
                    y_range=(0.0, 1.0),
                )
            )
    rows = [
        {
            "attack": m.attack,
            "kind": m.kind,
            "norm": m.norm,
            "epsilon": f"{m.epsilon:g}",
            "robust": _pct(m.robust_accuracy),
            "success": _pct(m.success_rate),
            "linf": _num(m.median_linf),
            "l2": _num(m.median_l2),
            "queries": f"{m.queries_mean:.1f}",
            "seconds": f"{m.seconds:.2f}",
        }
        for m in r.attacks
    ]
    examples = []
    for e in r.examples:
        original, adversarial = (
            _image(e.original, bounds, image),
            _image(e.adversarial, bounds, image),
        )
        if original and adversarial:
            examples.append(
                {
                    "original": original,
                    "adversarial": adversarial,
                    "row": e.row,
                    "label": e.label,
                    "adv_label": e.adversarial_label if e.adversarial_label >= 0 else "?",
                    "attack": e.attack,
                    "epsilon": f"{e.epsilon:g}",
                }
            )
    return {
        "target": r.target,
        "clean_accuracy": r.clean_accuracy,
        "samples": r.samples,
        "precision": r.precision,
        "device": r.device,
        "fallback": r.fallback,
        "notes": list(r.notes),
        "charts": charts,
        "rows": rows,
        "examples": examples,
    }


def _privacy(p: PrivacyReport, bounds: tuple[float, float], image: bool) -> dict[str, Any]:
    floor = 1.0 / max(p.nonmembers, 1)
    roc = line_chart(
        [(a.attack, [(max(x, floor / 2), max(y, floor / 2)) for x, y in a.roc]) for a in p.attacks],
        title=f"{p.target}: membership ROC (log-log)",
        x_label="false-positive rate",
        y_label="true-positive rate",
        log_x=True,
        log_y=True,
        x_range=(floor / 2, 1.0),
        y_range=(floor / 2, 1.0),
        diagonal=True,
        markers=False,
    )
    strongest = p.strongest
    hist = ""
    if strongest is not None:
        hist = histogram(
            [
                ("members", strongest.member_scores.tolist()),
                ("non-members", strongest.nonmember_scores.tolist()),
            ],
            title=f"{p.target}: per-record leakage ({strongest.attack})",
            x_label=f"{strongest.attack} score",
        )
    rows = [
        {
            "attack": a.attack,
            "auc": f"{a.summary.auc:.3f}",
            "bacc": _pct(a.summary.balanced_accuracy),
            "tpr1": _pct(a.summary.tpr_at_1pct_fpr),
            "tpr01": _pct(a.summary.tpr_at_01pct_fpr),
            "note": a.note,
        }
        for a in p.attacks
    ]
    inversion = None
    inv = p.inversion
    if inv is not None and inv.classes:
        tiles = []
        for i, c in enumerate(inv.classes):
            tiles.append(
                {
                    "cls": c,
                    "sim": f"{inv.similarity[i]:.2f}",
                    "identified": inv.identified[i],
                    "recon": _image(inv.reconstructions[i], bounds, image),
                    "mean": _image(
                        inv.class_means[c] if c < len(inv.class_means) else inv.reconstructions[i],
                        bounds,
                        image,
                    ),
                }
            )
        inversion = {
            "method": inv.method,
            "mean": f"{inv.mean_similarity:.2f}",
            "rate": _pct(inv.identification_rate),
            "tiles": tiles,
        }
    dp = (
        "No differential-privacy guarantee is declared for this model."
        if p.dp is None
        else f"Trained with ({p.dp.epsilon:g}, {p.dp.delta:g})-differential privacy "
        f"({p.dp.mechanism})."
    )
    return {
        "target": p.target,
        "members": p.members,
        "nonmembers": p.nonmembers,
        "train": _pct(p.train_accuracy),
        "test": _pct(p.test_accuracy),
        "shadow_models": p.shadow_models,
        "lira_skipped": p.lira_skipped,
        "dp": dp,
        "roc": roc,
        "histogram": hist,
        "rows": rows,
        "exposed": list(p.exposed[:20]),
        "exposure_attack": p.exposure_attack,
        "inversion": inversion,
    }


def _poisoning(
    report: PoisoningReport,
    train_x: NDArray,
    train_ids: NDArray,
    bounds: tuple[float, float],
    image: bool,
) -> dict[str, Any]:
    position = {int(v): i for i, v in enumerate(train_ids)}
    suspicious = []
    for i in report.most_suspicious(24):
        row = int(report.rows[i])
        reasons = [name for name, mask in report.methods.items() if mask[i]]
        x = train_x[position[row]] if row in position else None
        suspicious.append(
            {
                "row": row,
                "label": int(report.labels[i]),
                "reasons": ", ".join(reasons) or "suspicion score",
                "image": _image(x, bounds, image) if x is not None else None,
            }
        )
    backdoor = report.backdoor.suspect_classes if report.backdoor else ()
    return {
        "source": report.source,
        "screened": report.screened,
        "rate": _pct(report.estimated_rate),
        "backdoor": ", ".join(map(str, backdoor)),
        "representation": report.representation,
        "notes": list(report.notes),
        "methods": [(k, int(v.sum())) for k, v in report.methods.items()],
        "suspicious": suspicious,
    }


def render_html(assessment: Assessment, verdict: Verdict, *, fail_on: str = "high") -> str:
    """The whole report as one HTML string."""
    data = assessment.data_summary
    bounds_list = data.get("bounds", [0.0, 1.0])
    bounds = (float(bounds_list[0]), float(bounds_list[1]))  # type: ignore[index]
    image = assessment.image
    blocking = {id(f) for f in verdict.blocking}
    findings = [
        {
            "rule": f.rule_id,
            "severity": f.severity.label,
            "blocking": id(f) in blocking,
            "path": f.location.path,
            "message": f.message,
            "thresholds": ", ".join(
                f"{k}={v}"
                for k, v in dict(f.properties.get("thresholds", {}) or {}).items()  # type: ignore[call-overload]
                if v is not None
            )
            or "–",
        }
        for f in verdict.findings
    ]
    template_text = (
        resources.files("bastion.assess.report")
        .joinpath("report.html.j2")
        .read_text(encoding="utf-8")
    )
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = env.from_string(template_text)
    poisoning = None
    if assessment.poisoning is not None and assessment.data is not None:
        train = assessment.data.train
        poisoning = _poisoning(assessment.poisoning, train.x, train.ids, bounds, image)
    return template.render(
        title=assessment.settings.source,
        passed=verdict.passed,
        findings=findings,
        blocking=len(verdict.blocking),
        fail_on=fail_on,
        version=__version__,
        config=assessment.settings.source,
        seed=assessment.settings.seed,
        checks=list(assessment.checks),
        duration=assessment.result.duration,
        timings=list(assessment.timings.items()),
        data=data,
        robustness=[_robustness(r, bounds, image) for r in assessment.robustness],
        privacy=[_privacy(p, bounds, image) for p in assessment.privacy],
        poisoning=poisoning,
    )
