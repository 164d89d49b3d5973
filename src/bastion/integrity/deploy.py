"""The deployment gate: may this model be loaded? One call, one decision, never an exception.

>>> from pathlib import Path
>>> from bastion.integrity.deploy import DeploymentPolicy, verify_for_deployment
>>> policy = DeploymentPolicy(trusted_keys=(Path("keys/release.pub"),))
>>> decision = verify_for_deployment(Path("models/bert"), policy)    # doctest: +SKIP
>>> decision.allowed, decision.reasons                                # doctest: +SKIP
(False, ('BST-INT-002 config.json: content differs from the signed digest',))

This is what ``bastion serve`` calls before it loads a model, and what ``bastion verify --policy
bastion.toml MODEL`` runs. It fails closed: a missing or corrupted signature, an unknown signer,
a changed file, an attestation for another model or a failed scan, an unreadable key, and any
unexpected error all give ``allowed=False`` with every reason spelled out.

The policy can live in ``bastion.toml``; paths there are relative to the policy file::

    [deploy]
    trusted_keys = ["keys/release.pub", "keys/backup.pub"]   # any one of them may sign
    require_signature = true
    require_scan_attestation = true
    # signature = "models/bert/model.sig"      default: <dir>/model.sig or <file>.sig
    # attestation = "models/bert/model.att.json"  default: <dir>/model.att.json or <file>.att.json
    # manifest_cache = false   true: reuse digests of files whose stat is unchanged (see cache)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from bastion.config import LoadedConfig, load_config
from bastion.errors import BastionError, ConfigError
from bastion.integrity import rules
from bastion.integrity.hashing import HashOptions, LocalManifest
from bastion.integrity.keys import load_public_key
from bastion.integrity.signing import default_attestation_path, default_signature_path
from bastion.integrity.verify import Problem, Trust


@dataclass(frozen=True)
class DeploymentPolicy:
    """What a model needs before it may be deployed."""

    trusted_keys: tuple[Path, ...]  # PEM public keys; a signature by any one is accepted
    require_signature: bool = True
    require_scan_attestation: bool = True
    signature: Path | None = None  # default: <model path>.sig (file) or <dir>/model.sig
    attestation: Path | None = None  # default: <model path>.att.json / <dir>/model.att.json
    manifest_cache: bool = False  # reuse digests of unchanged files (see bastion.integrity.cache)

    @classmethod
    def from_table(cls, table: Mapping[str, Any], *, base: Path, source: str) -> DeploymentPolicy:
        """Validate a ``[deploy]`` table; relative paths are resolved against ``base``."""
        try:
            model = _DeployTable.model_validate(dict(table))
        except ValidationError as exc:
            problems = "; ".join(
                f"deploy.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
                for err in exc.errors()
            )
            raise ConfigError(source, problems) from None

        def resolve(value: str) -> Path:
            path = Path(value).expanduser()
            return path if path.is_absolute() else base / path

        return cls(
            trusted_keys=tuple(resolve(k) for k in model.trusted_keys),
            require_signature=model.require_signature,
            require_scan_attestation=model.require_scan_attestation,
            signature=resolve(model.signature) if model.signature else None,
            attestation=resolve(model.attestation) if model.attestation else None,
            manifest_cache=model.manifest_cache,
        )

    @classmethod
    def from_config(cls, loaded: LoadedConfig) -> DeploymentPolicy:
        """The ``[deploy]`` table of a loaded policy file (an error if it has none)."""
        source = str(loaded.path) if loaded.path else "(defaults)"
        table = loaded.sections.get("deploy")
        if table is None:
            raise ConfigError(source, "no [deploy] table (trusted_keys, require_signature, …)")
        if not isinstance(table, dict):
            raise ConfigError(source, "[deploy] must be a table")
        base = loaded.path.parent if loaded.path else Path.cwd()
        return cls.from_table(table, base=base, source=source)


class _DeployTable(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    trusted_keys: list[str] = []
    require_signature: bool = True
    require_scan_attestation: bool = True
    signature: str | None = None
    attestation: str | None = None
    manifest_cache: bool = False


def load_deployment_policy(path: Path) -> DeploymentPolicy:
    """Load ``[deploy]`` from a ``bastion.toml`` (or ``[tool.bastion.deploy]`` in pyproject)."""
    return DeploymentPolicy.from_config(load_config(path))


@dataclass(frozen=True)
class DeploymentDecision:
    """The gate's answer; ``reasons`` lists every failed check."""

    allowed: bool
    reasons: tuple[str, ...]  # every failed check, human readable
    model_digest: str | None
    signer: str | None  # key fingerprint that verified
    problems: tuple[Problem, ...] = ()  # the same failures as BST-INT findings
    checked: tuple[str, ...] = ()  # the checks that passed, human readable


def verify_for_deployment(model: Path, policy: DeploymentPolicy) -> DeploymentDecision:
    """Decide whether ``model`` may be deployed under ``policy``; never raises for bad input."""
    try:
        return _decide(model, policy)
    except BastionError as exc:
        return _deny(f"cannot verify: {exc.diagnostics()}")
    except Exception as exc:  # fail closed on anything unforeseen
        return _deny(f"internal error while verifying: {type(exc).__name__}: {exc}")


def _deny(reason: str, problem: Problem | None = None) -> DeploymentDecision:
    return DeploymentDecision(False, (reason,), None, None, (problem,) if problem else ())


def _decide(model: Path, policy: DeploymentPolicy) -> DeploymentDecision:
    from bastion.integrity.chain import verify_attestation
    from bastion.integrity.verify import verify_model

    if not (model.exists() or model.is_symlink()):
        return _deny(f"{model}: model not found")
    needs_keys = policy.require_signature or policy.require_scan_attestation
    if needs_keys and not policy.trusted_keys:
        problem = Problem(rules.MISSING_EVIDENCE, str(model), "no trusted keys are configured")
        return _deny("no trusted keys are configured ([deploy] trusted_keys)", problem)
    for trusted in policy.trusted_keys:  # a misconfigured gate says so before anything else
        load_public_key(trusted)
    options = HashOptions(cache=_cache(model) if policy.manifest_cache else None)
    trust = Trust(keys=policy.trusted_keys)
    problems: list[Problem] = []
    checked: list[str] = []
    signer: str | None = None
    digest: str | None = None
    reuse: LocalManifest | None = None
    if policy.require_signature:
        signature = policy.signature or default_signature_path(model)
        if not signature.is_file():
            problems.append(
                Problem(rules.MISSING_EVIDENCE, str(signature), "required signature not found")
            )
        else:
            result = verify_model(model, signature, trust, options=options)
            problems.extend(result.problems)
            signer = result.signer if not result.problems else None
            reuse = result.local
            digest = result.model_digest
            if result.verified:
                files = result.local.files if result.local else 0
                checked.append(f"signature by {result.signer}: all {files} file(s) match")
    if policy.require_scan_attestation:
        attestation = policy.attestation or default_attestation_path(model)
        if not attestation.is_file():
            problems.append(
                Problem(rules.MISSING_EVIDENCE, str(attestation), "required attestation not found")
            )
        else:
            chain = verify_attestation(
                model, attestation, trust, require_scan=True, options=options, reuse=reuse
            )
            problems.extend(chain.problems)
            checked.extend(chain.checked)
            digest = digest or chain.model_digest
            if signer is None and not policy.require_signature and chain.verified:
                signer = chain.signer
    reasons = tuple(f"{p.rule.id} {p.path}: {p.message}" for p in problems)
    return DeploymentDecision(
        allowed=not problems,
        reasons=reasons,
        model_digest=digest,
        signer=signer,
        problems=tuple(problems),
        checked=tuple(checked),
    )


def _cache(model: Path) -> Any:
    from bastion.integrity.cache import ManifestCache

    return ManifestCache.for_model(model)
