"""The running gateway: every collaborator, built once from the settings by ``create_app``.

:class:`Gateway` owns the store, the audit writer, the limiter, the authenticators, the models,
the behaviour monitor, the responder and the SIEM exporters; middleware and routes receive it
explicitly (there is no module-level state). ``start``/``stop`` run in the ASGI lifespan.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections import deque
from dataclasses import replace
from typing import Any

import anyio.to_thread
import numpy as np

from bastion.core import Severity
from bastion.gateway.anomaly.baseline import Observation
from bastion.gateway.anomaly.detector import BehaviourMonitor
from bastion.gateway.apikeys import KeyAuthenticator, looks_like_key, parse
from bastion.gateway.audit.checkpoint import CheckpointSigner
from bastion.gateway.audit.writer import AuditWriter, Receipt, utc_now
from bastion.gateway.backends.interface import LocalBackend
from bastion.gateway.backends.loader import ModelState, load_model
from bastion.gateway.backends.upstream import UpstreamBackend
from bastion.gateway.context import RequestContext
from bastion.gateway.detections import Detection
from bastion.gateway.errors import AuditLockedError
from bastion.gateway.identity import AuthError, AuthFailure, Identity
from bastion.gateway.jwtauth import JwtAuthenticator
from bastion.gateway.limiter import Limiter
from bastion.gateway.metrics import Metrics
from bastion.gateway.probing import ProbeTracker
from bastion.gateway.rbac import Authorizer
from bastion.gateway.response import Responder
from bastion.gateway.routes.table import RouteSpec, RouteTable
from bastion.gateway.settings import GatewaySettings
from bastion.gateway.siem.exporter import SinkExporter
from bastion.gateway.siem.sinks import make_sink
from bastion.gateway.store import GatewayStore
from bastion.store import open_store

log = logging.getLogger("bastion.gateway")
_REFRESH_SECONDS = 5.0


def _finite(value: float) -> float:
    return float(value) if np.isfinite(value) else 1e9


class Gateway:
    """Everything a request needs, wired together."""

    def __init__(self, settings: GatewaySettings, routes: tuple[RouteSpec, ...]) -> None:
        self.settings = settings
        self.routes = RouteTable(routes)
        self.store = GatewayStore(
            open_store(settings.store, schema=settings.store_schema, base=settings.base_dir)
        )
        self.metrics = Metrics()
        self.limiter = Limiter(settings.limits, settings.redis, settings.limits.namespace)
        self.keys = KeyAuthenticator(self.store, settings.auth.key_cache_seconds)
        self.jwt = JwtAuthenticator(settings.auth.jwt, settings.path)
        self.authorizer = Authorizer(settings.roles)
        self.monitor = BehaviourMonitor(settings.anomaly)
        a = settings.anomaly
        self.probes = ProbeTracker(a.probe_window, a.probe_epsilon, a.probe_min_pairs)
        self.responder = Responder(settings.playbooks, self.store, self.keys, self.audit_event)
        self._signer: CheckpointSigner | None = None
        if settings.audit.checkpoint_key is not None:
            self._signer = CheckpointSigner.from_file(settings.path(settings.audit.checkpoint_key))
        self.exporters: list[SinkExporter] = []
        #: This process's audit log: the instance, or ``<instance>.w<k>`` with several workers.
        self.log_id = settings.instance
        self.writer = self._writer(self.log_id)
        self.models: dict[str, ModelState] = {}
        self.detections: deque[dict[str, Any]] = deque(maxlen=1000)
        self._trusted = tuple(
            ipaddress.ip_network(p, strict=False) for p in settings.trusted_proxies
        )
        self._tasks: list[asyncio.Task[Any]] = []
        self.started = False

    # -- life cycle -------------------------------------------------------------------------
    def _writer(self, log_id: str) -> AuditWriter:
        audit = self.settings.audit
        return AuditWriter(
            self.store,
            log_id,
            signer=self._signer,
            checkpoint_every=audit.checkpoint_every,
            checkpoint_seconds=audit.checkpoint_seconds,
            max_batch=audit.max_batch,
            on_commit=self._committed,
        )

    async def _start_writer(self) -> None:
        workers = self.settings.workers
        if workers == 1:
            await anyio.to_thread.run_sync(self.writer.start)
            return
        # NOTE: each worker process claims a free slot, so its chain keeps the same name
        # across restarts: one writer per log, whatever the number of workers.
        for slot in range(workers):
            log_id = f"{self.settings.instance}.w{slot}"
            writer = self._writer(log_id)
            try:
                await anyio.to_thread.run_sync(writer.start)
            except AuditLockedError:
                continue
            self.writer, self.log_id = writer, log_id
            return
        raise AuditLockedError(
            f"all {workers} audit slots of {self.settings.instance!r} are taken by other processes"
        )

    async def start(self) -> None:
        """Create tables, start the writer, load models (verified), start exporters."""
        await anyio.to_thread.run_sync(self.store.create)
        await self._start_writer()
        await anyio.to_thread.run_sync(self.responder.load)
        for sink in self.settings.siem.sinks:
            exporter = SinkExporter(
                self.store,
                self.log_id,
                sink,
                make_sink(sink, self.settings.base_dir),
                self.settings.path(self.settings.siem.spool_dir),
            )
            exporter.start()
            self.exporters.append(exporter)
        await self.audit_event(
            {
                "kind": "system",
                "action": "gateway.start",
                "outcome": "success",
                "models": [m.name for m in self.settings.models],
            }
        )
        for model in self.settings.models:
            await self.load(model.name)
        self._tasks.append(asyncio.create_task(self._refresh()))
        self.started = True

    async def stop(self) -> None:
        """Stop background work, flush the audit log and the exporters."""
        for task in self._tasks:
            task.cancel()
        await self.responder.drain()
        for state in self.models.values():
            await self._close(state)
        if self.started:
            try:
                await self.audit_event(
                    {"kind": "system", "action": "gateway.stop", "outcome": "success"}
                )
            except Exception as exc:
                log.error("could not audit the shutdown", extra={"error": str(exc)})
        await anyio.to_thread.run_sync(self.writer.stop)
        for exporter in self.exporters:
            await anyio.to_thread.run_sync(exporter.stop)
        self.store.store.dispose()

    async def _close(self, state: ModelState) -> None:
        if isinstance(state.backend, UpstreamBackend):
            await state.backend.aclose()
        elif isinstance(state.backend, LocalBackend):
            state.backend.close()

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(_REFRESH_SECONDS)
            try:
                await anyio.to_thread.run_sync(self.responder.load)
            except Exception as exc:
                log.error("state refresh failed", extra={"error": str(exc)})

    def _committed(self, seq: int) -> None:
        for exporter in self.exporters:
            exporter.notify()

    async def load(self, name: str) -> ModelState:
        """(Re)verify and (re)load one model; a refusal is audited and logged."""
        model = self.settings.model(name)
        if model is None:
            raise KeyError(name)
        state = await anyio.to_thread.run_sync(load_model, model, self.settings)
        old = self.models.get(name)
        self.models[name] = state
        if old is not None:
            await self._close(old)
        self.metrics.models_ready.set(sum(1 for s in self.models.values() if s.ready))
        record = {
            "kind": "system",
            "action": "model.load",
            "outcome": "success" if state.ready else "failure",
            "model": name,
            "model_digest": state.digest,
            "signer": state.signer,
            "reasons": list(state.reasons),
            "scan": state.scan,
        }
        if state.ready:
            log.info("model loaded", extra={"model": name, "digest": state.digest})
            await self.audit_event(record)
        else:
            log.error("model refused", extra={"model": name, "reasons": list(state.reasons)})
            detection = Detection(
                "model-refused",
                Severity.CRITICAL,
                f"model {name!r} refused: " + "; ".join(state.reasons),
                model=name,
                evidence={"reasons": list(state.reasons)},
            )
            await self.audit_event(record)
            await self._detected([detection])
        return state

    # -- requests ---------------------------------------------------------------------------
    def client_address(self, scope: dict[str, Any] | Any, peer: str) -> str:
        """The client address; ``X-Forwarded-For`` is believed only from trusted proxies."""
        if not self._trusted or not peer:
            return peer
        try:
            if not any(ipaddress.ip_address(peer) in net for net in self._trusted):
                return peer
        except ValueError:
            return peer
        for key, value in scope.get("headers", ()):
            if key == b"x-forwarded-for":
                hops = [h.strip() for h in value.decode("latin-1").split(",") if h.strip()]
                for hop in reversed(hops):
                    try:
                        ip = ipaddress.ip_address(hop)
                    except ValueError:
                        return peer
                    if not any(ip in net for net in self._trusted):
                        return str(ip)
        return peer

    def is_public(self, spec: RouteSpec) -> bool:
        """Routes reachable without credentials."""
        if spec.permission is None:
            return True
        return self.settings.metrics_public and spec.template == "/metrics"

    async def authenticate(self, token: str) -> Identity:
        """An identity for a bearer token or API key; raises :class:`AuthError`."""
        if looks_like_key(token):
            if not self.settings.auth.api_keys:
                raise AuthError(AuthFailure.MALFORMED, "API keys are disabled")
            parts = parse(token)
            if parts is None:
                raise AuthError(AuthFailure.MALFORMED, "not a bastion API key")
            key_id = parts[0]
            if self.keys.cached(key_id):
                record = self.keys.lookup(key_id)
            else:
                record = await anyio.to_thread.run_sync(self.keys.lookup, key_id)
            return self.keys.authenticate(token, record, time.time())
        if self.jwt.enabled and token.count(".") == 2:
            return await self.jwt.authenticate(token)
        raise AuthError(AuthFailure.MALFORMED, "unrecognized credential")

    async def predict(self, state: ModelState, array: np.ndarray[Any, Any]) -> Any:
        """Run a local model inline or in a worker thread."""
        backend = state.backend
        if not isinstance(backend, LocalBackend):
            raise TypeError("not a local model")
        if self.settings.executor == "inline":
            return backend.predict(array)
        return await anyio.to_thread.run_sync(backend.predict, array)

    # -- audit ------------------------------------------------------------------------------
    async def audit_event(self, record: dict[str, Any]) -> Receipt:
        """Append a record to the audit chain and wait until it is durable."""
        record.setdefault("time", utc_now())
        return await self.writer.append(record)

    def detect_auth_flood(self, ctx: RequestContext) -> None:
        """Raise an ``auth-flood`` detection for the request's address (once per cooldown)."""
        if not self.monitor.may_alert(f"address:{ctx.client_ip}", "auth-flood", time.time()):
            return
        ctx.detections.append(
            Detection(
                "auth-flood",
                Severity.HIGH,
                f"{ctx.client_ip} crossed the failed-authentication limit",
                address=ctx.client_ip,
                request_id=ctx.request_id,
            )
        )

    def request_record(self, ctx: RequestContext, status: int) -> dict[str, Any]:
        """The audit body of a request."""
        identity = ctx.identity
        record: dict[str, Any] = {
            "kind": "request",
            "action": ctx.action,
            "time": utc_now(),
            "request_id": ctx.request_id,
            "outcome": "success" if status < 400 else "failure",
            "decision": ctx.decision if status < 400 or ctx.decision != "allowed" else "error",
            "status": status,
            "method": ctx.method,
            "path": ctx.path[:512],
            "route": ctx.route.spec.template if ctx.route is not None else None,
            "client": {"ip": ctx.client_ip, "port": ctx.client_port},
            "user_agent": ctx.user_agent,
            "duration_ms": round(ctx.elapsed_ms(), 3),
        }
        if identity is not None:
            record["identity"] = {
                "id": identity.id,
                "name": identity.name,
                "kind": identity.kind.value,
                "roles": list(identity.roles),
            }
        if ctx.subject_hint:
            record["subject_hint"] = ctx.subject_hint
        if ctx.reason:
            record["reason"] = ctx.reason[:500]
        if ctx.auth_failure:
            record["auth_failure"] = ctx.auth_failure
        if ctx.rule is not None:
            record["rule_id"] = ctx.rule.id
            record["rule_name"] = ctx.rule.title
            record["atlas"] = list(ctx.rule.references.atlas)
        if ctx.model is not None:
            record["model"] = ctx.model
        if ctx.input is not None:
            record["input"] = ctx.input
            record["rows"] = ctx.rows
        if ctx.scores:
            record["scores"] = {k: round(_finite(v), 4) for k, v in ctx.scores.items()}
        if ctx.details:
            record["details"] = ctx.details
        return record

    async def record_request(self, ctx: RequestContext, status: int) -> Receipt:
        """Audit a request (and its detections) before its response is sent."""
        record = self.request_record(ctx, status)
        detections = list(ctx.detections)
        if ctx.identity is not None:
            detections.extend(
                self.monitor.observe(
                    Observation(
                        identity=ctx.identity.id,
                        time=time.time(),
                        status=status,
                        address=ctx.client_ip,
                        model=ctx.model,
                        rows=ctx.rows,
                        score=ctx.scores.get("ood"),
                        ood_rows=int(ctx.details.get("ood_rows", 0)),
                        probes=int(ctx.details.get("probes", 0)),
                    )
                )
            )
        detections = [
            d if d.request_id else replace(d, request_id=ctx.request_id) for d in detections
        ]
        started = time.perf_counter()
        if detections:
            receipts = await asyncio.gather(
                self.writer.append(record),
                *(self.writer.append({**d.record(), "time": utc_now()}) for d in detections),
            )
            receipt = receipts[0]
        else:
            receipt = await self.writer.append(record)
        metrics = self.metrics
        route = ctx.route.spec.template if ctx.route is not None else "unmatched"
        metrics.audit_wait.observe(time.perf_counter() - started)
        metrics.child(metrics.requests, route, str(status), record["decision"]).inc()
        metrics.child(metrics.latency, route).observe(ctx.elapsed_ms() / 1000.0)
        if detections:
            self._after_detections(detections)
        if self.settings.access_log:
            log.info(
                "request",
                extra={
                    "request_id": ctx.request_id,
                    "status": status,
                    "path": ctx.path[:200],
                    "decision": record["decision"],
                },
            )
        return receipt

    def _after_detections(self, detections: list[Detection]) -> None:
        for detection in detections:
            self.metrics.detections.labels(detection.kind, detection.severity.label).inc()
            self.detections.append(
                {
                    **detection.record()["detection"],
                    "rule_id": detection.rule.id,
                    "time": utc_now(),
                    "request_id": detection.request_id,
                }
            )
            log.warning(
                "detection",
                extra={
                    "kind": detection.kind,
                    "identity": detection.identity,
                    "severity": detection.severity.label,
                },
            )
        self.responder.dispatch(detections)

    async def _detected(self, detections: list[Detection]) -> None:
        for detection in detections:
            await self.audit_event({**detection.record(), "time": utc_now()})
        self._after_detections(detections)
