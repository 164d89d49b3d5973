"""``bastion keys``: create, list and revoke the gateway's API keys (audited)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from bastion.cli.common import handle_errors
from bastion.errors import UsageError

app = typer.Typer(help="Manage the gateway's API keys.", no_args_is_help=True)

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


def _audit(settings: Any, store: Any, record: dict[str, Any]) -> None:
    import getpass

    from bastion.gateway.audit.writer import AuditWriter

    writer = AuditWriter(store, f"{settings.instance}.cli", checkpoint_every=1_000_000)
    writer.start()
    try:
        writer.append_sync(
            {**record, "kind": "admin", "outcome": "success", "actor": getpass.getuser()}
        )
    finally:
        writer.stop(checkpoint=False)


def _duration(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
        raise UsageError(f"--expires {text!r}: use a number and a unit, e.g. 30d, 12h")
    return int(text[:-1]) * units[text[-1]]


@app.command("create")
@handle_errors
def create(
    config: ConfigOption,
    name: Annotated[str, typer.Option(help="Who or what uses the key (e.g. svc-a).")],
    role: Annotated[
        list[str] | None, typer.Option("--role", help="A role (repeatable); none by default.")
    ] = None,
    model: Annotated[
        list[str] | None, typer.Option("--model", help="Limit to models (glob, repeatable).")
    ] = None,
    expires: Annotated[str | None, typer.Option(help="Lifetime, e.g. 90d or 12h.")] = None,
) -> None:
    """Create a key and print it once: only its SHA-256 is stored."""
    from bastion.gateway.apikeys import new_key
    from bastion.gateway.rbac import Authorizer, UnknownRoleError

    settings, store = _open(config)
    roles = tuple(role or ())
    try:
        authorizer = Authorizer(settings.roles)
        for item in roles:
            authorizer.check_role(item)
    except UnknownRoleError as exc:
        raise UsageError(str(exc)) from None
    import getpass

    created = new_key(
        name,
        roles,
        models=tuple(model or ("*",)),
        expires_in=_duration(expires) if expires else None,
        created_by=f"cli:{getpass.getuser()}",
    )
    store.add_key(created.record)
    _audit(
        settings,
        store,
        {
            "action": "keys.create",
            "key_id": created.record.key_id,
            "name": name,
            "roles": list(roles),
        },
    )
    typer.echo(created.token)
    typer.echo(
        f"key id {created.record.key_id} ({created.display}); roles: "
        f"{', '.join(roles) or 'none'}. Store it now: it is not shown again.",
        err=True,
    )


@app.command("list")
@handle_errors
def list_keys(
    config: ConfigOption,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List keys: id, name, roles, state (never secrets)."""
    _settings, store = _open(config)
    records = store.list_keys()
    now = time.time()
    if as_json:
        from bastion.gateway.routes.admin import key_view

        typer.echo(json.dumps([key_view(r, now) for r in records], indent=2))
        return
    table = Table()
    for column in ("Key id", "Name", "Roles", "Models", "State", "Expires"):
        table.add_column(column)
    for r in records:
        expiry = time.strftime("%Y-%m-%d %H:%M", time.gmtime(r.expires_at)) if r.expires_at else "-"
        table.add_row(
            r.key_id, r.name, ", ".join(r.roles) or "-", ", ".join(r.models), r.state(now), expiry
        )
    Console().print(table)


@app.command("revoke")
@handle_errors
def revoke(
    config: ConfigOption,
    key_id: Annotated[str, typer.Argument(help="The key id (bst_<id> prefix accepted).")],
) -> None:
    """Revoke a key (gateways stop accepting it within key_cache_seconds)."""
    from bastion.gateway.errors import ApiKeyError

    settings, store = _open(config)
    key_id = key_id.removeprefix("bst_")
    try:
        store.set_revoked(key_id, time.time())
    except ApiKeyError as exc:
        raise UsageError(str(exc)) from None
    _audit(settings, store, {"action": "keys.revoke", "key_id": key_id})
    typer.echo(f"revoked {key_id}")
