"""Request path step 4: authorization. Unknown routes are 404/405 (after authentication, so
they reveal nothing to anonymous callers); a route's permission must be granted by one of the
identity's roles, on the model the route names."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bastion.gateway.context import Problem, context, problem_response
from bastion.gateway.rules import FORBIDDEN
from bastion.gateway.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from bastion.gateway.runtime import Gateway


class AuthorizationMiddleware:
    """Role-based access control on every route."""

    def __init__(self, app: ASGIApp, gateway: Gateway) -> None:
        self.app = app
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ctx = context(scope)
        gateway = self.gateway
        if ctx.route is None:
            allowed = gateway.routes.allows_path(ctx.path)
            if allowed:
                problem = Problem(
                    405,
                    "Method not allowed",
                    f"use {', '.join(allowed)}",
                    decision="rejected",
                    headers=[(b"allow", ", ".join(allowed).encode())],
                )
            else:
                problem = Problem(404, "Not found", "no such route", decision="rejected")
            await problem_response(send, ctx, problem)
            return
        spec = ctx.route.spec
        if not gateway.is_public(spec):
            permission = spec.permission
            identity = ctx.identity
            model = ctx.params.get("model")
            if (
                permission is None
                or identity is None
                or not gateway.authorizer.allowed(identity, permission, model)
            ):
                target = f" on model {model!r}" if model else ""
                await problem_response(
                    send,
                    ctx,
                    Problem(
                        403,
                        "Forbidden",
                        f"permission {permission.value if permission else '-'}{target} not granted",
                        rule=FORBIDDEN,
                        decision="denied",
                        action="authz.denied",
                    ),
                )
                return
        await self.app(scope, receive, send)
