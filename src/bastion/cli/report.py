"""``bastion report --standard S PATH_OR_RUN``: what bastion checks of a standard, what it found
per item, and what it cannot check (HTML or Markdown)."""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from bastion.cli.common import handle_errors, write_output
from bastion.cli.history import StoreOption, open_configured
from bastion.cli.scan import scan_options
from bastion.config import find_config, load_config
from bastion.errors import UsageError
from bastion.policy.evaluate import evaluate
from bastion.registry import Registry, default_registry
from bastion.report.coverage import CoverageReport, ObservedFinding, build_coverage, render_markdown
from bastion.scan.code.suppress import InlineSuppressor
from bastion.scan.deps.vulndb import prepare_database
from bastion.scan.engine import scan
from bastion.standards import load_standard

_RUN = re.compile(r"^(?:run:)?(\d+|latest(?:~\d+)?)$")


class StandardChoice(str, Enum):
    """``--standard`` values (the data files under ``bastion/standards``)."""

    OWASP_ML = "owasp-ml"
    OWASP_LLM = "owasp-llm"
    ATLAS = "atlas"
    NIST_AI_RMF = "nist-ai-rmf"


class CoverageFormat(str, Enum):
    """``bastion report --format``."""

    HTML = "html"
    MARKDOWN = "markdown"


def _from_path(path: Path, config: Path | None, registry: Registry, std: str) -> CoverageReport:
    loaded = load_config(config if config is not None else find_config(path))
    prepare_database(loaded.policy.vuln_db)  # as bastion scan: index a raw export once, early
    result = scan(path, scan_options(loaded.policy), registry=registry)
    verdict = evaluate(
        result, loaded.policy, suppressors=(InlineSuppressor(path, loaded.policy.limits),)
    )
    findings = [
        ObservedFinding(f.rule_id, f.severity, f.location.display(), f.message, f.references)
        for f in verdict.findings
    ]
    return build_coverage(
        load_standard(std), registry, findings, target=str(path), source="scan", run_kind="scan"
    )


def _from_run(
    ref: str,
    store: str | None,
    config: Path | None,
    project: str | None,
    registry: Registry,
    std: str,
) -> CoverageReport:
    loaded = load_config(config if config is not None else find_config(Path.cwd()))
    history = open_configured(store, loaded)
    try:
        run = history.resolve(ref, project=project)
        stored = history.findings(run.id)
    finally:
        history.close()
    findings = [ObservedFinding(f.rule, f.severity, f.display, f.message) for f in stored]
    return build_coverage(
        load_standard(std),
        registry,
        findings,
        target=run.target,
        source=f"{run.kind} run {run.id}, {run.started[:19]}",
        run_kind=run.kind,
    )


@handle_errors
def report_command(
    target: Annotated[
        str,
        typer.Argument(
            metavar="PATH_OR_RUN",
            help="A project to scan now, or a saved run: an id, 'latest', 'latest~N' "
            "(or 'run:ID' when a folder has that name).",
        ),
    ],
    standard: Annotated[StandardChoice, typer.Option("--standard", "-s", help="Which standard.")],
    fmt: Annotated[CoverageFormat, typer.Option("--format", "-f")] = CoverageFormat.MARKDOWN,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Report file.")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Policy file.")] = None,
    project: Annotated[
        str | None, typer.Option(help="Scope 'latest' to this project's runs.")
    ] = None,
    store: StoreOption = None,
) -> None:
    """Map bastion's rules onto a standard (derived from each rule's references): per item,
    the rules that check it, what the scan or run found, and what bastion cannot check."""
    registry = default_registry()
    path = Path(target)
    run_match = _RUN.match(target)
    if target.startswith("run:") or (run_match and not (path.exists() or path.is_symlink())):
        if run_match is None:
            raise UsageError(f"{target!r}: expected run:ID, run:latest or run:latest~N")
        report = _from_run(run_match.group(1), store, config, project, registry, standard.value)
    elif path.exists() or path.is_symlink():
        report = _from_path(path, config, registry, standard.value)
    else:
        raise UsageError(f"{target}: no such file or directory, and not a run id")
    if fmt is CoverageFormat.HTML:
        from bastion.report.coverage_html import render_html

        write_output(render_html(report), output)
    else:
        write_output(render_markdown(report), output)
