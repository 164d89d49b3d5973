"""``bastion history``: list saved runs; and the one call other commands make to save theirs.

Saving is opt-in per run (``--save``) or on for every run once a store is configured
(``--store URL``, ``BASTION_STORE``, or ``[store] url`` in the policy file); ``--no-save``
turns it off. With ``--save`` and nothing configured, the history is SQLite in the user data
directory. A run that cannot be saved (unwritable folder, database down) is a warning: the
command's own result and exit code never depend on the history.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bastion.cli.common import handle_errors, stderr_console
from bastion.config import LoadedConfig, find_config, load_config
from bastion.core import Finding, ScanResult
from bastion.errors import BastionError, MissingDependencyError, UsageError

if TYPE_CHECKING:
    from bastion.store.history import HistoryStore
    from bastion.store.history_types import ArtifactRecord, MetricRecord

# NOTE: nothing from bastion.store is imported at module level: importing that package loads
# SQLAlchemy, and every command imports this module; runs that are not saved must not pay.

#: Run kinds (``bastion.store.history_types.RunKind`` values).
RUN_KINDS: tuple[str, ...] = ("scan", "assess", "verify", "gateway", "posture")

SaveOption = Annotated[
    bool | None,
    typer.Option(
        "--save/--no-save",
        help="Record this run in the history store (default: only when a store is configured "
        "with --store, BASTION_STORE or the url of the policy's store table).",
    ),
]
StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        metavar="URL",
        help="History database (sqlite:///path.db or postgresql+psycopg://…); implies --save.",
    ),
]


def wants_save(save: bool | None, store: str | None, loaded: LoadedConfig | None) -> bool:
    """Whether this run is saved, decided without opening (or importing) the database."""
    if save is not None:
        return save
    if store or os.environ.get("BASTION_STORE"):
        return True
    table = loaded.sections.get("store") if loaded is not None else None
    return isinstance(table, dict) and bool(table.get("url"))


def _loaded_for(target: Path) -> LoadedConfig | None:
    try:
        return load_config(find_config(target))
    except BastionError:
        return None


def configured_project(loaded: LoadedConfig | None) -> str | None:
    """``[store] project`` of the policy, when it is a string."""
    table = loaded.sections.get("store") if loaded is not None else None
    value = table.get("project") if isinstance(table, dict) else None
    return value if isinstance(value, str) and value else None


def project_name(target: Path, loaded: LoadedConfig | None) -> str:
    """``[store] project``, else the policy file's folder name, else the target's folder name."""
    configured = configured_project(loaded)
    if configured:
        return configured
    if loaded is not None and loaded.path is not None:
        return loaded.path.absolute().parent.name or "/"
    resolved = target.absolute()
    folder = resolved if resolved.is_dir() else resolved.parent
    return folder.name or "/"


def open_configured(store: str | None, loaded: LoadedConfig | None) -> HistoryStore:
    """Open the history the flags, environment and policy point to (errors propagate)."""
    try:
        from bastion.store.history import open_history
    except ImportError as exc:
        raise MissingDependencyError("sqlalchemy", "history", "the run history") from exc
    from bastion.store.history_config import store_settings

    return open_history(store_settings(store, loaded))


def record_run(
    kind: str,
    result: ScanResult,
    *,
    target: Path,
    passed: bool,
    exit_code: int,
    save: bool | None,
    store: str | None,
    loaded: LoadedConfig | None = None,
    findings: Iterable[Finding] | None = None,
    metrics: Iterable[MetricRecord] = (),
    summary: Mapping[str, Any] | None = None,
    artifacts: Iterable[ArtifactRecord] | None = None,
    quiet: bool = False,
) -> int | None:
    """Save a finished run when asked to; warn (never fail) when it cannot be saved."""
    if loaded is None and save is not False:
        loaded = _loaded_for(target)
    if not wants_save(save, store, loaded):
        return None
    err = stderr_console()
    try:
        from bastion.store.history import open_history
        from bastion.store.history_config import store_settings
        from bastion.store.history_types import RunKind, RunRecord

        settings = store_settings(store, loaded)
        history = open_history(settings)
        try:
            run = RunRecord.from_result(
                RunKind(kind),
                result,
                project=project_name(target, loaded),
                target=str(target.absolute()),
                verdict="passed" if passed else "failed",
                exit_code=exit_code,
                findings=findings,
                metrics=metrics,
                summary=summary,
                policy=loaded.policy if loaded is not None else None,
                artifacts=artifacts,
            )
            run_id = history.record(run)
        finally:
            history.close()
    except ImportError as exc:
        err.print(
            f"[yellow]warning:[/yellow] run not saved: {escape(str(exc))} "
            "(pip install 'bastion-ml[history]')"
        )
        return None
    except BastionError as exc:
        err.print(f"[yellow]warning:[/yellow] run not saved: {escape(exc.diagnostics())}")
        return None
    if not quiet:
        err.print(f"bastion: {kind} run {run_id} saved to the history ({settings.source})")
    return run_id


def record_verification(
    path: Path,
    problems: Sequence[Finding],
    *,
    passed: bool,
    started: datetime,
    model_digest: str | None,
    signer: str | None,
    save: bool | None,
    store: str | None,
    mode: str = "signature",
    quiet: bool = False,
) -> int | None:
    """Save a ``bastion verify`` outcome: its BST-INT problems, the model digest, the signer."""
    if save is False:
        return None
    result = ScanResult(
        root=str(path),
        started=started,
        finished=datetime.now(timezone.utc),
        findings=tuple(sorted(problems, key=lambda f: f.sort_key())),
    )
    from bastion.store.history_types import ArtifactRecord

    fmt = "model-folder" if path.is_dir() else "model-file"
    return record_run(
        "verify",
        result,
        target=path,
        passed=passed,
        exit_code=0 if passed else 1,
        save=save,
        store=store,
        summary={"mode": mode, "model_digest": model_digest, "signer": signer},
        artifacts=(ArtifactRecord(str(path), fmt, model_digest),),
        quiet=quiet,
    )


class HistoryFormat(str, Enum):
    """``bastion history --format``."""

    TABLE = "table"
    JSON = "json"


@handle_errors
def history_command(
    project: Annotated[str | None, typer.Option(help="Only runs of this project.")] = None,
    kind: Annotated[
        str | None, typer.Option(help=f"Only runs of this kind ({', '.join(RUN_KINDS)}).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="How many runs.")] = 20,
    fmt: Annotated[HistoryFormat, typer.Option("--format", "-f")] = HistoryFormat.TABLE,
    store: StoreOption = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Policy file (its store table).")
    ] = None,
) -> None:
    """List saved runs, newest first (ids are what 'bastion diff' and 'bastion report' take)."""
    if kind is not None and kind not in RUN_KINDS:
        raise UsageError(f"--kind {kind!r}: one of {', '.join(RUN_KINDS)}")
    loaded = load_config(config if config is not None else find_config(Path.cwd()))
    history = open_configured(store, loaded)
    try:
        runs = history.runs(project=project, kind=kind, limit=limit)
    finally:
        history.close()
    if fmt is HistoryFormat.JSON:
        typer.echo(json.dumps([r.to_json() for r in runs], indent=2, ensure_ascii=False))
        return
    console = Console(soft_wrap=False)
    if not runs:
        console.print(f"no runs in {escape(history.display_url)}")
        return
    table = Table(title=f"bastion history ({escape(history.display_url)})", title_justify="left")
    for name in ("id", "kind", "project", "started (UTC)", "verdict", "findings"):
        table.add_column(
            name, no_wrap=name != "project", min_width=7 if name == "project" else None
        )
    wide = console.width >= 120  # the target only fits a wide terminal (always in --format json)
    if wide:
        table.add_column("target", overflow="fold", ratio=1)
    for run in runs:
        worst = f", max {run.max_severity}" if run.max_severity else ""
        style = "green" if run.verdict == "passed" else "red"
        table.add_row(
            str(run.id),
            run.kind,
            escape(run.project),
            run.started[:16].replace("T", " "),
            f"[{style}]{run.verdict}[/{style}] ({run.exit_code})",
            f"{run.finding_count}{worst}",
            *([escape(run.target)] if wide else []),
        )
    console.print(table)
