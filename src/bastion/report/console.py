"""The terminal report: a Rich table of findings, what was skipped, and the verdict."""

from __future__ import annotations

import io

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from bastion.core import Severity
from bastion.report.interface import Reporter, ReportInput

_STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


def print_report(report: ReportInput, console: Console, *, verbose: bool = False) -> None:
    """Write the report to a Rich console."""
    result, verdict = report.result, report.verdict
    console.print(
        f"[bold]bastion[/bold] {report.tool_version}: scanned {escape(result.root)} "
        f"({len(result.artifacts)} artifacts in {result.duration:.2f} s)"
    )
    if verdict.findings:
        table = Table(show_lines=False, expand=True, title="Findings", title_justify="left")
        table.add_column("Severity", no_wrap=True)
        table.add_column("Rule", no_wrap=True)
        table.add_column("Location", overflow="fold", ratio=2)
        table.add_column("Finding", overflow="fold", ratio=5)
        blocking_ids = {id(f) for f in verdict.blocking}
        for finding in verdict.findings:
            sev = Text(finding.severity.label.upper(), style=_STYLE[finding.severity])
            if id(finding) in blocking_ids:
                sev.append(" ✗", style="bold red")
            body = Text()
            body.append(finding.title, style="bold")
            body.append("\n" + finding.message)
            if verbose and finding.remediation:
                body.append("\nFix: " + finding.remediation, style="green")
            table.add_row(sev, finding.rule_id, finding.location.display(), body)
        console.print(table)
    else:
        console.print("[green]No findings.[/green]")
    _print_files(report, console, verbose=verbose)
    for note in result.notes:
        console.print(f"[dim]Note: {escape(note)}[/dim]")
    if verdict.suppressed:
        console.print(f"[dim]{len(verdict.suppressed)} finding(s) suppressed.[/dim]")
    if result.skipped:
        console.print(
            f"[yellow]{len(result.skipped)} artifact(s) not fully checked "
            "(unknown is not safe):[/yellow]"
        )
        for skipped in result.skipped[: 50 if not verbose else None]:
            console.print(
                f"  [yellow]•[/yellow] {escape(skipped.display)}: {skipped.reason.value}: "
                f"{escape(skipped.detail)}"
            )
        if len(result.skipped) > 50 and not verbose:
            console.print(f"  … and {len(result.skipped) - 50} more (use --verbose)")
    counts = ", ".join(f"{n} {label}" for label, n in _counts(report).items() if n) or "none"
    console.print(f"Findings: {counts}.")
    if verdict.passed:
        console.print("[bold green]PASSED[/bold green]: the policy gate allows this.")
    else:
        console.print(f"[bold red]FAILED[/bold red]: {escape('; '.join(verdict.reasons))}.")


def _print_files(report: ReportInput, console: Console, *, verbose: bool) -> None:
    """One line per scanned file: clean, findings (worst severity), or not fully checked."""
    result, verdict = report.result, report.verdict
    files = [a for a in result.artifacts if a.member is None]
    if not files:
        return
    worst: dict[str, Severity] = {}
    count: dict[str, int] = {}
    for finding in verdict.findings:
        path = finding.location.path
        count[path] = count.get(path, 0) + 1
        worst[path] = max(worst.get(path, Severity.INFO), finding.severity)
    skipped = {s.path for s in result.skipped}
    table = Table(title="Files", title_justify="left", expand=True, show_edge=False)
    table.add_column("File", overflow="fold", ratio=3)
    table.add_column("Format", no_wrap=True)
    table.add_column("Result", ratio=2)
    shown = files if verbose else files[:50]
    for artifact in shown:
        path = artifact.path
        if path in count:
            sev = worst[path]
            state = Text(f"{count[path]} finding(s), worst {sev.label}", style=_STYLE[sev])
        elif path in skipped:
            state = Text("not fully checked", style="yellow")
        else:
            state = Text("clean", style="green")
        table.add_row(escape(path), artifact.format, state)
    console.print(table)
    if len(files) > len(shown):
        console.print(f"  … and {len(files) - len(shown)} more files (use --verbose)")


def _counts(report: ReportInput) -> dict[str, int]:
    counts = {s.label: 0 for s in sorted(Severity, reverse=True)}
    for finding in report.verdict.findings:
        counts[finding.severity.label] += 1
    return counts


class ConsoleReporter(Reporter):
    """Plain text rendering of the Rich report (for ``-o file`` with the table format)."""

    name = "table"

    def render(self, report: ReportInput) -> str:
        """The report as plain text, 120 columns wide."""
        buffer = io.StringIO()
        console = Console(file=buffer, width=120, color_system=None, force_terminal=False)
        print_report(report, console)
        return buffer.getvalue()
