"""The route table: method, path template, permission, audit action and handler of each route.

One table serves three purposes: the dispatcher matches requests against it, the authorization
layer reads the permission from it (a route without one is public), and the OpenAPI document is
generated from it, so a route cannot exist without a declared permission.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bastion.gateway.context import RequestContext
from bastion.gateway.rbac import Permission
from bastion.gateway.types import Headers

if TYPE_CHECKING:
    from bastion.gateway.runtime import Gateway

_PARAM = re.compile(r"\{([a-z_]+)\}")
PARAM_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"


@dataclass(frozen=True)
class Reply:
    """What a handler returns: JSON data (or raw bytes), status and extra headers."""

    data: Any = None
    status: int = 200
    body: bytes | None = None
    media_type: bytes = b"application/json"
    headers: Headers = field(default_factory=list)


Handler = Callable[["Gateway", RequestContext, Mapping[str, str]], Awaitable[Reply]]


@dataclass(frozen=True)
class QueryParam:
    """A documented query parameter."""

    name: str
    schema: dict[str, Any]
    description: str


@dataclass(frozen=True)
class RouteSpec:
    """One route of the gateway."""

    method: str
    template: str
    permission: Permission | None
    action: str
    handler: Handler
    summary: str
    tag: str
    request_schema: dict[str, Any] | None = None
    response_schema: dict[str, Any] | None = None
    query: tuple[QueryParam, ...] = ()
    errors: tuple[int, ...] = ()

    @property
    def public(self) -> bool:
        """Reachable without credentials (health and schema only)."""
        return self.permission is None

    @property
    def params(self) -> tuple[str, ...]:
        """Path parameter names."""
        return tuple(_PARAM.findall(self.template))

    def regex(self) -> re.Pattern[str]:
        """The compiled path pattern."""
        pattern = _PARAM.sub(lambda m: f"(?P<{m.group(1)}>{PARAM_PATTERN})", self.template)
        return re.compile(f"^{pattern}$")


@dataclass(frozen=True)
class RouteMatch:
    """A matched route and its path parameters."""

    spec: RouteSpec
    params: dict[str, str]


class RouteTable:
    """Matches method and path to a route."""

    def __init__(self, routes: tuple[RouteSpec, ...]) -> None:
        self.routes = routes
        self._static: dict[tuple[str, str], RouteSpec] = {}
        self._dynamic: list[tuple[re.Pattern[str], RouteSpec]] = []
        for spec in routes:
            if spec.params:
                self._dynamic.append((spec.regex(), spec))
            else:
                self._static[(spec.method, spec.template)] = spec

    def match(self, method: str, path: str) -> RouteMatch | None:
        """The route for this request, or ``None``."""
        spec = self._static.get((method, path))
        if spec is not None:
            return RouteMatch(spec, {})
        for regex, candidate in self._dynamic:
            if candidate.method != method:
                continue
            found = regex.match(path)
            if found:
                return RouteMatch(candidate, found.groupdict())
        return None

    def allows_path(self, path: str) -> tuple[str, ...]:
        """Methods defined for a path (for 405 responses)."""
        methods = [m for (m, t) in self._static if t == path]
        methods.extend(s.method for r, s in self._dynamic if r.match(path))
        return tuple(sorted(set(methods)))
