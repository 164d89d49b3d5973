"""Request path step 3: rate limits per identity (and role), per address, and playbook throttles.

A refusal is 429 with ``Retry-After`` and the draft ``RateLimit``/``RateLimit-Policy`` headers;
allowed requests carry the identity's ``RateLimit`` headers too. The daily query budget is
charged later, by the inference handler, once the number of rows is known.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bastion.gateway.context import Problem, context, problem_response
from bastion.gateway.limiter import LimitResult
from bastion.gateway.rules import RATE_LIMITED
from bastion.gateway.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from bastion.gateway.runtime import Gateway


def _refusal(result: LimitResult, who: str) -> Problem:
    return Problem(
        429,
        "Too many requests",
        f"rate limit exceeded ({who}, policy {result.policy})",
        rule=RATE_LIMITED,
        decision="limited",
        action="ratelimit.exceeded",
        headers=result.headers(),
        extra={"violated-policies": [result.policy]},
    )


class RateLimitMiddleware:
    """Count the request against every limit that applies."""

    def __init__(self, app: ASGIApp, gateway: Gateway) -> None:
        self.app = app
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ctx = context(scope)
        limiter = self.gateway.limiter
        identity = ctx.identity
        address = await limiter.check_address(ctx.client_ip, identity)
        if address is not None and not address.allowed:
            await problem_response(send, ctx, _refusal(address, "client address"))
            return
        if identity is not None:
            result = await limiter.check_identity(identity)
            if result is not None and not result.allowed:
                await problem_response(send, ctx, _refusal(result, "identity"))
                return
            throttle = self.gateway.responder.throttle(identity.id)
            if throttle is not None:
                limited = await limiter.check_throttle(identity, throttle)
                if limited is not None and not limited.allowed:
                    await problem_response(send, ctx, _refusal(limited, "throttled identity"))
                    return
            if result is not None:
                ctx.extra_headers.extend(result.headers())
        await self.app(scope, receive, send)
