"""Health, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from bastion.gateway.context import RequestContext
from bastion.gateway.routes.table import Reply

if TYPE_CHECKING:
    from bastion.gateway.runtime import Gateway


async def healthz(gw: Gateway, ctx: RequestContext, params: Mapping[str, str]) -> Reply:
    """Liveness: the process answers."""
    return Reply({"status": "ok"})


async def readyz(gw: Gateway, ctx: RequestContext, params: Mapping[str, str]) -> Reply:
    """Readiness: audit writable, limits reachable, every model verified and loaded."""
    models = {
        name: {
            "ready": state.ready and name not in gw.responder.quarantined,
            "reasons": list(state.reasons)
            + (
                [f"quarantined: {gw.responder.quarantined[name]}"]
                if name in gw.responder.quarantined
                else []
            ),
        }
        for name, state in sorted(gw.models.items())
    }
    checks = {
        "audit": gw.writer.healthy,
        "limits": await gw.limiter.healthy(),
        "models": all(m["ready"] for m in models.values())
        and len(models) == len(gw.settings.models),
    }
    ready = all(checks.values()) and gw.started
    return Reply({"ready": ready, "checks": checks, "models": models}, status=200 if ready else 503)


async def metrics(gw: Gateway, ctx: RequestContext, params: Mapping[str, str]) -> Reply:
    """Prometheus text exposition."""
    gw.metrics.audit_records.set(gw.writer.records)
    return Reply(body=gw.metrics.render(), media_type=gw.metrics.content_type.encode())


async def openapi(gw: Gateway, ctx: RequestContext, params: Mapping[str, str]) -> Reply:
    """The OpenAPI 3.1 document of the gateway's own routes."""
    from bastion.gateway.routes.openapi import document

    return Reply(document(gw.routes.routes))
