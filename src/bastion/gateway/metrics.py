"""Prometheus metrics, in a registry owned by one app (no process-global state)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class Metrics:
    """The gateway's metrics."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "bastion_gateway_requests",
            "Requests by route, status and decision",
            ("route", "status", "decision"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "bastion_gateway_request_seconds",
            "Time to the response start, audit included",
            ("route",),
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.model_latency = Histogram(
            "bastion_gateway_model_seconds",
            "Model call time",
            ("model",),
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.audit_wait = Histogram(
            "bastion_gateway_audit_seconds",
            "Time waiting for the audit commit",
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.detections = Counter(
            "bastion_gateway_detections",
            "Detections by kind",
            ("kind", "severity"),
            registry=self.registry,
        )
        self.rows = Counter(
            "bastion_gateway_inference_rows",
            "Inference rows by model",
            ("model",),
            registry=self.registry,
        )
        self.models_ready = Gauge(
            "bastion_gateway_models_ready", "Models loaded and ready", registry=self.registry
        )
        self.audit_records = Gauge(
            "bastion_gateway_audit_records",
            "Records written by this process",
            registry=self.registry,
        )

        self._children: dict[tuple[str, ...], Any] = {}

    def child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, cached (the lookup is the costly part per request)."""
        key = (metric._name, *labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
