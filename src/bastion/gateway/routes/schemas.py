"""JSON schemas of the gateway's request and response bodies (used by the OpenAPI document)."""

from __future__ import annotations

from typing import Any

PROBLEM: dict[str, Any] = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "request_id": {"type": "string"},
        "rule_id": {"type": "string"},
    },
    "required": ["type", "title", "status"],
}

_NUMBERS: dict[str, Any] = {"type": "array", "items": {}}

INFER_REQUEST: dict[str, Any] = {
    "oneOf": [
        {
            "type": "object",
            "properties": {
                "inputs": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 1,
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
                            "datatype": {
                                "type": "string",
                                "enum": ["FP32", "FP64", "INT64", "INT32", "BOOL"],
                            },
                            "data": _NUMBERS,
                        },
                        "required": ["shape", "data"],
                    },
                },
            },
            "required": ["inputs"],
        },
        {"type": "object", "properties": {"instances": _NUMBERS}, "required": ["instances"]},
    ]
}

INFER_RESPONSE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "model_name": {"type": "string"},
        "id": {"type": "string"},
        "predictions": {"type": "array"},
    },
    "required": ["model_name", "predictions"],
}

OBJECT: dict[str, Any] = {"type": "object"}
LIST: dict[str, Any] = {"type": "array", "items": {"type": "object"}}

KEY_CREATE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 128},
        "roles": {"type": "array", "items": {"type": "string"}},
        "models": {"type": "array", "items": {"type": "string"}},
        "expires_in_days": {"type": "number", "exclusiveMinimum": 0, "maximum": 3650},
    },
    "required": ["name"],
    "additionalProperties": False,
}

QUARANTINE: dict[str, Any] = {
    "type": "object",
    "properties": {"reason": {"type": "string", "maxLength": 500}},
    "additionalProperties": False,
}
