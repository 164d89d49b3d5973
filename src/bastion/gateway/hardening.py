"""Request path step 7: output hardening per role, against inversion and extraction.

Confidence scores are what inversion and extraction attacks learn from. Per role the gateway
returns only the top-k labels, with scores rounded to a few decimals, or labels alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bastion.gateway.settings import Hardening, OutputSchema


def _softmax(x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    shifted = x - x.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    result: np.ndarray[Any, Any] = exp / exp.sum(axis=1, keepdims=True)
    return result


def _round(value: float, decimals: int | None) -> float:
    return float(value) if decimals is None else round(float(value), decimals)


def harden(outputs: np.ndarray[Any, Any], schema: OutputSchema, policy: Hardening) -> list[Any]:
    """One hardened prediction per input row."""
    out = np.asarray(outputs)
    rows = out.shape[0] if out.ndim else 1
    if schema.kind == "regression":
        flat = out.reshape(rows, -1).astype(np.float64)
        return [[_round(v, policy.decimals) for v in row] for row in flat]
    if schema.kind == "labels":
        values = out.reshape(rows)
        return [_label(v, schema) for v in values]
    scores: np.ndarray[Any, Any] = out.reshape(rows, -1).astype(np.float64)
    if schema.kind == "logits":
        scores = _softmax(scores)
    k = scores.shape[1] if policy.top_k is None else min(policy.top_k, scores.shape[1])
    if policy.labels_only:
        k = min(k, 1) if policy.top_k is None else k
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    result: list[Any] = []
    for row, idx in zip(scores, order, strict=True):
        if policy.labels_only:
            result.append([_label(int(i), schema) for i in idx])
        else:
            result.append(
                [
                    {"label": _label(int(i), schema), "score": _round(row[i], policy.decimals)}
                    for i in idx
                ]
            )
    return result


def _label(value: Any, schema: OutputSchema) -> str:
    try:
        index = int(value)
    except (TypeError, ValueError):
        return str(value)
    if 0 <= index < len(schema.labels):
        return schema.labels[index]
    return str(index)
