"""The app factory: ``create_app(settings)`` builds the gateway's ASGI application.

>>> from bastion.gateway.settings import GatewaySettings
>>> from bastion.gateway.app import create_app
>>> app = create_app(GatewaySettings(store="sqlite://"))   # doctest: +SKIP

The middleware stack is fixed, outermost first: audit (every decision recorded before the
response) → transport limits → authentication → rate limits → authorization → dispatch. The
lifespan starts the audit writer, loads and verifies models and starts the SIEM exporters.
"""

from __future__ import annotations

import logging

from bastion.gateway.middleware.audit import AuditMiddleware
from bastion.gateway.middleware.authn import AuthenticationMiddleware
from bastion.gateway.middleware.authz import AuthorizationMiddleware
from bastion.gateway.middleware.dispatch import Dispatcher
from bastion.gateway.middleware.ratelimit import RateLimitMiddleware
from bastion.gateway.middleware.transport import TransportMiddleware
from bastion.gateway.routes.catalog import ROUTES
from bastion.gateway.runtime import Gateway
from bastion.gateway.settings import GatewaySettings
from bastion.gateway.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger("bastion.gateway")


class GatewayApp:
    """The ASGI application: lifespan plus the middleware stack."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        stack: ASGIApp = Dispatcher(gateway)
        stack = AuthorizationMiddleware(stack, gateway)
        stack = RateLimitMiddleware(stack, gateway)
        stack = AuthenticationMiddleware(stack, gateway)
        stack = TransportMiddleware(stack, gateway)
        self._stack: ASGIApp = AuditMiddleware(stack, gateway)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve HTTP through the stack; handle the lifespan here."""
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        await self._stack(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.gateway.start()
                except Exception as exc:
                    log.exception("gateway failed to start")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    await self.gateway.stop()
                except Exception as exc:
                    log.exception("gateway failed to stop cleanly")
                    await send({"type": "lifespan.shutdown.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.shutdown.complete"})
                return


def create_app(settings: GatewaySettings) -> GatewayApp:
    """Build the gateway for these settings (nothing starts until the ASGI lifespan)."""
    return GatewayApp(Gateway(settings, ROUTES))
