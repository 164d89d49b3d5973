"""A self-contained HTML report: one file, no external assets, filterable, with an SVG chart.

The template is rendered with Jinja2 autoescaping, so nothing from a scanned file can inject
markup; secrets are already redacted in findings.
"""

from __future__ import annotations

from collections import Counter
from importlib import resources
from typing import Any

import jinja2

from bastion.core import Finding, Severity
from bastion.report.interface import Reporter, ReportInput

_CSS = {
    Severity.CRITICAL: "crit",
    Severity.HIGH: "high",
    Severity.MEDIUM: "med",
    Severity.LOW: "low",
    Severity.INFO: "info",
}


def _chart(findings: tuple[Finding, ...]) -> dict[str, Any]:
    counts: Counter[tuple[str, Severity]] = Counter((f.category, f.severity) for f in findings)
    categories = sorted({c for c, _ in counts})
    biggest = max((sum(counts[(c, s)] for s in Severity) for c in categories), default=1)
    label_width, bar_width = 110, 520
    bars = []
    for row, category in enumerate(categories):
        x = label_width
        segments = []
        for severity in sorted(Severity, reverse=True):
            count = counts[(category, severity)]
            if not count:
                continue
            width = max(2, round(bar_width * count / biggest))
            segments.append(
                {
                    "x": x,
                    "width": width,
                    "count": count,
                    "severity": severity.label,
                    "css": _CSS[severity],
                }
            )
            x += width
        bars.append(
            {
                "label": category,
                "y": row * 26,
                "segments": segments,
                "end": x,
                "total": sum(counts[(category, s)] for s in Severity),
            }
        )
    return {
        "bars": bars,
        "width": label_width + bar_width + 60,
        "height": max(26, 26 * len(categories)),
    }


def render_html(report: ReportInput) -> str:
    """The HTML document."""
    verdict, result = report.verdict, report.result
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template_text = (
        resources.files("bastion.report").joinpath("templates/scan.html.j2").read_text("utf-8")
    )
    blocking = {id(f) for f in verdict.blocking}
    ordered = sorted(verdict.findings, key=lambda f: (-f.severity, f.sort_key()))
    findings = [
        {
            "severity": f.severity.label,
            "category": f.category,
            "rule_id": f.rule_id,
            "location": f.location.display(),
            "title": f.title,
            "message": f.message,
            "evidence": f.evidence,
            "remediation": f.remediation,
            "references": ", ".join(
                f.references.cwe + f.references.owasp + f.references.atlas + f.references.nist
            ),
            "blocking": id(f) in blocking,
        }
        for f in ordered
    ]
    return env.from_string(template_text).render(
        target=result.root,
        passed=verdict.passed,
        reasons="; ".join(verdict.reasons) or "no blocking findings",
        artifacts=len(result.artifacts),
        skipped=[
            {"display": s.display, "reason": s.reason.value, "detail": s.detail}
            for s in result.skipped
        ],
        suppressed=len(verdict.suppressed),
        notes=list(result.notes),
        duration=f"{result.duration:.2f}",
        version=report.tool_version,
        chart=_chart(verdict.findings),
        severities=[s.label for s in sorted(Severity, reverse=True)],
        categories=sorted({f.category for f in verdict.findings}),
        findings=findings,
    )


class HtmlReporter(Reporter):
    """Single-file HTML."""

    name = "html"

    def render(self, report: ReportInput) -> str:
        """The HTML text."""
        return render_html(report)
