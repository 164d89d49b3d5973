"""Assessment metrics for a posture: from a JSON document, or from the latest saved assess run.

A metrics document can be the JSON report of ``bastion assess`` (findings whose
``properties.metrics`` hold the measurements, as every assessment rule records them) or a plain
``{"metrics": {...}}`` object (nested numbers are flattened into ``a/b/c`` names) or a list of
``{"name", "value", "threshold"}`` objects. Names from a report are ``RULE/metric/…``, exactly as
the history store saves them, so a baseline set from a file can be checked against a saved run.

>>> from bastion.posture.metrics import metrics_from_document
>>> metrics_from_document({"metrics": {"robust_accuracy": {"0.03": 0.61}}}, source="x")
(MetricEntry(name='robust_accuracy/0.03', value=0.61, threshold=None),)
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bastion.posture.canonical import MAX_METRICS, flatten_numbers
from bastion.posture.model import MAX_BYTES, MetricEntry, PostureFileError

if TYPE_CHECKING:
    from bastion.store.history import HistoryStore


def read_metrics_file(path: Path) -> tuple[MetricEntry, ...]:
    """Metrics from a JSON file (bounded size); errors name the file."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise PostureFileError(str(path), "metrics file not found") from None
    except OSError as exc:
        raise PostureFileError(str(path), f"cannot read metrics: {exc.strerror or exc}") from exc
    if len(data) > MAX_BYTES:
        raise PostureFileError(str(path), f"metrics file larger than {MAX_BYTES} bytes")
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise PostureFileError(str(path), f"metrics file is not valid JSON: {exc}") from None
    found = metrics_from_document(document, source=str(path))
    if not found:
        raise PostureFileError(
            str(path),
            'no metrics found (expected a bastion assess JSON report, {"metrics": {...}} or a '
            'list of {"name", "value"})',
        )
    return found


def metrics_from_document(document: Any, *, source: str) -> tuple[MetricEntry, ...]:
    """Metrics of an already-parsed document (see the module docstring for the shapes)."""
    found: dict[str, MetricEntry] = {}

    def add(name: str, value: float, threshold: float | None) -> None:
        if name not in found and len(found) < MAX_METRICS:
            found[name] = MetricEntry(name, value, threshold)

    if isinstance(document, Mapping) and isinstance(document.get("findings"), list):
        for item in document["findings"]:
            if not isinstance(item, Mapping):
                continue
            props = item.get("properties")
            rule = item.get("rule_id")
            if not (isinstance(props, Mapping) and isinstance(rule, str)):
                continue
            values = props.get("metrics")
            if not isinstance(values, Mapping):
                continue
            raw = props.get("thresholds")
            limits = dict(flatten_numbers(raw)) if isinstance(raw, Mapping) else {}
            for key, number in flatten_numbers(values):
                add(f"{rule}/{key}", number, limits.get(key))
    metrics = document.get("metrics") if isinstance(document, Mapping) else document
    if isinstance(metrics, Mapping):
        for key, number in flatten_numbers(metrics):
            add(key, number, None)
    elif isinstance(metrics, list):
        for index, item in enumerate(metrics):
            if not isinstance(item, Mapping):
                raise PostureFileError(source, f"metrics[{index}] must be an object")
            name, value = item.get("name"), _number(item.get("value"))
            if not isinstance(name, str) or value is None:
                raise PostureFileError(
                    source, f"metrics[{index}] needs a string 'name' and a finite 'value'"
                )
            add(name, value, _number(item.get("threshold")))
    return tuple(found[k] for k in sorted(found))


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def latest_assess_metrics(
    history: HistoryStore, project: str
) -> tuple[tuple[MetricEntry, ...], str] | None:
    """The metrics of a project's newest saved assess run, and ``"run N"``; ``None`` if none."""
    run = history.latest(project, "assess")
    if run is None:
        return None
    entries = tuple(MetricEntry(m.name, m.value, m.threshold) for m in history.metrics(run.id))
    return entries, f"run {run.id}"
