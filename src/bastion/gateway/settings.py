"""Typed gateway settings, read once from the ``[gateway]`` table of the policy file.

Every table is a frozen pydantic model that forbids unknown keys, so a typo is an error naming the
file and the key, never a silently ignored setting. Paths are resolved against the config file's
folder. :func:`load_settings` is the only entry point the CLI uses.

Example ``gateway.toml``::

    [gateway]
    instance = "gw-1"
    store = "sqlite:///gateway.db"

    [[gateway.models]]
    name = "iris"
    backend = "onnx"
    path = "models/iris.onnx"
    input = { dtype = "float32", shape = [-1, 4], min = 0.0, max = 10.0, max_batch = 64 }
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bastion.config import load_config
from bastion.core import Severity
from bastion.errors import ConfigError

_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _rate(value: str) -> str:
    from limits import parse_many

    try:
        parse_many(value)
    except ValueError as exc:
        raise ValueError(f"invalid rate limit {value!r}: {exc}") from None
    return value


class HttpSettings(_Model):
    """Transport limits enforced before anything else (request path step 1)."""

    max_body_bytes: int = Field(default=1 << 20, gt=0, le=1 << 30)
    max_header_bytes: int = Field(default=16384, ge=1024, le=1 << 20)
    body_timeout_seconds: float = Field(default=10.0, gt=0)
    content_types: tuple[str, ...] = ("application/json",)
    max_json_depth: int = Field(default=32, ge=2, le=512)
    keep_alive_seconds: float = Field(default=5.0, gt=0)


class JwtIssuer(_Model):
    """One trusted token issuer: its JWKS, audience and allowed algorithms."""

    issuer: str
    audience: str
    jwks_file: Path | None = None
    jwks_url: str | None = None
    algorithms: tuple[str, ...] = ("RS256", "ES256")
    roles_claim: str = "roles"
    role_map: dict[str, str] = {}
    subject_claim: str = "sub"
    leeway_seconds: float = Field(default=30.0, ge=0, le=600)
    required_claims: tuple[str, ...] = ("exp", "iat", "iss", "aud", "sub")
    max_token_bytes: int = Field(default=8192, ge=256)

    @field_validator("algorithms")
    @classmethod
    def _asymmetric_only(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        allowed = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"}
        allowed |= {"ES512", "EdDSA"}
        bad = [a for a in value if a not in allowed]
        if bad or not value:
            raise ValueError(
                f"algorithms {bad or '[]'} not allowed: "
                f"asymmetric only ({', '.join(sorted(allowed))})"
            )
        return value

    @model_validator(mode="after")
    def _one_source(self) -> JwtIssuer:
        if (self.jwks_file is None) == (self.jwks_url is None):
            raise ValueError("set exactly one of jwks_file or jwks_url")
        return self


class AuthSettings(_Model):
    """Which credentials are accepted."""

    api_keys: bool = True
    jwt: tuple[JwtIssuer, ...] = ()
    key_cache_seconds: float = Field(default=2.0, ge=0, le=300)


class LimitSet(_Model):
    """Request rates and the daily query budget of one scope (default or a role)."""

    per_identity: tuple[str, ...] | None = None
    per_address: tuple[str, ...] | None = None
    daily_query_budget: int | None = Field(default=None, ge=0)

    @field_validator("per_identity", "per_address")
    @classmethod
    def _check(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return tuple(_rate(v) for v in value) if value is not None else None


class LimitSettings(_Model):
    """Rate limits and quotas (request path step 3)."""

    strategy: Literal["moving-window", "fixed-window", "sliding-window-counter"] = "moving-window"
    per_identity: tuple[str, ...] = ("50/second", "3000/minute")
    per_address: tuple[str, ...] = ("200/second",)
    auth_failures_per_address: tuple[str, ...] = ("30/minute",)
    daily_query_budget: int = Field(default=100_000, ge=0)
    roles: dict[str, LimitSet] = {}
    headers: bool = True
    namespace: Annotated[str, Field(pattern=_NAME)] = "bastion"

    @field_validator("per_identity", "per_address", "auth_failures_per_address")
    @classmethod
    def _check(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_rate(v) for v in value)


class RoleSettings(_Model):
    """A custom role, or an override of a built-in role's model scope."""

    permissions: tuple[str, ...] | None = None
    models: tuple[str, ...] = ("*",)


class Hardening(_Model):
    """What a role sees of the model's output (request path step 7)."""

    top_k: int | None = Field(default=3, ge=1)
    decimals: int | None = Field(default=3, ge=0, le=12)
    labels_only: bool = False


class InputSchema(_Model):
    """The declared input of a model: shapes, dtypes, ranges and batch size."""

    name: str | None = None
    dtype: Literal["float32", "float64", "int64", "int32", "bool"] = "float32"
    shape: tuple[int, ...] = (-1, 1)
    min: float | None = None
    max: float | None = None
    max_batch: int = Field(default=64, ge=1, le=100_000)
    allow_nan: bool = False

    @field_validator("shape")
    @classmethod
    def _shape(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or value[0] != -1 or any(d <= 0 for d in value[1:]):
            raise ValueError("shape must start with -1 (the batch) followed by positive sizes")
        return value


class OutputSchema(_Model):
    """What the model returns, so output hardening knows how to read it."""

    kind: Literal["probabilities", "logits", "scores", "regression", "labels"] = "probabilities"
    labels: tuple[str, ...] = ()
    name: str | None = None


class VerifySettings(_Model):
    """The integrity gate before a local model is loaded."""

    trusted_keys: tuple[Path, ...] = ()
    require_signature: bool = True
    require_scan_attestation: bool = True
    signature: Path | None = None
    attestation: Path | None = None


class ModelSettings(_Model):
    """One served model: backend, where it lives, its schema and profile."""

    name: Annotated[str, Field(pattern=_NAME)]
    backend: Literal["onnx", "sklearn", "torch", "upstream"]
    path: Path | None = None
    architecture: str | None = None
    trusted_types: tuple[str, ...] = ()
    upstream_url: str | None = None
    protocol: Literal["v2", "v1", "openai", "json"] = "v2"
    timeout_seconds: float = Field(default=10.0, gt=0)
    max_connections: int = Field(default=32, ge=1)
    max_response_bytes: int = Field(default=4 << 20, gt=0)
    input: InputSchema = InputSchema()
    output: OutputSchema = OutputSchema()
    profile: Path | None = None
    ood_threshold: float = Field(default=8.0, gt=0)
    reject_ood: bool = False
    verify: VerifySettings = VerifySettings()

    @model_validator(mode="after")
    def _backend_fields(self) -> ModelSettings:
        if self.backend == "upstream":
            if not self.upstream_url or not self.upstream_url.startswith(("http://", "https://")):
                raise ValueError(f"model {self.name}: upstream needs an http(s) upstream_url")
        elif self.path is None:
            raise ValueError(f"model {self.name}: backend {self.backend} needs a path")
        if self.backend == "torch" and (not self.architecture or ":" not in self.architecture):
            raise ValueError(f"model {self.name}: torch needs architecture = 'module:function'")
        return self


class AuditSettings(_Model):
    """The hash-chained audit log."""

    checkpoint_key: Path | None = None
    checkpoint_every: int = Field(default=1000, ge=1)
    checkpoint_seconds: float = Field(default=60.0, gt=0)
    max_batch: int = Field(default=512, ge=1)


class SinkSettings(_Model):
    """One SIEM destination."""

    name: Annotated[str, Field(pattern=_NAME)]
    type: Literal["file", "stdout", "syslog", "webhook"]
    format: Literal["ecs", "ocsf", "cef"] = "ecs"
    path: Path | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=514, ge=1, le=65535)
    protocol: Literal["udp", "tcp"] = "udp"
    facility: int = Field(default=13, ge=0, le=23)
    url: str | None = None
    headers: dict[str, str] = {}
    ca_file: Path | None = None
    batch_size: int = Field(default=200, ge=1, le=10_000)
    flush_seconds: float = Field(default=1.0, gt=0)
    max_backoff_seconds: float = Field(default=60.0, gt=0)
    spool_max_bytes: int = Field(default=64 << 20, ge=1024)

    @model_validator(mode="after")
    def _target(self) -> SinkSettings:
        if self.type == "file" and self.path is None:
            raise ValueError(f"sink {self.name}: file sinks need a path")
        if self.type == "webhook" and not (self.url or "").startswith(("https://", "http://")):
            raise ValueError(f"sink {self.name}: webhook sinks need an http(s) url")
        return self


class SiemSettings(_Model):
    """SIEM export: sinks and where their cursors and spools live."""

    spool_dir: Path = Path(".bastion-siem")
    sinks: tuple[SinkSettings, ...] = ()


class AnomalySettings(_Model):
    """Per-identity baselines and the detector's thresholds."""

    enabled: bool = True
    bucket_seconds: float = Field(default=60.0, gt=0)
    min_history: int = Field(default=20, ge=3)
    z_threshold: float = Field(default=6.0, gt=0)
    min_burst: int = Field(default=30, ge=1)
    max_addresses: int = Field(default=5, ge=1)
    address_window_seconds: float = Field(default=600.0, gt=0)
    insider_min_requests: int = Field(default=200, ge=1)
    probe_window: int = Field(default=256, ge=8, le=4096)
    probe_epsilon: float = Field(default=0.02, gt=0)
    probe_min_pairs: int = Field(default=20, ge=2)
    extraction_min_rows: int = Field(default=500, ge=1)
    forest_min_buckets: int = Field(default=64, ge=16)
    cooldown_seconds: float = Field(default=300.0, ge=0)


ActionKind = Literal["throttle", "suspend_key", "revoke_key", "quarantine_model", "webhook"]


class ActionSettings(_Model):
    """One response step of a playbook."""

    type: ActionKind
    minutes: float | None = Field(default=None, gt=0)
    limit: str | None = None
    url: str | None = None

    @model_validator(mode="after")
    def _fields(self) -> ActionSettings:
        if self.type == "throttle":
            if self.limit is None:
                raise ValueError("throttle needs a limit such as '1/second'")
            _rate(self.limit)
        if self.type == "webhook" and not (self.url or "").startswith(("https://", "http://")):
            raise ValueError("webhook needs an http(s) url")
        return self


class PlaybookSettings(_Model):
    """When a detection matches, run the actions."""

    name: Annotated[str, Field(pattern=_NAME)]
    detection: str = "*"
    min_severity: str = "high"
    identity: str = "*"
    actions: tuple[ActionSettings, ...] = Field(min_length=1)

    @field_validator("min_severity")
    @classmethod
    def _severity(cls, value: str) -> str:
        Severity.parse(value)
        return value

    def matches(self, detection: str, severity: Severity, identity: str) -> bool:
        """Whether this playbook applies to a detection."""
        return (
            fnmatch.fnmatchcase(detection, self.detection)
            and severity >= Severity.parse(self.min_severity)
            and fnmatch.fnmatchcase(identity, self.identity)
        )


class GatewaySettings(_Model):
    """The whole ``[gateway]`` table."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    instance: Annotated[str, Field(pattern=_NAME)] = "gateway"
    store: str = "sqlite:///bastion-gateway.db"
    store_schema: str | None = None
    redis: str | None = None
    trusted_proxies: tuple[str, ...] = ()
    executor: Literal["thread", "inline"] = "thread"
    workers: int = Field(default=1, ge=1, le=64)
    access_log: bool = False
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    metrics_public: bool = False
    http: HttpSettings = HttpSettings()
    auth: AuthSettings = AuthSettings()
    limits: LimitSettings = LimitSettings()
    roles: dict[str, RoleSettings] = {}
    hardening: dict[str, Hardening] = {}
    default_hardening: Hardening = Hardening()
    models: tuple[ModelSettings, ...] = ()
    audit: AuditSettings = AuditSettings()
    siem: SiemSettings = SiemSettings()
    anomaly: AnomalySettings = AnomalySettings()
    playbooks: tuple[PlaybookSettings, ...] = ()
    base_dir: Path = Path(".")
    policy_file: Path | None = None

    @model_validator(mode="after")
    def _unique(self) -> GatewaySettings:
        names = [m.name for m in self.models]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"model names must be unique: {', '.join(dupes)}")
        if self.redis is not None and not self.redis.startswith(("redis://", "rediss://")):
            raise ValueError("redis must be a redis:// or rediss:// URL")
        if self.workers > 1 and self.redis is None:
            raise ValueError(
                "several workers need redis: in-memory rate limits would hold per process"
            )
        return self

    def path(self, value: Path) -> Path:
        """A configured path, resolved against the config file's folder."""
        return value if value.is_absolute() else (self.base_dir / value)

    def model(self, name: str) -> ModelSettings | None:
        """The settings of one model by name."""
        return next((m for m in self.models if m.name == name), None)


def parse_settings(
    data: dict[str, Any], *, source: str, base_dir: Path, policy_file: Path | None = None
) -> GatewaySettings:
    """Validate a ``[gateway]`` table; errors name the source file and every bad key."""
    try:
        return GatewaySettings.model_validate(
            {**data, "base_dir": base_dir, "policy_file": policy_file}
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"gateway.{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(source, problems) from None


def load_settings(path: Path, *, overrides: dict[str, Any] | None = None) -> GatewaySettings:
    """Read the ``[gateway]`` table of a policy file (``--config gateway.toml``)."""
    loaded = load_config(path)
    table = loaded.sections.get("gateway")
    if not isinstance(table, dict):
        raise ConfigError(str(path), "no [gateway] table")
    data = {**table, **(overrides or {})}
    return parse_settings(data, source=str(path), base_dir=path.absolute().parent, policy_file=path)
