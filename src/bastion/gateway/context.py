"""Per-request state shared by the middleware layers, and the problem responses they send.

The audit layer creates a :class:`RequestContext` and stores it in the ASGI scope; each inner
layer records what it decided (identity, denial and why, model, input digest, scores) so the
audit record written before the response holds the whole story. Denials are RFC 9457
``application/problem+json`` bodies built by :func:`problem_response`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from bastion.gateway.identity import Identity
from bastion.gateway.types import Headers, Scope, Send
from bastion.rules import Rule

SCOPE_KEY = "bastion.context"


@dataclass
class RequestContext:
    """Mutable state of one request (not a value: each layer fills in its part)."""

    request_id: str
    started: float
    method: str
    path: str
    client_ip: str
    client_port: int
    user_agent: str
    query: str = ""
    route: Any = None
    params: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    identity: Identity | None = None
    action: str = "http.request"
    decision: str = "allowed"
    reason: str = ""
    rule: Rule | None = None
    model: str | None = None
    input: dict[str, Any] | None = None
    rows: int = 0
    scores: dict[str, float] = field(default_factory=dict)
    detections: list[Any] = field(default_factory=list)
    extra_headers: Headers = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    auth_failure: str | None = None
    subject_hint: str | None = None

    def elapsed_ms(self) -> float:
        """Milliseconds since the request arrived."""
        return (time.perf_counter() - self.started) * 1000.0

    def deny(self, decision: str, rule: Rule, reason: str, action: str | None = None) -> None:
        """Record a refusal for the audit."""
        self.decision = decision
        self.rule = rule
        self.reason = reason
        if action is not None:
            self.action = action


def context(scope: Scope) -> RequestContext:
    """The request's context (set by the audit layer)."""
    ctx = scope.get(SCOPE_KEY)
    if not isinstance(ctx, RequestContext):
        raise RuntimeError("request context missing: the audit layer must be outermost")
    return ctx


class Problem(Exception):
    """A refusal raised by a handler; becomes a problem+json response and an audit decision."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        rule: Rule | None = None,
        decision: str = "denied",
        action: str | None = None,
        headers: Headers | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {title}: {detail}")
        self.status = status
        self.title = title
        self.detail = detail
        self.rule = rule
        self.decision = decision
        self.action = action
        self.headers = headers or []
        self.extra = extra or {}


async def send_json(
    send: Send,
    status: int,
    data: Any,
    headers: Headers | None = None,
    content_type: bytes = b"application/json",
) -> None:
    """Send a complete JSON response."""
    body = json.dumps(data, separators=(",", ":"), allow_nan=False).encode("utf-8")
    await send_bytes(send, status, body, content_type, headers)


async def send_bytes(
    send: Send, status: int, body: bytes, content_type: bytes, headers: Headers | None = None
) -> None:
    """Send a complete response with a body."""
    raw: Headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode("ascii")),
        (b"cache-control", b"no-store"),
        (b"x-content-type-options", b"nosniff"),
    ]
    if headers:
        raw.extend(headers)
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def problem_response(send: Send, ctx: RequestContext, problem: Problem) -> None:
    """Record the refusal on the context and send it as ``application/problem+json``."""
    if problem.rule is not None:
        ctx.deny(problem.decision, problem.rule, problem.detail, problem.action)
    elif problem.status >= 400:
        ctx.decision = problem.decision
        ctx.reason = problem.detail
        if problem.action is not None:
            ctx.action = problem.action
    slug = problem.title.lower().replace(" ", "-")
    body: dict[str, Any] = {
        "type": f"urn:bastion:problem:{slug}",
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "request_id": ctx.request_id,
        **problem.extra,
    }
    if problem.rule is not None:
        body["rule_id"] = problem.rule.id
    await send_json(
        send, problem.status, body, problem.headers, content_type=b"application/problem+json"
    )
