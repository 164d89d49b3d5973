"""``bastion scan PATH``: the CI gate."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bastion.cli.common import EXIT_CODES_HELP, handle_errors, stderr_console, write_output
from bastion.cli.history import SaveOption, StoreOption, record_run
from bastion.config import find_config, load_config
from bastion.core import Severity
from bastion.errors import UsageError
from bastion.integrations.sources import open_source
from bastion.policy.baseline import load_baseline
from bastion.policy.evaluate import evaluate
from bastion.policy.model import Policy
from bastion.registry import default_registry
from bastion.report import OutputFormat, ReportInput, reporter_for
from bastion.report.console import print_report
from bastion.scan.code.suppress import InlineSuppressor
from bastion.scan.engine import ScanOptions, scan
from bastion.scan.executors import ExecutorKind, make_executor
from bastion.scan.interface import ScanSettings


class _Bar:
    """Adapts a Rich progress bar to the engine's progress sink."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("scanning"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._task = self._progress.add_task("scan", total=0)

    def start(self, total: int) -> None:
        self._progress.update(self._task, total=total)
        self._progress.start()

    def advance(self, count: int) -> None:
        self._progress.advance(self._task, count)

    def finish(self) -> None:
        self._progress.stop()


def apply_flags(
    policy: Policy,
    *,
    fail_on: str | None,
    fail_on_skipped: bool | None,
    select: list[str] | None,
    disable: list[str] | None,
    allow_global: list[str] | None,
    exclude: list[str] | None,
) -> Policy:
    """Command-line flags override the policy file."""
    changes: dict[str, object] = {}
    if fail_on is not None:
        try:
            changes["fail_on"] = Severity.parse(fail_on)
        except ValueError as exc:
            raise UsageError(f"--fail-on: {exc}") from None
    if fail_on_skipped is not None:
        changes["fail_on_skipped"] = fail_on_skipped
    if select:
        changes["select"] = tuple(select)
    if disable:
        changes["disable"] = policy.disable + tuple(disable)
    if allow_global:
        changes["allow_globals"] = policy.allow_globals + tuple(allow_global)
    if exclude:
        changes["exclude"] = policy.exclude + tuple(exclude)
    return dataclasses.replace(policy, **changes)  # type: ignore[arg-type]


def _target(paths: list[Path]) -> tuple[Path, list[str] | None]:
    """One path is scanned as given; several are scanned relative to the current directory."""
    if len(paths) == 1:
        return paths[0], None
    cwd = Path.cwd().resolve()
    outside = [p for p in paths if not p.resolve().is_relative_to(cwd)]
    if outside:
        raise UsageError(f"{outside[0]}: with several paths, each must be inside {cwd}")
    return cwd, [p.resolve().relative_to(cwd).as_posix() for p in paths]


def scan_options(
    policy: Policy, *, workers: int | None = None, default_excludes: bool = True
) -> ScanOptions:
    """Engine options from a policy."""
    settings = ScanSettings(
        limits=policy.limits,
        allow_globals=policy.allow_globals,
        deny_globals=policy.deny_globals,
        vuln_db=policy.vuln_db,
    )
    return ScanOptions(
        settings=settings,
        exclude=policy.exclude,
        default_excludes=default_excludes,
        workers=workers,
    )


@handle_errors
def scan_command(
    ctx: typer.Context,
    paths: Annotated[
        list[str],
        typer.Argument(
            help="Files, directories or archives to scan (several: relative to the "
            "current directory, as a pre-commit hook passes them); or one mlflow://MODEL_URI "
            "(models:/NAME/VERSION, models:/NAME@ALIAS, runs:/RUN_ID/PATH) or "
            "hf-cache://[DIR] (a Hugging Face cache, default: HF_HUB_CACHE).",
            show_default=False,
        ),
    ],
    fmt: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="Report format.")
    ] = OutputFormat.TABLE,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report to this file.")
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Policy file (default: nearest bastion.toml or "
            "pyproject.toml with [tool.bastion]).",
        ),
    ] = None,
    fail_on: Annotated[
        str | None, typer.Option(help="Lowest severity that fails the gate.")
    ] = None,
    fail_on_skipped: Annotated[
        bool | None,
        typer.Option(
            "--fail-on-skipped/--no-fail-on-skipped",
            help="Fail when an artifact could not be fully checked.",
        ),
    ] = None,
    select: Annotated[
        list[str] | None, typer.Option(help="Only these rules (id, id prefix or standard tag).")
    ] = None,
    disable: Annotated[list[str] | None, typer.Option(help="Disable rules (id or prefix).")] = None,
    allow_global: Annotated[
        list[str] | None, typer.Option(help="Trust a pickle global (glob, e.g. 'mypkg.*').")
    ] = None,
    exclude: Annotated[list[str] | None, typer.Option(help="Skip paths (glob).")] = None,
    baseline: Annotated[
        Path | None,
        typer.Option(help="Fail only on findings not in this baseline (bastion baseline create)."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Worker processes (default: automatic).")
    ] = None,
    no_default_excludes: Annotated[
        bool, typer.Option(help="Also scan .git, virtualenvs and caches.")
    ] = False,
    executor: Annotated[
        ExecutorKind,
        typer.Option(help="Where files are analyzed: local processes, or a Ray cluster."),
    ] = ExecutorKind.LOCAL,
    ray_address: Annotated[
        str | None,
        typer.Option(
            help="With --executor ray: 'auto', ray://HEAD:10001 or HOST:PORT (default: start a "
            "local Ray instance). Every node must see the files at the same path."
        ),
    ] = None,
    vuln_db: Annotated[
        Path | None,
        typer.Option(
            help="OSV data for dependency checks: an export (folder, JSON or all.zip) or a "
            "'bastion db update' folder (default: that command's cache)."
        ),
    ] = None,
    save: SaveOption = None,
    store: StoreOption = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="More detail.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Scan model files (statically: nothing is ever loaded) and report what they would do."""
    source = ctx.with_resource(open_source(paths))  # mlflow://, hf-cache:// or a cache folder
    local = [Path(p) for p in paths] if source is None else []
    for item in local:
        if not item.exists() and not item.is_symlink():
            raise UsageError(f"{item}: no such file or directory")
    path, only = _target(local) if source is None else (Path.cwd(), None)
    config_path = config if config is not None else find_config(path)
    loaded = load_config(config_path)
    policy = apply_flags(
        loaded.policy,
        fail_on=fail_on,
        fail_on_skipped=fail_on_skipped,
        select=select,
        disable=disable,
        allow_global=allow_global,
        exclude=exclude,
    )
    if vuln_db is not None:
        if not vuln_db.exists():
            raise UsageError(f"--vuln-db {vuln_db}: no such file or directory")
        policy = dataclasses.replace(policy, vuln_db=str(vuln_db))
    if policy.vuln_db:
        from bastion.scan.deps.vulndb import prepare_database

        prepare_database(policy.vuln_db)  # index a raw export once, before the workers start
    options = scan_options(policy, workers=workers, default_excludes=not no_default_excludes)
    runner = make_executor(executor, workers=workers, ray_address=ray_address)
    options = dataclasses.replace(options, executor=runner)
    err = stderr_console()
    progress = _Bar(err) if (not quiet and err.is_terminal) else None
    registry = default_registry()
    if source is not None:
        result = source.scan(options, registry=registry, progress=progress)
    else:
        result = scan(path, options, registry=registry, progress=progress, only=only)
    accepted = load_baseline(baseline).fingerprints() if baseline is not None else None
    inline = InlineSuppressor(path, policy.limits)  # '# bastion: ignore[ID] reason' comments
    trusted = (inline,) if source is None else ()  # a model store cannot silence itself
    verdict = evaluate(result, policy, suppressors=trusted, baseline=accepted)
    report = ReportInput(result, verdict, registry)
    if fmt is OutputFormat.TABLE and output is None:
        print_report(report, Console(), verbose=verbose)
    else:
        write_output(reporter_for(fmt).render(report), output)
        if output is not None and not quiet:
            state = "passed" if verdict.passed else "FAILED"
            err.print(
                f"bastion: {len(verdict.findings)} finding(s), {len(result.skipped)} skipped; "
                f"gate {state}; report written to {output}"
            )
    for line in source.summary(result) if source is not None and not quiet else ():
        err.print(line, markup=False, highlight=False, soft_wrap=True)
    record_run(
        "scan", result, target=path, passed=verdict.passed, exit_code=int(verdict.exit_code),
        save=save, store=store, loaded=loaded, findings=verdict.findings, quiet=quiet,
    )  # fmt: skip
    sys.stdout.flush()
    raise typer.Exit(int(verdict.exit_code))


scan_command.__doc__ = (scan_command.__doc__ or "") + "\n\n" + EXIT_CODES_HELP
