"""Outermost layer: creates the request context and writes the audit record before any byte
of the response leaves.

The response start is held back until :meth:`Gateway.record_request` has committed the record
(and any detections the request raised). If the audit store cannot commit, the client gets 503
instead of the response it would have had: the gateway fails closed. Exceptions from inner
layers become an audited 500 with no detail leaked.
"""

from __future__ import annotations

import itertools
import logging
import secrets
import time
from typing import TYPE_CHECKING

from bastion.gateway.context import SCOPE_KEY, RequestContext, send_json
from bastion.gateway.errors import AuditError
from bastion.gateway.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from bastion.gateway.runtime import Gateway

log = logging.getLogger("bastion.gateway")


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return ""


class AuditMiddleware:
    """Audit every HTTP request before its response is sent."""

    def __init__(self, app: ASGIApp, gateway: Gateway) -> None:
        self.app = app
        self.gateway = gateway
        # NOTE: request ids are a random per-process prefix plus a counter: unique across
        # restarts and replicas without a getrandom() system call on every request.
        self._prefix = secrets.token_hex(6)
        self._counter = itertools.count(1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        gateway = self.gateway
        client = scope.get("client") or ("", 0)
        ctx = RequestContext(
            request_id=f"{self._prefix}{next(self._counter):012x}",
            started=time.perf_counter(),
            method=str(scope.get("method", "")),
            path=str(scope.get("path", "")),
            client_ip=gateway.client_address(scope, str(client[0])),
            client_port=int(client[1] or 0),
            user_agent=_header(scope, b"user-agent")[:256],
            query=bytes(scope.get("query_string", b"")).decode("latin-1")[:2048],
        )
        match = gateway.routes.match(ctx.method, ctx.path)
        if match is not None:
            ctx.route = match
            ctx.params = match.params
            ctx.action = match.spec.action
        scope[SCOPE_KEY] = ctx
        state = {"started": False, "dropped": False}
        request_id = ctx.request_id.encode("ascii")

        async def audited_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                if state["started"]:
                    return
                status = int(message["status"])
                try:
                    receipt = await gateway.record_request(ctx, status)
                except AuditError as exc:
                    log.error("audit write failed; answering 503", extra={"error": str(exc)})
                    state["started"] = state["dropped"] = True
                    await send_json(
                        send,
                        503,
                        {
                            "type": "urn:bastion:problem:audit-unavailable",
                            "title": "Audit unavailable",
                            "status": 503,
                            "detail": "the audit log cannot be written; the gateway fails closed",
                            "request_id": ctx.request_id,
                        },
                        [(b"x-request-id", request_id), (b"retry-after", b"5")],
                    )
                    return
                headers = list(message.get("headers", ()))
                headers.extend(ctx.extra_headers)
                headers.append((b"x-request-id", request_id))
                headers.append((b"x-audit-seq", str(receipt.seq).encode("ascii")))
                state["started"] = True
                await send({**message, "headers": headers})
            elif message["type"] == "http.response.body":
                if not state["dropped"]:
                    await send(message)
            else:
                await send(message)

        try:
            await self.app(scope, receive, audited_send)
            if not state["started"]:
                # NOTE: the client went away before an answer (e.g. mid-body); the decision is
                # still audited, with nginx's 499 "client closed request".
                ctx.decision = "aborted"
                ctx.reason = ctx.reason or "client closed the request"
                try:
                    await gateway.record_request(ctx, 499)
                except AuditError as exc:
                    log.error("audit write failed", extra={"error": str(exc)})
        except Exception:
            log.exception("unhandled error", extra={"request_id": ctx.request_id})
            if state["started"]:
                raise
            ctx.decision = "error"
            ctx.reason = "internal error"
            await send_json(
                audited_send,
                500,
                {
                    "type": "urn:bastion:problem:internal-error",
                    "title": "Internal error",
                    "status": 500,
                    "detail": "internal error",
                    "request_id": ctx.request_id,
                },
            )
