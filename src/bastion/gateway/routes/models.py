"""Model routes: list, describe, readiness and inference (request path steps 5 to 7)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from bastion.core import Severity
from bastion.gateway.backends.loader import ModelState
from bastion.gateway.backends.upstream import UpstreamBackend
from bastion.gateway.context import Problem, RequestContext
from bastion.gateway.detections import Detection
from bastion.gateway.hardening import harden
from bastion.gateway.identity import Identity
from bastion.gateway.routes.table import Reply
from bastion.gateway.rules import (
    BUDGET_EXHAUSTED,
    INPUT_REJECTED,
    MALFORMED_REQUEST,
    OUT_OF_DISTRIBUTION,
)
from bastion.gateway.settings import Hardening
from bastion.gateway.validation import InputError, ValidatedInput, parse_json, validate

if TYPE_CHECKING:
    from bastion.gateway.runtime import Gateway


def _state(gw: Gateway, name: str) -> ModelState:
    state = gw.models.get(name)
    if state is None:
        raise Problem(404, "Not found", f"no model named {name!r}", decision="rejected")
    return state


def describe(gw: Gateway, state: ModelState) -> dict[str, Any]:
    """What a caller with read access may know about a model."""
    s = state.settings
    backend = state.backend.describe() if state.backend is not None else {"backend": s.backend}
    return {
        "name": s.name,
        "ready": state.ready and s.name not in gw.responder.quarantined,
        "quarantined": s.name in gw.responder.quarantined,
        **backend,
        "input": {
            "shape": list(s.input.shape),
            "dtype": s.input.dtype,
            "min": s.input.min,
            "max": s.input.max,
            "max_batch": s.input.max_batch,
        },
        "output": {"kind": s.output.kind, "labels": list(s.output.labels)},
        "digest": state.digest,
        "signer": state.signer,
    }


async def list_models(gw: Gateway, ctx: RequestContext, params: Mapping[str, str]) -> Reply:
    """The models the caller may read."""
    identity = ctx.identity
    names = sorted(gw.models)
    visible = gw.authorizer.visible_models(identity, names) if identity is not None else []
    return Reply({"models": [describe(gw, gw.models[n]) for n in visible]})


async def get_model(gw: Gateway, ctx: RequestContext, params: Mapping[str, str]) -> Reply:
    """One model's metadata and input schema."""
    ctx.model = params["model"]
    return Reply(describe(gw, _state(gw, params["model"])))


async def model_ready(gw: Gateway, ctx: RequestContext, params: Mapping[str, str]) -> Reply:
    """Whether a model serves now."""
    ctx.model = params["model"]
    state = _state(gw, params["model"])
    ready = state.ready and state.settings.name not in gw.responder.quarantined
    return Reply({"name": state.settings.name, "ready": ready}, status=200 if ready else 503)


def hardening_for(gw: Gateway, identity: Identity) -> Hardening:
    """The first configured hardening among the identity's roles, else the default."""
    for role in identity.roles:
        policy = gw.settings.hardening.get(role)
        if policy is not None:
            return policy
    return gw.settings.default_hardening


def _reject(message: str) -> Problem:
    return Problem(
        422,
        "Invalid input",
        message,
        rule=INPUT_REJECTED,
        decision="rejected",
        action="input.rejected",
    )


def _score(
    gw: Gateway, ctx: RequestContext, state: ModelState, identity: Identity, checked: ValidatedInput
) -> None:
    name = state.settings.name
    now = time.time()
    scaled = checked.array.astype(np.float64)
    if state.profile is not None:
        scores = state.profile.score(checked.array)
        threshold = state.settings.ood_threshold
        ood_rows = int((scores > threshold).sum())
        ctx.scores["ood"] = float(scores.max())
        ctx.details["ood_rows"] = ood_rows
        scaled = state.profile.scaled(checked.array)
        if ood_rows and gw.monitor.may_alert(identity.id, "ood-input", now):
            ctx.detections.append(
                Detection(
                    "ood-input",
                    Severity.MEDIUM,
                    f"{identity.id}: {ood_rows} of {checked.rows} rows far from the training data "
                    f"of {name} (max score {float(scores.max()):.1f} > {threshold})",
                    identity=identity.id,
                    model=name,
                    address=ctx.client_ip,
                    evidence={
                        "max_score": round(float(min(scores.max(), 1e9)), 3),
                        "rows": ood_rows,
                    },
                )
            )
        if ood_rows and state.settings.reject_ood:
            raise Problem(
                422,
                "Input out of distribution",
                f"{ood_rows} row(s) are too far from the training data",
                rule=OUT_OF_DISTRIBUTION,
                decision="rejected",
                action="input.rejected",
            )
    probes = gw.probes.observe(identity.id, name, scaled)
    ctx.details["probes"] = probes
    if probes >= gw.probes.min_pairs and gw.monitor.may_alert(identity.id, "probing", now):
        ctx.detections.append(
            Detection(
                "probing",
                Severity.HIGH,
                f"{identity.id}: {probes} near-duplicate inputs to {name} among its last "
                f"{gw.probes.window}",
                identity=identity.id,
                model=name,
                address=ctx.client_ip,
                evidence={"probes": probes, "window": gw.probes.window},
            )
        )


def _upstream_outputs(answer: Any) -> np.ndarray[Any, Any] | None:
    if not isinstance(answer, dict):
        return None
    outputs = answer.get("outputs")
    if isinstance(outputs, list) and outputs and isinstance(outputs[0], dict):
        data, shape = outputs[0].get("data"), outputs[0].get("shape")
        try:
            array = np.asarray(data, dtype=np.float64)
            return array.reshape(shape) if isinstance(shape, list) else array
        except (TypeError, ValueError):
            return None
    predictions = answer.get("predictions")
    if isinstance(predictions, list):
        try:
            return np.asarray(predictions, dtype=np.float64)
        except (TypeError, ValueError):
            return None
    return None


async def infer(gw: Gateway, ctx: RequestContext, params: Mapping[str, str]) -> Reply:
    """Validate, score, charge the budget, call the model and harden its answer."""
    name = params["model"]
    ctx.model = name
    state = _state(gw, name)
    identity = ctx.identity
    if identity is None:
        raise RuntimeError("inference without an identity")
    if name in gw.responder.quarantined:
        raise Problem(
            503,
            "Model quarantined",
            "the model is quarantined by a response action",
            decision="denied",
            headers=[(b"retry-after", b"60")],
        )
    if not state.ready:
        raise Problem(
            503,
            "Model unavailable",
            "the model failed verification and is not served",
            decision="error",
            headers=[(b"retry-after", b"60")],
        )
    settings = state.settings
    try:
        data = parse_json(ctx.body, gw.settings.http.max_json_depth)
    except InputError as exc:
        raise Problem(
            400,
            "Malformed JSON",
            str(exc),
            rule=MALFORMED_REQUEST,
            decision="rejected",
            action="input.rejected",
        ) from None
    backend = state.backend
    passthrough = settings.backend == "upstream" and settings.protocol in ("json", "openai")
    checked: ValidatedInput | None = None
    rows = 1
    if not passthrough:
        try:
            checked = validate(data, settings.input)
        except InputError as exc:
            raise _reject(str(exc)) from None
        ctx.input = checked.summary()
        rows = checked.rows
    ctx.rows = rows
    budget = await gw.limiter.charge_budget(identity, rows)
    if not budget.allowed:
        raise Problem(
            429,
            "Query budget exhausted",
            f"the daily budget of {gw.limiter.budget_for(identity)} rows is used up",
            rule=BUDGET_EXHAUSTED,
            decision="limited",
            action="budget.exceeded",
            headers=budget.headers(),
        )
    if checked is not None:
        _score(gw, ctx, state, identity, checked)
    started = time.perf_counter()
    if isinstance(backend, UpstreamBackend):
        answer = await backend.call(data)
        gw.metrics.child(gw.metrics.model_latency, name).observe(time.perf_counter() - started)
        outputs = None if passthrough else _upstream_outputs(answer)
        if outputs is None:
            return Reply(
                {"model_name": name, "id": ctx.request_id, "predictions": [], "upstream": answer}
            )
    else:
        if checked is None:
            raise RuntimeError("local models always validate their input")
        outputs = await gw.predict(state, checked.array)
        gw.metrics.child(gw.metrics.model_latency, name).observe(time.perf_counter() - started)
    gw.metrics.child(gw.metrics.rows, name).inc(rows)
    predictions = harden(outputs, settings.output, hardening_for(gw, identity))
    return Reply({"model_name": name, "id": ctx.request_id, "predictions": predictions})
