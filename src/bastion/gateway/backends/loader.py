"""Loading a local model only after it passes both gates: bastion's own scan and the integrity
check (signature and scan attestation, :func:`bastion.integrity.deploy.verify_for_deployment`).

A model that fails is never loaded; :class:`ModelState` keeps every reason so ``/readyz``, the
audit log and the logs can say why. Upstream models have no file to verify; they are ready when
configured.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bastion.config import load_config
from bastion.gateway.backends.interface import LocalBackend
from bastion.gateway.backends.upstream import UpstreamBackend
from bastion.gateway.profile import Profile, load_profile
from bastion.gateway.settings import GatewaySettings, ModelSettings
from bastion.policy.model import Policy


@dataclass(frozen=True)
class ModelState:
    """One configured model: loaded (ready) or refused, and why."""

    settings: ModelSettings
    backend: LocalBackend | UpstreamBackend | None
    reasons: tuple[str, ...] = ()
    digest: str | None = None
    signer: str | None = None
    profile: Profile | None = None
    scan: dict[str, Any] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        """Loaded and servable (quarantine is tracked separately)."""
        return self.backend is not None and not self.reasons


def _policy(settings: GatewaySettings) -> Policy:
    if settings.policy_file is None:
        return Policy()
    return load_config(settings.policy_file).policy


def _scan_gate(path: Path, policy: Policy) -> tuple[list[str], dict[str, Any]]:
    from bastion.policy.evaluate import evaluate
    from bastion.scan.engine import scan

    result = scan(path)
    verdict = evaluate(result, policy)
    summary = {
        "passed": verdict.passed,
        "findings": len(verdict.findings),
        "blocking": [f.rule_id for f in verdict.blocking],
        "skipped": len(result.skipped),
    }
    reasons = [f"scan: {f.rule_id} {f.title} at {f.location.display()}" for f in verdict.blocking]
    if verdict.blocking_skipped:
        reasons.extend(
            f"scan: {s.display} could not be checked ({s.reason.value})"
            for s in verdict.blocking_skipped
        )
    return reasons, summary


def _integrity_gate(
    path: Path, model: ModelSettings, settings: GatewaySettings
) -> tuple[list[str], str | None, str | None]:
    verify = model.verify
    if not verify.require_signature and not verify.require_scan_attestation:
        return [], None, None
    try:
        deploy = importlib.import_module("bastion.integrity.deploy")
    except ImportError:
        return (
            [
                "integrity: bastion.integrity.deploy is not available, so the signature "
                "cannot be checked"
            ],
            None,
            None,
        )
    if not verify.trusted_keys:
        return ["integrity: no trusted_keys configured for this model"], None, None
    policy = deploy.DeploymentPolicy(
        trusted_keys=tuple(settings.path(k) for k in verify.trusted_keys),
        require_signature=verify.require_signature,
        require_scan_attestation=verify.require_scan_attestation,
        signature=settings.path(verify.signature) if verify.signature else None,
        attestation=settings.path(verify.attestation) if verify.attestation else None,
    )
    decision = deploy.verify_for_deployment(path, policy)
    reasons = [] if decision.allowed else [f"integrity: {r}" for r in decision.reasons]
    if not decision.allowed and not reasons:
        reasons = ["integrity: verification refused the model"]
    return reasons, decision.model_digest, decision.signer


def _backend(model: ModelSettings, path: Path) -> LocalBackend:
    if model.backend == "onnx":
        from bastion.gateway.backends.onnx_backend import OnnxBackend

        return OnnxBackend(path, model.input.name, model.output.name)
    if model.backend == "sklearn":
        from bastion.gateway.backends.sklearn_backend import SkopsBackend

        return SkopsBackend(path, model.trusted_types, model.output.kind == "probabilities")
    from bastion.gateway.backends.torch_backend import TorchBackend

    return TorchBackend(path, str(model.architecture))


def load_model(model: ModelSettings, settings: GatewaySettings) -> ModelState:
    """Verify, scan and load one model; never raises for a bad model (returns the reasons)."""
    profile: Profile | None = None
    if model.profile is not None:
        try:
            features = math.prod(model.input.shape[1:])
            profile = load_profile(settings.path(model.profile), features)
        except Exception as exc:
            return ModelState(model, None, (f"profile: {exc}",))
    if model.backend == "upstream":
        return ModelState(model, UpstreamBackend(model), profile=profile)
    path = settings.path(model.path or Path())
    if not path.exists():
        return ModelState(model, None, (f"{path}: no such file",))
    try:
        scan_reasons, summary = _scan_gate(path, _policy(settings))
    except Exception as exc:
        return ModelState(model, None, (f"scan failed: {exc}",))
    try:
        integrity, digest, signer = _integrity_gate(path, model, settings)
    except Exception as exc:
        integrity, digest, signer = [f"integrity: verification error: {exc}"], None, None
    reasons = tuple(integrity + scan_reasons)
    if reasons:
        return ModelState(model, None, reasons, digest, signer, profile, summary)
    try:
        backend = _backend(model, path)
    except Exception as exc:
        return ModelState(
            model,
            None,
            (f"load failed: {type(exc).__name__}: {exc}",),
            digest,
            signer,
            profile,
            summary,
        )
    return ModelState(model, backend, (), digest, signer, profile, summary)
