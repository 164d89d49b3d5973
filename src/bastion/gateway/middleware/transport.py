"""Request path step 1: header and body limits, content types, slow clients.

Headers are checked for total size and for control characters (header injection, CWE-113/117);
bodies must have an allowed content type, may not exceed ``max_body_bytes`` (declared or
actual), and must arrive within ``body_timeout_seconds``. The body is read here, once, bounded,
and replayed to inner layers.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

from bastion.gateway.context import Problem, context, problem_response
from bastion.gateway.rules import MALFORMED_REQUEST
from bastion.gateway.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from bastion.gateway.runtime import Gateway

_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_ACTION = "request.rejected"


def _reject(status: int, title: str, detail: str) -> Problem:
    return Problem(
        status, title, detail, rule=MALFORMED_REQUEST, decision="rejected", action=_ACTION
    )


class TransportMiddleware:
    """Bounded headers and bodies."""

    def __init__(self, app: ASGIApp, gateway: Gateway) -> None:
        self.app = app
        self.http = gateway.settings.http

    def _check_headers(self, scope: Scope) -> tuple[int | None, str]:
        total = 0
        content_length: int | None = None
        content_type = ""
        auth_count = 0
        for key, value in scope.get("headers", ()):
            total += len(key) + len(value) + 4
            if _CONTROL.search(value) or _CONTROL.search(key):
                raise _reject(400, "Bad header", "control characters in a header")
            if key == b"content-length":
                if content_length is not None or not value.isdigit() or len(value) > 15:
                    raise _reject(400, "Bad header", "invalid or repeated Content-Length")
                content_length = int(value)
            elif key == b"content-type":
                content_type = value.decode("latin-1").split(";", 1)[0].strip().lower()
            elif key in (b"authorization", b"x-api-key"):
                auth_count += 1
        if total > self.http.max_header_bytes:
            raise _reject(
                431,
                "Headers too large",
                f"request headers exceed {self.http.max_header_bytes} bytes",
            )
        if auth_count > 1:
            raise _reject(400, "Bad header", "more than one credential header")
        return content_length, content_type

    async def _read_body(self, receive: Receive, declared: int | None) -> bytes | None:
        limit = self.http.max_body_bytes
        if declared is not None and declared > limit:
            raise _reject(413, "Body too large", f"the body may not exceed {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.http.body_timeout_seconds):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return None
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > limit:
                        raise _reject(
                            413, "Body too large", f"the body may not exceed {limit} bytes"
                        )
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            raise _reject(408, "Request timeout", "the body did not arrive in time") from None
        return b"".join(chunks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ctx = context(scope)
        try:
            declared, content_type = self._check_headers(scope)
            body = b""
            if ctx.method in _BODY_METHODS:
                if content_type not in self.http.content_types:
                    raise _reject(
                        415,
                        "Unsupported media type",
                        f"send one of: {', '.join(self.http.content_types)}",
                    )
                read = await self._read_body(receive, declared)
                if read is None:
                    ctx.decision = "aborted"
                    ctx.reason = "client disconnected"
                    return
                body = read
            elif declared:
                raise _reject(400, "Unexpected body", f"{ctx.method} requests carry no body")
        except Problem as problem:
            await problem_response(send, ctx, problem)
            return
        ctx.body = body
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
