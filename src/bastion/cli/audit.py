"""``bastion audit``: verify the gateway's hash-chained audit log, or print its tail."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any

import typer

from bastion.cli.common import handle_errors
from bastion.cli.history import SaveOption, StoreOption
from bastion.core import ExitCode
from bastion.errors import UsageError

app = typer.Typer(help="Verify or read the gateway's audit log.", no_args_is_help=True)

ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="Policy file with a [gateway] table.")
]


def _open(config: Path) -> Any:
    from bastion.gateway.settings import load_settings
    from bastion.gateway.store import GatewayStore
    from bastion.store import open_store

    settings = load_settings(config)
    store = GatewayStore(
        open_store(settings.store, schema=settings.store_schema, base=settings.base_dir)
    )
    store.create()
    return settings, store


@app.command("verify")
@handle_errors
def verify(
    config: ConfigOption,
    log_id: Annotated[
        str | None, typer.Option("--log-id", help="Only this log (default: every log).")
    ] = None,
    public_key: Annotated[
        list[Path] | None,
        typer.Option("--public-key", help="Trusted checkpoint key (PEM); repeatable."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    save: SaveOption = None,
    history_store: StoreOption = None,
) -> None:
    """Recompute every hash chain from genesis; exit 1 if any record was edited, deleted,
    inserted or reordered, or a checkpoint does not verify."""
    from bastion.cli.history_gateway import record_gateway_audit
    from bastion.gateway.audit.checkpoint import load_public_key
    from bastion.gateway.audit.verify import findings, verify_all, verify_log

    started = datetime.now(timezone.utc)
    settings, store = _open(config)
    keys = [load_public_key(p) for p in (public_key or ())]
    if not keys and settings.audit.checkpoint_key is not None:
        keys.append(load_public_key(settings.path(settings.audit.checkpoint_key)))
    reports = (
        (verify_log(store, log_id, tuple(keys)),) if log_id else verify_all(store, tuple(keys))
    )
    if log_id and reports[0].records == 0:
        raise UsageError(f"no audit log named {log_id!r}")
    ok = all(r.ok for r in reports)
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "log_id": r.log_id,
                        "ok": r.ok,
                        "records": r.records,
                        "head_seq": r.head_seq,
                        "head_hash": r.head_hash,
                        "checkpoints": r.checkpoints,
                        "checkpoints_verified": r.checkpoints_verified,
                        "findings": [
                            {"rule_id": f.rule_id, "message": f.message} for f in findings(r)
                        ],
                    }
                    for r in reports
                ],
                indent=2,
            )
        )
    else:
        for r in reports:
            state = "OK" if r.ok else "BROKEN"
            typer.echo(
                f"{r.log_id}: {state}: {r.records} records, head {r.head_seq} "
                f"{r.head_hash[:16]}…, {r.checkpoints_verified}/{r.checkpoints} "
                "checkpoints verified"
            )
            for finding in findings(r):
                typer.echo(f"  {finding.rule_id}: {finding.message}")
        if not reports:
            typer.echo("no audit records")
    problems = [f for r in reports for f in findings(r)]
    record_gateway_audit(
        config, store, reports, problems, started=started, save=save, store=history_store
    )
    raise typer.Exit(int(ExitCode.OK if ok else ExitCode.POLICY_FAILED))


@app.command("findings")
@handle_errors
def findings_command(
    config: ConfigOption,
    fmt: Annotated[str, typer.Option("--format", "-f", help="json, sarif or table.")] = "json",
    log_id: Annotated[str | None, typer.Option("--log-id", help="Default: the instance.")] = None,
    last: Annotated[
        int, typer.Option("--last", min=1, help="Look at this many recent records.")
    ] = 10_000,
) -> None:
    """Report the gateway's denials and detections as findings (BST-GW rules), in the same
    formats as ``bastion scan``."""
    from rich.console import Console

    from bastion.gateway.findings import findings_result
    from bastion.policy.evaluate import evaluate
    from bastion.registry import default_registry
    from bastion.report import OutputFormat, ReportInput, reporter_for
    from bastion.report.console import print_report

    if fmt not in ("json", "sarif", "table"):
        raise UsageError("--format must be json, sarif or table")
    settings, store = _open(config)
    name = log_id or settings.instance
    rows = list(reversed(store.audit_rows(name, limit=last, descending=True)))
    result = findings_result((row.data() for row in rows), name)
    report = ReportInput(result, evaluate(result, settings_policy(config)), default_registry())
    if fmt == "table":
        print_report(report, Console())
        return
    typer.echo(reporter_for(OutputFormat(fmt)).render(report), nl=False)


def settings_policy(config: Path) -> Any:
    """The scan policy of the same file (thresholds for the verdict)."""
    from bastion.config import load_config

    return load_config(config).policy


@app.command("tail")
@handle_errors
def tail(
    config: ConfigOption,
    fmt: Annotated[str, typer.Option("--format", "-f", help="ecs, ocsf, cef or raw.")] = "ecs",
    lines: Annotated[int, typer.Option("--lines", "-n", min=1, help="How many records.")] = 20,
    log_id: Annotated[str | None, typer.Option("--log-id", help="Default: the instance.")] = None,
    follow: Annotated[bool, typer.Option("--follow", help="Keep printing new records.")] = False,
) -> None:
    """Print the last records of a log as ECS, OCSF or CEF lines."""
    from bastion.gateway.siem.formats import render

    if fmt not in ("ecs", "ocsf", "cef", "raw"):
        raise UsageError("--format must be ecs, ocsf, cef or raw")
    settings, store = _open(config)
    name = log_id or settings.instance
    rows = list(reversed(store.audit_rows(name, limit=lines, descending=True)))
    last = 0
    while True:
        for row in rows:
            text = row.body if fmt == "raw" else render(fmt, row.data(), row.hash)
            typer.echo(text)
            last = row.seq
        if not follow:
            return
        time.sleep(1.0)
        rows = store.audit_rows(name, after=last, limit=1000)
