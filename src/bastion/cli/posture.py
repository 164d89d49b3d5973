"""``bastion baseline set|show`` and ``bastion posture check``: the accepted posture of a project
and every deviation from it (exit 1 for CI and cron when one is at or above ``fail_on``)."""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from bastion.cli.common import EXIT_CODES_HELP, handle_errors, stderr_console, write_output
from bastion.cli.history import SaveOption, StoreOption, project_name, record_run, wants_save
from bastion.cli.scan import scan_options
from bastion.cli.sign import parse_datasets
from bastion.config import LoadedConfig, find_config, load_config
from bastion.core import Severity
from bastion.errors import UsageError
from bastion.posture.config import PostureSettings
from bastion.posture.model import FILE_NAME, MAX_BYTES, MetricEntry, Posture, PostureFileError
from bastion.registry import default_registry
from bastion.report import OutputFormat, ReportInput, reporter_for
from bastion.report.console import print_report

if TYPE_CHECKING:
    from bastion.posture.collect import Observation

# NOTE: bastion.posture.collect/check/metrics import bastion.store (SQLAlchemy): they are imported
# inside the commands so that merely loading the CLI stays light.

app = typer.Typer(help="Posture checks against the accepted baseline.", no_args_is_help=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Policy file (default: the nearest bastion.toml)."),
]
DataOption = Annotated[
    list[str] | None,
    typer.Option("--data", help="Dataset NAME=DIR whose digest is part of the posture."),
]
MetricsOption = Annotated[
    Path | None,
    typer.Option(
        "--metrics",
        help='Assessment metrics (bastion assess JSON report or {"metrics": …}); default: '
        "the project's latest saved assess run, when a store is configured.",
    ),
]


def _root(path: Path) -> Path:
    return path if path.is_dir() else path.parent


def _load(path: Path, config: Path | None) -> tuple[LoadedConfig, PostureSettings]:
    if not (path.exists() or path.is_symlink()):
        raise UsageError(f"{path}: no such file or directory")
    loaded = load_config(config if config is not None else find_config(path))
    return loaded, PostureSettings.from_config(loaded)


def _metrics(
    file: Path | None,
    path: Path,
    loaded: LoadedConfig,
    store: str | None,
    save: bool | None,
) -> tuple[tuple[MetricEntry, ...], str | None]:
    from bastion.posture.metrics import latest_assess_metrics, read_metrics_file

    if file is not None:
        return read_metrics_file(file), str(file)
    if not wants_save(save, store, loaded):
        return (), None
    from bastion.cli.history import open_configured

    history = open_configured(store, loaded)
    try:
        found = latest_assess_metrics(history, project_name(path, loaded))
    finally:
        history.close()
    return found if found is not None else ((), None)


def _observe(
    path: Path,
    loaded: LoadedConfig,
    settings: PostureSettings,
    *,
    name: str,
    datasets: dict[str, Path],
    metrics: tuple[MetricEntry, ...],
    metrics_source: str | None,
) -> Observation:
    from bastion.posture.collect import observe
    from bastion.scan.deps.vulndb import prepare_database

    prepare_database(loaded.policy.vuln_db)  # as bastion scan: index a raw export once, early
    return observe(
        path,
        scan_options(loaded.policy),
        loaded,
        settings,
        name=name,
        datasets=datasets,
        metrics=metrics,
        metrics_source=metrics_source,
        registry=default_registry(),
    )


@handle_errors
def baseline_set(
    path: Annotated[Path, typer.Argument(help="The project (or model) whose posture to accept.")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help=f"Posture file (default: PATH/{FILE_NAME})."),
    ] = None,
    config: ConfigOption = None,
    data: DataOption = None,
    metrics: MetricsOption = None,
    save: SaveOption = None,
    store: StoreOption = None,
) -> None:
    """Record the accepted posture of PATH: finding fingerprints, model and dataset digests,
    dependencies, assessment metrics and the digest of the policy's gateway table.

    Written to PATH/.bastion-posture.json (commit it: changes of accepted posture are then
    reviewed like code) and, when a history store is configured or --save is given, kept in
    the store too. 'bastion posture check PATH' reports every deviation from it.
    """
    loaded, settings = _load(path, config)
    name = project_name(path, loaded)
    entries, source = _metrics(metrics, path, loaded, store, save)
    seen = _observe(
        path,
        loaded,
        settings,
        name=name,
        datasets=dict(parse_datasets(data)),
        metrics=entries,
        metrics_source=source,
    )
    err = stderr_console()
    if seen.unchecked:
        listed = "; ".join(f"{u.path}: {u.message}" for u in seen.unchecked[:10])
        raise UsageError(f"cannot set the posture, some of it could not be measured: {listed}")
    target = output if output is not None else _root(path) / FILE_NAME
    posture = seen.posture
    write_output(posture.to_json(), target)
    stored = ""
    if wants_save(save, store, loaded):
        from bastion.cli.history import open_configured

        history = open_configured(store, loaded)
        try:
            posture_id = history.save_posture(name, posture.to_json(), posture.digest, str(target))
        finally:
            history.close()
        stored = f"; kept in the history store as posture {posture_id}"
    err.print(
        f"posture of {escape(name)}: {len(posture.findings)} finding(s), {len(posture.models)} "
        f"model(s), {len(posture.datasets)} dataset(s), {len(posture.dependencies)} "
        f"dependencies, {len(posture.metrics)} metric(s), gateway config "
        f"{'recorded' if posture.gateway_digest else 'absent'}; written to {escape(str(target))}"
        f"{stored}"
    )


def read_posture(path: Path) -> Posture:
    """Read a posture file (bounded size); errors name the file."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise PostureFileError(str(path), "posture file not found") from None
    except OSError as exc:
        raise PostureFileError(str(path), f"cannot read: {exc.strerror or exc}") from exc
    if len(raw) > MAX_BYTES:
        raise PostureFileError(str(path), f"larger than {MAX_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PostureFileError(str(path), "not UTF-8 text") from None
    return Posture.from_json(text, source=str(path))


def _baseline(
    path: Path, file: Path | None, loaded: LoadedConfig, store: str | None
) -> tuple[Posture, str]:
    if file is not None:
        return read_posture(file), str(file)
    default = _root(path) / FILE_NAME
    if default.exists():
        return read_posture(default), str(default)
    if wants_save(None, store, loaded):
        from bastion.cli.history import open_configured

        history = open_configured(store, loaded)
        try:
            name = project_name(path, loaded)
            found = history.latest_posture(name)
        finally:
            history.close()
        if found is not None:
            posture_id, _, document = found
            where = f"history store posture {posture_id}"
            return Posture.from_json(document, source=where), where
    raise UsageError(
        f"no posture baseline for {path}: run 'bastion baseline set {path}' first "
        f"(or give --baseline FILE)"
    )


@handle_errors
def baseline_show(
    path: Annotated[Path, typer.Argument(help=f"A project folder (its {FILE_NAME}) or a file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the document.")] = False,
    config: ConfigOption = None,
    store: StoreOption = None,
) -> None:
    """Show the accepted posture of a project."""
    if path.is_file():
        posture, source = read_posture(path), str(path)
    else:
        loaded, _ = _load(path, config)
        posture, source = _baseline(path, None, loaded, store)
    if as_json:
        typer.echo(posture.to_json(), nl=False)
        return
    console = Console(soft_wrap=True)
    console.print(
        f"[bold]posture of {escape(posture.project)}[/bold] set {posture.created[:19]} "
        f"(bastion {posture.tool_version}) from {escape(source)}"
    )
    console.print(f"  {len(posture.findings)} accepted finding(s)")
    for entry in (*posture.models, *posture.datasets):
        console.print(f"  {escape(entry.name)}: {entry.digest}")
    console.print(f"  {len(posture.dependencies)} dependencies")
    for metric in posture.metrics:
        console.print(f"  metric {escape(metric.name)} = {metric.value:.6g}")
    console.print(f"  gateway config digest: {posture.gateway_digest or 'none'}")


@app.command("check")
@handle_errors
def check_command(
    path: Annotated[Path, typer.Argument(help="The project to check.")],
    baseline: Annotated[
        Path | None,
        typer.Option(help=f"Posture file (default: PATH/{FILE_NAME}, else the history store)."),
    ] = None,
    config: ConfigOption = None,
    data: DataOption = None,
    metrics: MetricsOption = None,
    key: Annotated[
        list[Path] | None,
        typer.Option("--key", "-k", help="Trusted public key for re-signed models (repeatable)."),
    ] = None,
    fail_on: Annotated[
        str | None, typer.Option(help="Lowest deviation severity that fails (default: low).")
    ] = None,
    fmt: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="Report format.")
    ] = OutputFormat.TABLE,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Report file.")] = None,
    save: SaveOption = None,
    store: StoreOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary line.")] = False,
) -> None:
    """Report every deviation of PATH from its accepted posture: new findings, models changed
    without a new valid signature, new or changed dependencies, worse assessment metrics and
    gateway configuration changes."""
    started = datetime.now(timezone.utc)
    loaded, settings = _load(path, config)
    threshold = None
    if fail_on is not None:
        try:
            threshold = Severity.parse(fail_on)
        except ValueError as exc:
            raise UsageError(f"--fail-on: {exc}") from None
    accepted, source = _baseline(path, baseline, loaded, store)
    datasets = {d.name: _root(path) / d.path for d in accepted.datasets}
    datasets.update(settings.datasets)
    datasets.update(dict(parse_datasets(data)))
    entries, metrics_source = _metrics(metrics, path, loaded, store, save)
    seen = _observe(
        path,
        loaded,
        settings,
        name=accepted.project,
        datasets=datasets,
        metrics=entries,
        metrics_source=metrics_source,
    )
    from bastion.posture.check import check_posture

    policy_file = loaded.path.name if loaded.path is not None else "bastion.toml"
    outcome = check_posture(
        accepted,
        seen,
        settings,
        started=started,
        policy_file=policy_file,
        keys=tuple(key) if key else None,
        fail_on=threshold,
    )
    report = ReportInput(outcome.result, outcome.verdict, default_registry())
    err = stderr_console()
    if fmt is OutputFormat.TABLE and output is None:
        print_report(report, Console())
    else:
        write_output(reporter_for(fmt).render(report), output)
    if not quiet:
        state = "passed" if outcome.verdict.passed else "FAILED"
        err.print(
            f"bastion posture: {len(outcome.result.findings)} deviation(s) from {escape(source)}, "
            f"{len(outcome.fixed)} accepted finding(s) fixed since; check {state}"
        )
    record_run(
        "posture",
        outcome.result,
        target=path,
        passed=outcome.verdict.passed,
        exit_code=int(outcome.verdict.exit_code),
        save=save,
        store=store,
        loaded=loaded,
        summary={"baseline": source, "fixed": len(outcome.fixed)},
        quiet=quiet,
    )
    sys.stdout.flush()
    raise typer.Exit(int(outcome.verdict.exit_code))


check_command.__doc__ = (check_command.__doc__ or "") + "\n\n" + EXIT_CODES_HELP
