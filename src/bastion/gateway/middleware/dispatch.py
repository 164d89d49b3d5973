"""Innermost layer: call the matched route's handler and send its reply."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bastion.gateway.context import Problem, context, problem_response, send_bytes, send_json
from bastion.gateway.types import Receive, Scope, Send

if TYPE_CHECKING:
    from bastion.gateway.runtime import Gateway


class Dispatcher:
    """Runs handlers; a :class:`Problem` they raise becomes an audited refusal."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ctx = context(scope)
        if ctx.route is None:
            raise RuntimeError("dispatch without a matched route")
        try:
            reply = await ctx.route.spec.handler(self.gateway, ctx, ctx.params)
        except Problem as problem:
            await problem_response(send, ctx, problem)
            return
        if reply.body is not None:
            await send_bytes(send, reply.status, reply.body, reply.media_type, reply.headers)
        else:
            await send_json(send, reply.status, reply.data, reply.headers)
