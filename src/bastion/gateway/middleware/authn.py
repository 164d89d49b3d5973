"""Request path step 2: authentication (API keys and JWT bearer tokens). No identity → 401.

Failed attempts are counted per client address; past ``auth_failures_per_address`` the address
gets 429 before its credentials are even looked at (CWE-307) and a ``auth-flood`` detection is
raised. Identities suspended by a playbook get 403.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bastion.gateway.context import Problem, context, problem_response
from bastion.gateway.identity import AuthError, AuthFailure
from bastion.gateway.rules import (
    AUTH_FLOOD,
    INVALID_CREDENTIAL,
    STALE_CREDENTIAL,
    UNAUTHENTICATED,
)
from bastion.gateway.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from bastion.gateway.runtime import Gateway

_ACTION = "auth.failed"


def credential(scope: Scope) -> str | None:
    """The bearer token or API key of a request, if any."""
    for key, value in scope.get("headers", ()):
        if key == b"authorization":
            text = value.decode("latin-1").strip()
            scheme, _, token = text.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise AuthError(AuthFailure.MALFORMED, "Authorization must be 'Bearer <token>'")
            return str(token.strip())
        if key == b"x-api-key":
            return str(value.decode("latin-1").strip())
    return None


class AuthenticationMiddleware:
    """Establish the caller's identity or refuse."""

    def __init__(self, app: ASGIApp, gateway: Gateway) -> None:
        self.app = app
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ctx = context(scope)
        gateway = self.gateway
        if ctx.route is not None and gateway.is_public(ctx.route.spec):
            await self.app(scope, receive, send)
            return
        blocked = await gateway.limiter.auth_blocked(ctx.client_ip)
        if blocked is not None:
            gateway.detect_auth_flood(ctx)
            await problem_response(
                send,
                ctx,
                Problem(
                    429,
                    "Too many failed authentications",
                    "this address failed authentication too often; retry later",
                    rule=AUTH_FLOOD,
                    decision="limited",
                    action=_ACTION,
                    headers=blocked.headers(),
                ),
            )
            return
        try:
            token = credential(scope)
            if token is None:
                raise AuthError(AuthFailure.MISSING, "no credentials")
            identity = await gateway.authenticate(token)
        except AuthError as exc:
            ctx.auth_failure = exc.failure.value
            ctx.subject_hint = exc.subject
            if exc.failure is AuthFailure.MISSING:
                rule = UNAUTHENTICATED
            elif exc.failure.stale:
                rule = STALE_CREDENTIAL
            else:
                rule = INVALID_CREDENTIAL
            await gateway.limiter.auth_failed(ctx.client_ip)
            error = "invalid_request" if exc.failure is AuthFailure.MISSING else "invalid_token"
            await problem_response(
                send,
                ctx,
                Problem(
                    401,
                    "Unauthorized",
                    f"authentication failed: {exc.failure.value}",
                    rule=rule,
                    decision="denied",
                    action=_ACTION,
                    headers=[(b"www-authenticate", f'Bearer error="{error}"'.encode())],
                ),
            )
            return
        ctx.identity = identity
        if gateway.responder.suspended(identity.id):
            ctx.auth_failure = AuthFailure.SUSPENDED.value
            await problem_response(
                send,
                ctx,
                Problem(
                    403,
                    "Credential suspended",
                    "this identity is suspended by an automated response; contact an admin",
                    rule=STALE_CREDENTIAL,
                    decision="denied",
                    action=_ACTION,
                ),
            )
            return
        await self.app(scope, receive, send)
