"""The OpenAPI 3.1 document, generated from the route table (permissions included)."""

from __future__ import annotations

from typing import Any

from bastion import __version__
from bastion.gateway.routes.schemas import PROBLEM
from bastion.gateway.routes.table import PARAM_PATTERN, RouteSpec

_REASONS = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    408: "Request timeout",
    409: "Conflict",
    413: "Body too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    431: "Headers too large",
    502: "Bad gateway",
    503: "Unavailable",
    504: "Gateway timeout",
}


def _operation(spec: RouteSpec) -> dict[str, Any]:
    problem = {"application/problem+json": {"schema": PROBLEM}}
    responses: dict[str, Any] = {
        "200" if spec.method != "POST" or spec.action != "keys.create" else "201": {
            "description": "OK",
            "content": {"application/json": {"schema": spec.response_schema or {}}},
        },
    }
    codes = set(spec.errors) | {400, 413, 415, 429, 431}
    if not spec.public:
        codes |= {401, 403, 404}
    for code in sorted(codes):
        responses[str(code)] = {"description": _REASONS.get(code, "Error"), "content": problem}
    op: dict[str, Any] = {
        "operationId": spec.action.replace(".", "_") + "_" + spec.method.lower(),
        "summary": spec.summary,
        "tags": [spec.tag],
        "responses": responses,
        "x-bastion-permission": spec.permission.value if spec.permission else None,
    }
    if not spec.public:
        op["security"] = [{"bearer": []}, {"apiKey": []}]
    else:
        op["security"] = []
    parameters: list[dict[str, Any]] = [
        {
            "name": p,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": f"^{PARAM_PATTERN}$"},
        }
        for p in spec.params
    ]
    parameters += [
        {
            "name": q.name,
            "in": "query",
            "required": False,
            "schema": q.schema,
            "description": q.description,
        }
        for q in spec.query
    ]
    if parameters:
        op["parameters"] = parameters
    if spec.request_schema is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": spec.request_schema}},
        }
    return op


def document(routes: tuple[RouteSpec, ...]) -> dict[str, Any]:
    """The whole document."""
    paths: dict[str, dict[str, Any]] = {}
    for spec in routes:
        paths.setdefault(spec.template, {})[spec.method.lower()] = _operation(spec)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "bastion gateway",
            "version": __version__,
            "description": "Zero-trust inference gateway: every route below needs the "
            "permission in x-bastion-permission (none = public).",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key (bst_…) or a JWT from a trusted issuer",
                },
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            }
        },
    }
