"""Canonical JSON, digests and number flattening shared by posture documents and the history.

Pure functions with no database or framework imports, so the posture commands work on the core
install and the run history stores exactly the same values.

>>> from bastion.posture.canonical import canonical_json, flatten_numbers
>>> canonical_json({"b": 1, "a": (2, 3)})
'{"a":[2,3],"b":1}'
>>> list(flatten_numbers({"acc": {"0.03": 0.5}, "ok": True, "curve": [0.9, 0.5]}))
[('acc/0.03', 0.5)]
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Any

from bastion.policy.model import Policy

#: Most metrics taken from one run (a finding with a runaway property dict cannot flood it).
MAX_METRICS = 10_000


def canonical_json(value: object) -> str:
    """Sorted keys, no insignificant white space, non-JSON values as strings: digest-stable."""
    return json.dumps(
        jsonable(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def jsonable(value: object) -> Any:
    """A JSON-ready copy (tuples → lists, enums → values, non-finite floats → strings)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [jsonable(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    return str(value)


def policy_digest(policy: Policy) -> str:
    """``sha256:…`` of the effective policy (where it was read from does not count)."""
    data = dataclasses.asdict(dataclasses.replace(policy, source=None))
    return "sha256:" + hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()


def flatten_numbers(
    value: Mapping[str, Any], prefix: str = "", depth: int = 0
) -> Iterable[tuple[str, float]]:
    """``(path, number)`` for every finite number in a nested mapping.

    Lists are skipped: in assessment results they hold curves, histograms and samples, whose
    points are not comparable one by one between runs (a curve keyed by epsilon is a mapping).
    """
    if depth > 8:
        return
    for key, item in value.items():
        name = f"{prefix}/{key}" if prefix else str(key)
        yield from _numbers(item, name, depth)


def _numbers(item: object, name: str, depth: int) -> Iterable[tuple[str, float]]:
    if isinstance(item, bool):
        return
    if isinstance(item, int | float):
        if math.isfinite(item):
            yield name, float(item)
    elif isinstance(item, Mapping):
        yield from flatten_numbers(item, name, depth + 1)
