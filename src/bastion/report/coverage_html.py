"""The standards coverage report as one self-contained HTML file with an inline SVG chart.

Rendered from ``templates/coverage.html.j2`` with Jinja2 autoescaping (finding messages come
from scanned files), in the style of the scan report (:mod:`bastion.report.html`).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import jinja2

from bastion import __version__
from bastion.report.coverage import CoverageReport, Status, status_label

_CSS = {
    Status.FOUND: "found",
    Status.CLEAN: "clean",
    Status.ELSEWHERE: "elsewhere",
    Status.GAP: "gap",
}
_ORDER = (Status.FOUND, Status.CLEAN, Status.ELSEWHERE, Status.GAP)


def _chart(report: CoverageReport) -> dict[str, Any]:
    """Stacked bars: items per status in each group (ATLAS tactic, AI RMF category…)."""
    groups = report.groups()
    biggest = max((sum(row.values()) for row in groups.values()), default=1) or 1
    label_width, bar_width, row_height = 330, 460, 24
    bars = []
    for index, (group, row) in enumerate(groups.items()):
        x = label_width
        segments = []
        for status in _ORDER:
            count = row[status]
            if not count:
                continue
            width = max(3, round(bar_width * count / biggest))
            segments.append(
                {
                    "x": x,
                    "width": width,
                    "count": count,
                    "label": status_label(status),
                    "css": _CSS[status],
                }
            )
            x += width
        bars.append(
            {
                "label": group if len(group) <= 48 else group[:47] + "…",
                "title": group,
                "y": index * row_height,
                "segments": segments,
                "end": x,
                "total": sum(row.values()),
            }
        )
    return {
        "bars": bars,
        "width": label_width + bar_width + 50,
        "height": max(row_height, row_height * len(bars)),
        "legend": [{"css": _CSS[s], "label": status_label(s)} for s in _ORDER],
    }


def render_html(report: CoverageReport) -> str:
    """The HTML document."""
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = (
        resources.files("bastion.report").joinpath("templates/coverage.html.j2").read_text("utf-8")
    )
    counts = report.counts()
    items = [
        {
            "id": e.item.id,
            "name": e.item.name,
            "group": e.item.group,
            "status": e.status.value,
            "css": _CSS[e.status],
            "label": status_label(e.status)
            + (f" ({', '.join(e.commands)})" if e.status is Status.ELSEWHERE else ""),
            "rules": list(e.rules),
            "via": len(e.via_subitems),
            "findings": [
                {
                    "severity": f.severity.label,
                    "rule": f.rule_id,
                    "where": f.where,
                    "message": f.message,
                }
                for f in e.findings[:100]
            ],
            "more": max(0, len(e.findings) - 100),
            "gap": e.gap if e.status is Status.GAP else "",
        }
        for e in report.items
    ]
    return env.from_string(template).render(
        title=report.standard.title,
        edition=report.standard.edition,
        note=report.standard.note,
        source=report.standard.source,
        target=report.target,
        origin=report.source,
        version=__version__,
        findings_total=report.findings_total,
        findings_unmapped=report.findings_unmapped,
        counts=[{"label": status_label(s), "css": _CSS[s], "count": counts[s]} for s in _ORDER],
        chart=_chart(report),
        items=items,
        statuses=[{"value": s.value, "label": status_label(s)} for s in _ORDER],
        outside=[{"ref": ref, "rules": list(rules)} for ref, rules in report.outside_catalog],
    )
