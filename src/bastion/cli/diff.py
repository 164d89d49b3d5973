"""``bastion diff RUN_A RUN_B``: what changed between two saved runs (table, JSON, Markdown)."""

from __future__ import annotations

import io
import json
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bastion.cli.common import handle_errors, write_output
from bastion.cli.history import StoreOption, open_configured
from bastion.config import find_config, load_config

if TYPE_CHECKING:
    from bastion.store.history_diff import RunDiff
    from bastion.store.history_types import FindingRecord


class DiffFormat(str, Enum):
    """``bastion diff --format``."""

    TABLE = "table"
    JSON = "json"
    MARKDOWN = "markdown"


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.6g}"


def _cell(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split()).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _md_finding(f: FindingRecord) -> str:
    return f"| {f.severity.label} | `{f.rule}` | `{_cell(f.display, 80)}` | {_cell(f.message)} |"


def render_markdown(diff: RunDiff) -> str:
    """The diff as Markdown (a pull-request comment)."""
    fd = diff.findings
    lines = [
        f"### bastion diff: run {diff.a.id} → run {diff.b.id}",
        "",
        f"{len(fd.new)} new, {len(fd.fixed)} fixed, {len(fd.changed)} changed, "
        f"{fd.unchanged} unchanged finding(s); {len(diff.metrics)} metric change(s); "
        f"{len(diff.artifacts)} artifact change(s).",
        "",
    ]
    header = ["| severity | rule | location | message |", "|---|---|---|---|"]
    for title, items in (("New findings", fd.new), ("Fixed findings", fd.fixed)):
        if items:
            lines += [f"#### {title}", "", *header, *(_md_finding(f) for f in items), ""]
    if fd.changed:
        lines += ["#### Changed findings", "", "| rule | location | before | after |"]
        lines.append("|---|---|---|---|")
        for c in fd.changed:
            lines.append(
                f"| `{c.after.rule}` | `{_cell(c.after.display, 80)}` "
                f"| {c.before.severity.label}: {_cell(c.before.message, 100)} "
                f"| {c.after.severity.label}: {_cell(c.after.message, 100)} |"
            )
        lines.append("")
    if diff.metrics:
        lines += ["#### Metrics", "", "| metric | before | after | delta |", "|---|---:|---:|---:|"]
        lines += [
            f"| `{_cell(m.name, 100)}` | {_num(m.before)} | {_num(m.after)} | {_num(m.delta)} |"
            for m in diff.metrics
        ]
        lines.append("")
    if diff.artifacts:
        lines += ["#### Artifacts", "", "| path | change |", "|---|---|"]
        lines += [f"| `{_cell(a.path, 100)}` | {a.change} |" for a in diff.artifacts]
        lines.append("")
    return "\n".join(lines) + "\n"


def print_diff(diff: RunDiff, console: Console) -> None:
    """The diff as Rich tables."""
    fd = diff.findings
    console.print(
        f"[bold]run {diff.a.id}[/bold] ({diff.a.kind}, {diff.a.started[:19]}) → "
        f"[bold]run {diff.b.id}[/bold] ({diff.b.kind}, {diff.b.started[:19]}): "
        f"[red]{len(fd.new)} new[/red], [green]{len(fd.fixed)} fixed[/green], "
        f"[yellow]{len(fd.changed)} changed[/yellow], {fd.unchanged} unchanged"
    )
    rows: list[tuple[str, str, FindingRecord, str]] = [
        *(("new", "red", f, "") for f in fd.new),
        *(("fixed", "green", f, "") for f in fd.fixed),
        *(
            (
                "changed",
                "yellow",
                c.after,
                f" (was {c.before.severity.label}: {c.before.message})",
            )
            for c in fd.changed
        ),
    ]
    if rows:
        table = Table(expand=True)
        for name in ("change", "severity", "rule"):
            table.add_column(name, no_wrap=True)
        table.add_column("location", overflow="fold", ratio=2)
        table.add_column("message", overflow="fold", ratio=5)
        for change, style, f, extra in rows:
            table.add_row(
                f"[{style}]{change}[/{style}]",
                f.severity.label,
                f.rule,
                escape(f.display),
                escape(f.message + extra),
            )
        console.print(table)
    if diff.metrics:
        table = Table(title="metrics", title_justify="left")
        table.add_column("metric", overflow="fold")
        for name in ("before", "after", "delta"):
            table.add_column(name, justify="right")
        for m in diff.metrics:
            table.add_row(escape(m.name), _num(m.before), _num(m.after), _num(m.delta))
        console.print(table)
    for a in diff.artifacts:
        console.print(f"artifact {a.change}: {escape(a.path)}")


@handle_errors
def diff_command(
    run_a: Annotated[str, typer.Argument(help="Earlier run: an id, 'latest' or 'latest~N'.")],
    run_b: Annotated[str, typer.Argument(help="Later run: an id, 'latest' or 'latest~N'.")],
    fmt: Annotated[DiffFormat, typer.Option("--format", "-f")] = DiffFormat.TABLE,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to a file.")] = None,
    project: Annotated[str | None, typer.Option(help="Scope 'latest' to this project.")] = None,
    kind: Annotated[str | None, typer.Option(help="Scope 'latest' to this run kind.")] = None,
    store: StoreOption = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Policy file (its store table).")
    ] = None,
) -> None:
    """Show findings new in RUN_B, fixed since RUN_A, and changed (severity or message),
    plus metric and artifact changes."""
    loaded = load_config(config if config is not None else find_config(Path.cwd()))
    history = open_configured(store, loaded)
    from bastion.store.history_diff import diff_runs

    try:
        a = history.resolve(run_a, project=project, kind=kind)
        b = history.resolve(run_b, project=project, kind=kind)
        diff = diff_runs(history, a, b)
    finally:
        history.close()
    if fmt is DiffFormat.TABLE and output is None:
        print_diff(diff, Console())
    elif fmt is DiffFormat.MARKDOWN:
        write_output(render_markdown(diff), output)
    elif fmt is DiffFormat.JSON:
        write_output(json.dumps(diff.to_json(), indent=2, ensure_ascii=False) + "\n", output)
    else:
        console = Console(record=True, width=160, file=io.StringIO())
        print_diff(diff, console)
        write_output(console.export_text(), output)
