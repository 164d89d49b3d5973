"""``bastion mlflow check``: an MLflow registry webhook payload in, a JSON decision out."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from bastion.cli.common import EXIT_CODES_HELP, handle_errors
from bastion.cli.scan import apply_flags, scan_options
from bastion.config import find_config, load_config
from bastion.errors import BastionError, UsageError
from bastion.integrations import mlflow as store
from bastion.integrations.mlflow_webhook import (
    DEFAULT_MAX_AGE_S,
    MAX_PAYLOAD_BYTES,
    decision,
    ignored,
    parse_event,
    verify_signature,
)
from bastion.integrations.sources import ScanSource
from bastion.policy.evaluate import evaluate
from bastion.registry import default_registry
from bastion.scan.deps.vulndb import prepare_database

app = typer.Typer(help="MLflow model registry integration.", no_args_is_help=True)

#: One byte more than a payload may have, so an oversized one is read as such and refused.
_READ_LIMIT = MAX_PAYLOAD_BYTES + 1


@app.command("check")
@handle_errors
def check_command(
    payload: Annotated[
        Path,
        typer.Option(help="Webhook payload (JSON); '-' reads standard input.", show_default=True),
    ] = Path("-"),
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Policy file (default: nearest bastion.toml)."),
    ] = None,
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow tracking URI (default: MLFLOW_TRACKING_URI).")
    ] = None,
    registry_uri: Annotated[
        str | None, typer.Option(help="MLflow registry URI (default: the tracking URI).")
    ] = None,
    fail_on: Annotated[
        str | None, typer.Option(help="Lowest severity that denies the version.")
    ] = None,
    secret_env: Annotated[
        str | None,
        typer.Option(
            help="Environment variable holding the webhook secret: the signature is then "
            "required and checked."
        ),
    ] = None,
    signature: Annotated[str | None, typer.Option(help="X-MLflow-Signature header.")] = None,
    delivery_id: Annotated[str | None, typer.Option(help="X-MLflow-Delivery-Id header.")] = None,
    timestamp: Annotated[str | None, typer.Option(help="X-MLflow-Timestamp header.")] = None,
    max_age: Annotated[
        int, typer.Option(min=1, help="Refuse signed deliveries older than this (seconds).")
    ] = DEFAULT_MAX_AGE_S,
    set_tag: Annotated[
        bool,
        typer.Option(
            "--set-tag/--no-set-tag",
            help="Record the decision on the model version (tags bastion.decision, "
            "bastion.findings, bastion.blocking).",
        ),
    ] = False,
) -> None:
    """Scan the model version a registry webhook announces; print allow, deny or ignore as JSON.

    Exit 0 when the version is allowed (or the event concerns no model files), 1 when it is
    denied, 2 when the payload, signature or store cannot be used (a JSON 'error' decision is
    printed then too). Nothing is loaded: the version's artifacts are only read.
    """
    try:
        doc = _check(
            _read(payload),
            config=config,
            tracking_uri=tracking_uri,
            registry_uri=registry_uri,
            fail_on=fail_on,
            secret_env=secret_env,
            headers=(signature, delivery_id, timestamp),
            max_age=max_age,
            set_tag=set_tag,
        )
    except BastionError as exc:
        typer.echo(json.dumps({"decision": "error", "exit_code": 2, "reason": exc.diagnostics()}))
        raise
    typer.echo(json.dumps(doc, indent=2))
    sys.stdout.flush()
    raise typer.Exit(int(doc["exit_code"]))


check_command.__doc__ = (check_command.__doc__ or "") + "\n\n" + EXIT_CODES_HELP


def _read(payload: Path) -> bytes:
    try:
        if str(payload) == "-":
            return sys.stdin.buffer.read(_READ_LIMIT)
        with open(payload, "rb") as handle:
            return handle.read(_READ_LIMIT)
    except OSError as exc:
        raise UsageError(f"{payload}: cannot read the payload: {exc.strerror or exc}") from None


def _check(
    body: bytes,
    *,
    config: Path | None,
    tracking_uri: str | None,
    registry_uri: str | None,
    fail_on: str | None,
    secret_env: str | None,
    headers: tuple[str | None, str | None, str | None],
    max_age: int,
    set_tag: bool,
) -> dict[str, Any]:
    if secret_env is not None:
        secret = os.environ.get(secret_env)
        if not secret:
            raise UsageError(f"--secret-env {secret_env}: the variable is not set")
        signature, delivery_id, timestamp = headers
        verify_signature(
            body,
            secret=secret,
            signature=signature,
            delivery_id=delivery_id,
            timestamp=timestamp,
            max_age_s=max_age,
        )
    event = parse_event(body)
    if event.model_uri is None or event.name is None or event.version is None:
        return ignored(event)
    loaded = load_config(config if config is not None else find_config(Path.cwd()))
    policy = apply_flags(
        loaded.policy,
        fail_on=fail_on,
        fail_on_skipped=None,
        select=None,
        disable=None,
        allow_global=None,
        exclude=None,
    )
    prepare_database(policy.vuln_db)
    registry = default_registry()
    uri = event.model_uri
    with store.open_model(uri, tracking_uri=tracking_uri, registry_uri=registry_uri) as model:
        source = ScanSource(model.label, model.local_path, model=model)
        result = source.scan(scan_options(policy), registry=registry)
    verdict = evaluate(result, policy)
    doc = decision(event, result, verdict)
    if set_tag:
        tags = {
            "bastion.decision": str(doc["decision"]),
            "bastion.findings": str(sum(result.counts().values())),
            "bastion.blocking": str(doc["blocking_total"]),
        }
        store.tag_version(
            event.name, event.version, tags, tracking_uri=tracking_uri, registry_uri=registry_uri
        )
    return doc
