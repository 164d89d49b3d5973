"""``bastion rules``: list every rule, or explain one."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bastion.cli.common import handle_errors
from bastion.registry import default_registry

app = typer.Typer(help="List rules, or explain one.", no_args_is_help=False)


@app.callback(invoke_without_command=True)
@handle_errors
def list_rules(
    ctx: typer.Context,
    category: Annotated[
        str | None, typer.Option("--category", help="Only rules of this category.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List every rule: id, severity, category, title and standards references."""
    if ctx.invoked_subcommand is not None:
        return
    rules = [r for r in default_registry().rules() if category in (None, r.category)]
    if as_json:
        data = [
            {
                "id": r.id,
                "title": r.title,
                "severity": r.severity.label,
                "category": r.category,
                "cwe": list(r.references.cwe),
                "owasp": list(r.references.owasp),
                "atlas": list(r.references.atlas),
                "nist": list(r.references.nist),
            }
            for r in rules
        ]
        typer.echo(json.dumps(data, indent=2))
        return
    table = Table(expand=True)
    for column in ("Rule", "Severity", "Category", "Title", "References"):
        table.add_column(column, overflow="fold")
    for rule in rules:
        refs = ", ".join(rule.references.cwe + rule.references.owasp + rule.references.atlas)
        table.add_row(rule.id, rule.severity.label, rule.category, rule.title, refs)
    Console().print(table)


@app.command("explain")
@handle_errors
def explain(rule_id: Annotated[str, typer.Argument(help="A rule id, e.g. BST-PKL-001.")]) -> None:
    """Print a rule's documentation, remediation and references."""
    rule = default_registry().rule(rule_id)
    console = Console()
    console.print(f"[bold]{rule.id}[/bold]: {escape(rule.title)}")
    console.print(
        f"Severity: {rule.severity.label}   Confidence: {rule.confidence.label}   "
        f"Category: {rule.category}"
    )
    console.print()
    console.print(escape(rule.description))
    if rule.remediation:
        console.print()
        console.print(f"[bold]Remediation:[/bold] {escape(rule.remediation)}")
    refs = rule.references
    lines = [
        ("CWE", refs.cwe),
        ("OWASP", refs.owasp),
        ("MITRE ATLAS", refs.atlas),
        ("NIST AI RMF", refs.nist),
        ("See also", refs.urls),
    ]
    console.print()
    for label, values in lines:
        if values:
            console.print(f"{label}: {', '.join(values)}")
