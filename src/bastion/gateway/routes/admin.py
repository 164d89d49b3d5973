"""Admin routes: API keys, model reload and quarantine, playbooks, response actions,
detections. Every call is audited like any other request (the audit layer does it)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import jsonschema

from bastion.gateway.apikeys import PREFIX, new_key
from bastion.gateway.context import Problem, RequestContext
from bastion.gateway.errors import ApiKeyError
from bastion.gateway.rbac import UnknownRoleError
from bastion.gateway.response import ActionError
from bastion.gateway.routes.schemas import KEY_CREATE, QUARANTINE
from bastion.gateway.routes.table import Reply
from bastion.gateway.store import ActionRecord, KeyRecord
from bastion.gateway.validation import InputError, parse_json

if TYPE_CHECKING:
    from bastion.gateway.runtime import Gateway


def _body(gw: Gateway, ctx: RequestContext, schema: dict[str, Any]) -> dict[str, Any]:
    try:
        data = parse_json(ctx.body or b"{}", gw.settings.http.max_json_depth)
        jsonschema.validate(data, schema)
    except InputError as exc:
        raise Problem(400, "Malformed JSON", str(exc), decision="rejected") from None
    except jsonschema.ValidationError as exc:
        raise Problem(422, "Invalid body", exc.message[:300], decision="rejected") from None
    if not isinstance(data, dict):
        raise Problem(422, "Invalid body", "expected an object", decision="rejected")
    return data


def key_view(record: KeyRecord, now: float | None = None) -> dict[str, Any]:
    """A key as listings show it (never the secret or its hash)."""
    return {
        "key_id": record.key_id,
        "prefix": f"{PREFIX}{record.key_id}",
        "name": record.name,
        "roles": list(record.roles),
        "models": list(record.models),
        "created_at": record.created_at,
        "expires_at": record.expires_at,
        "revoked_at": record.revoked_at,
        "state": record.state(time.time() if now is None else now),
        "created_by": record.created_by,
    }


def action_view(record: ActionRecord) -> dict[str, Any]:
    """A response action as listings show it."""
    return {
        "action_id": record.action_id,
        "playbook": record.playbook,
        "type": record.kind,
        "target": record.target,
        "params": record.params,
        "reason": record.reason,
        "created_at": record.created_at,
        "expires_at": record.expires_at,
        "reverted_at": record.reverted_at,
        "reverted_by": record.reverted_by,
    }


def _actor(ctx: RequestContext) -> str:
    return ctx.identity.id if ctx.identity is not None else "unknown"


async def create_key(gw: Gateway, ctx: RequestContext, params: Mapping[str, str]) -> Reply:
    """Create an API key; the secret is in this response and nowhere else."""
    data = _body(gw, ctx, KEY_CREATE)
    roles = tuple(data.get("roles", ()))
    try:
        for role in roles:
            gw.authorizer.check_role(role)
    except UnknownRoleError as exc:
        raise Problem(422, "Invalid body", str(exc), decision="rejected") from None
    days = data.get("expires_in_days")
    created = new_key(
        str(data["name"]),
        roles,
        models=tuple(data.get("models", ["*"])),
        expires_in=float(days) * 86400 if days else None,
        created_by=_actor(ctx),
    )
    await anyio.to_thread.run_sync(gw.store.add_key, created.record)
    ctx.details = {"key_id": created.record.key_id, "roles": list(roles)}
    return Reply({**key_view(created.record), "key": created.token}, status=201)


async def list_keys(gw: Gateway, ctx: RequestContext, params: Mapping[str, str]) -> Reply:
    """Every key (prefix, roles, state)."""
    records = await anyio.to_thread.run_sync(gw.store.list_keys)
    return Reply({"keys": [key_view(r) for r in records]})


async def revoke_key(gw: Gateway, ctx: RequestContext, params: Mapping[str, str]) -> Reply:
    """Revoke a key at once."""
    key_id = params["key_id"]
    try:
        await anyio.to_thread.run_sync(gw.store.set_revoked, key_id, time.time())
    except ApiKeyError as exc:
        raise Problem(404, "Not found", str(exc), decision="rejected") from None
    gw.keys.invalidate(key_id)
    ctx.details = {"key_id": key_id}
    return Reply({"key_id": key_id, "state": "revoked"})


async def admin_models(gw: Gateway, ctx: RequestContext, params: Mapping[str, str]) -> Reply:
    """Every model with its load status and the reasons a refused one was refused."""
    return Reply(
        {
            "models": [
                {
                    "name": n,
                    "ready": s.ready,
                    "reasons": list(s.reasons),
                    "digest": s.digest,
                    "signer": s.signer,
                    "quarantined": gw.responder.quarantined.get(n),
                    "scan": s.scan,
                }
                for n, s in sorted(gw.models.items())
            ]
        }
    )


async def reload_model(gw: Gateway, ctx: RequestContext, params: Mapping[str, str]) -> Reply:
    """Re-verify and reload a model (after re-signing it, for example)."""
    name = params["model"]
    ctx.model = name
    if gw.settings.model(name) is None:
        raise Problem(404, "Not found", f"no model named {name!r}", decision="rejected")
    state = await gw.load(name)
    return Reply(
        {"name": name, "ready": state.ready, "reasons": list(state.reasons)},
        status=200 if state.ready else 409,
    )


async def quarantine_model(gw: Gateway, ctx: RequestContext, params: Mapping[str, str]) -> Reply:
    """Stop serving a model until the quarantine action is reverted."""
    name = params["model"]
    ctx.model = name
    data = _body(gw, ctx, QUARANTINE)
    if name not in gw.models:
        raise Problem(404, "Not found", f"no model named {name!r}", decision="rejected")
    record = await gw.responder.manual(
        "quarantine_model", name, str(data.get("reason") or "quarantined by an admin"), _actor(ctx)
    )
    return Reply(action_view(record), status=201)


async def list_playbooks(gw: Gateway, ctx: RequestContext, params: Mapping[str, str]) -> Reply:
    """The configured playbooks."""
    return Reply({"playbooks": [p.model_dump(mode="json") for p in gw.settings.playbooks]})


async def list_actions(gw: Gateway, ctx: RequestContext, params: Mapping[str, str]) -> Reply:
    """Response actions, newest last."""
    records = await anyio.to_thread.run_sync(gw.store.list_actions)
    return Reply({"actions": [action_view(r) for r in records]})


async def revert_action(gw: Gateway, ctx: RequestContext, params: Mapping[str, str]) -> Reply:
    """Undo a response action."""
    try:
        record = await gw.responder.revert(params["action_id"], _actor(ctx))
    except ActionError as exc:
        status = 404 if "no action" in str(exc) else 409
        raise Problem(status, "Cannot revert", str(exc), decision="rejected") from None
    ctx.details = {"action_id": record.action_id}
    return Reply(action_view(record))


async def list_detections(gw: Gateway, ctx: RequestContext, params: Mapping[str, str]) -> Reply:
    """Recent detections of this process (the audit log has all of them)."""
    return Reply({"detections": list(gw.detections)})
