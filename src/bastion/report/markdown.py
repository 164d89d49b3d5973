"""Markdown for a pull-request comment: the verdict, a summary table and the top findings."""

from __future__ import annotations

from collections import Counter

from bastion.core import Finding, Severity
from bastion.report.interface import Reporter, ReportInput

TOP_FINDINGS = 20


def _cell(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split()).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _row(finding: Finding, blocking: bool) -> str:
    mark = " ⛔" if blocking else ""
    where = _cell(finding.location.display(), 80)
    return (
        f"| {finding.severity.label}{mark} | `{finding.rule_id}` | `{where}` "
        f"| {_cell(finding.title, 60)}: {_cell(finding.message)} |"
    )


def render_markdown(report: ReportInput) -> str:
    """The comment body."""
    verdict, result = report.verdict, report.result
    status = "✅ passed" if verdict.passed else "❌ failed"
    lines = [f"### bastion {status}", ""]
    if verdict.reasons:
        lines += [f"_{'; '.join(verdict.reasons)}._", ""]
    counts = Counter(f.severity for f in verdict.findings)
    categories = Counter(f.category for f in verdict.findings)
    lines += [
        "| critical | high | medium | low | info | blocking | suppressed | skipped |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        "| "
        + " | ".join(str(counts.get(s, 0)) for s in sorted(Severity, reverse=True))
        + f" | {len(verdict.blocking)} | {len(verdict.suppressed)} | {len(result.skipped)} |",
        "",
    ]
    if categories:
        lines.append("By category: " + ", ".join(f"{c} {n}" for c, n in sorted(categories.items())))
        lines.append("")
    if verdict.new_vs_baseline is not None:
        lines += [f"New since the baseline: **{len(verdict.new_vs_baseline)}**.", ""]
    blocking = {id(f) for f in verdict.blocking}
    ordered = sorted(verdict.findings, key=lambda f: (-f.severity, id(f) not in blocking))
    if ordered:
        lines += ["| severity | rule | location | finding |", "|---|---|---|---|"]
        lines += [_row(f, id(f) in blocking) for f in ordered[:TOP_FINDINGS]]
        if len(ordered) > TOP_FINDINGS:
            lines.append(f"\n_… and {len(ordered) - TOP_FINDINGS} more in the full report._")
        lines.append("")
    lines += [f"_Note: {_cell(n, 300)}_" for n in result.notes]
    if result.notes:
        lines.append("")
    if result.skipped:
        lines += [f"<details><summary>Not fully checked ({len(result.skipped)})</summary>", ""]
        lines += [
            f"- `{_cell(s.display, 100)}`: {s.reason.value}: {_cell(s.detail)}"
            for s in result.skipped[:50]
        ]
        lines += ["", "</details>", ""]
    lines.append(
        f"<sub>bastion {report.tool_version} · {len(result.artifacts)} artifacts · "
        f"{result.duration:.1f} s</sub>"
    )
    return "\n".join(lines) + "\n"


class MarkdownReporter(Reporter):
    """GitHub/GitLab-flavoured Markdown."""

    name = "markdown"

    def render(self, report: ReportInput) -> str:
        """The Markdown text."""
        return render_markdown(report)
