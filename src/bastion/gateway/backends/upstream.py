"""Reverse proxy to an HTTP model server (KServe v1/v2, OpenAI-style, any JSON API).

One pooled ``httpx.AsyncClient`` per model with connection limits and timeouts; responses are
read with a byte cap and must be JSON. Upstream failures become 502/504 for the client, never a
gateway crash.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from bastion.gateway.context import Problem
from bastion.gateway.settings import ModelSettings


class UpstreamBackend:
    """Forwards validated requests to the configured upstream URL."""

    kind = "upstream"

    def __init__(self, settings: ModelSettings) -> None:
        self._url = str(settings.upstream_url)
        self._max = settings.max_response_bytes
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.timeout_seconds),
            limits=httpx.Limits(
                max_connections=settings.max_connections,
                max_keepalive_connections=settings.max_connections,
            ),
            follow_redirects=False,
            trust_env=False,
        )

    async def call(self, payload: Any) -> Any:
        """POST JSON upstream and return its JSON answer."""
        body = json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()
        try:
            async with self._client.stream(
                "POST", self._url, content=body, headers={"content-type": "application/json"}
            ) as response:
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > self._max:
                        raise Problem(
                            502, "Bad gateway", "upstream response too large", decision="error"
                        )
                    chunks.append(chunk)
                status = response.status_code
        except httpx.TimeoutException:
            raise Problem(
                504, "Gateway timeout", "the upstream model timed out", decision="error"
            ) from None
        except httpx.HTTPError as exc:
            raise Problem(
                502, "Bad gateway", f"upstream unreachable: {type(exc).__name__}", decision="error"
            ) from None
        if status >= 400:
            raise Problem(502, "Bad gateway", f"upstream answered {status}", decision="error")
        try:
            return json.loads(b"".join(chunks))
        except ValueError:
            raise Problem(
                502, "Bad gateway", "upstream answered non-JSON", decision="error"
            ) from None

    def describe(self) -> dict[str, Any]:
        """Backend kind (the URL stays private)."""
        return {"backend": self.kind}

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()
