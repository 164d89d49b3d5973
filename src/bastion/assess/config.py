"""The ``[assess]`` table of the policy file, validated with pydantic into frozen settings.

``bastion.config.load_config`` keeps the table raw in ``sections["assess"]``; this module checks
it (unknown keys, wrong types and impossible values are a :class:`AssessConfigError` naming the
file and the key) and turns it into :class:`AssessSettings`, which the runner reads. Relative
paths are resolved against the directory of the policy file, so ``bastion assess`` runs with no
flags from anywhere in the project.

Example ``bastion.toml``::

    [assess]
    seed = 0
    report_dir = "assess-report"

    [assess.data]
    train = "data/train.npz"      # the training set (membership "members")
    test = "data/test.npz"        # held-out records
    input_shape = [1, 8, 8]

    [assess.targets.cnn]
    kind = "torch"
    entry = "model:build_cnn"     # module:function that builds the nn.Module
    path = "models/cnn.pt"        # state_dict, loaded with weights_only=True
    train = "model:train_cnn"     # training recipe for shadow models (optional)

    [assess.robustness]
    epsilons = [0.05, 0.1, 0.2]
    min_robust_accuracy = 0.5

    [assess.privacy]
    max_auc = 0.6
    max_tpr_at_1pct_fpr = 0.05
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bastion.assess.errors import AssessConfigError
from bastion.assess.settings import (
    BLACKBOX_ATTACKS,
    CHECKS,
    POISON_METHODS,
    PRIVACY_ATTACKS,
    WHITEBOX_ATTACKS,
    AssessSettings,
    Check,
    DataSpec,
    DPStatement,
    PoisoningSpec,
    PrivacySpec,
    RobustnessSpec,
    TargetSpec,
)
from bastion.core import Severity

__all__ = [
    "BLACKBOX_ATTACKS",
    "CHECKS",
    "POISON_METHODS",
    "PRIVACY_ATTACKS",
    "WHITEBOX_ATTACKS",
    "AssessSettings",
    "Check",
    "DPStatement",
    "DataSpec",
    "PoisoningSpec",
    "PrivacySpec",
    "RobustnessSpec",
    "TargetSpec",
    "parse_assess",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_severity(value: str | None) -> str | None:
    if value is not None:
        Severity.parse(value)
    return value


def _known_names(what: str, known: Sequence[str]) -> Callable[[list[str]], list[str]]:
    """A validator refusing names outside ``known`` (attacks, methods), listing both."""

    def check(value: list[str]) -> list[str]:
        unknown = [name for name in value if name not in known]
        if unknown:
            raise ValueError(f"unknown {what}(s) {unknown}; known: {list(known)}")
        return value

    return check


class _DataModel(_Strict):
    train: str | None = None
    test: str | None = None
    train_labels: str | None = None
    test_labels: str | None = None
    entry: str | None = None
    label: str = "label"
    features: list[str] = []
    x_key: str = "x"
    y_key: str = "y"
    input_shape: list[int] | None = None
    bounds: tuple[float, float] | None = None
    image: bool | None = None
    nan_policy: Literal["error", "drop"] = "error"
    max_rows: int = Field(default=1_000_000, gt=0)

    @model_validator(mode="after")
    def _one_source(self) -> _DataModel:
        if self.entry is None and self.train is None:
            raise ValueError("name the training data: train = 'file' or entry = 'module:function'")
        if self.bounds is not None and not self.bounds[0] < self.bounds[1]:
            raise ValueError("bounds must be [low, high] with low < high")
        if self.input_shape is not None and any(d <= 0 for d in self.input_shape):
            raise ValueError("input_shape dimensions must be positive")
        return self


class _DPModel(_Strict):
    epsilon: float = Field(gt=0)
    delta: float = Field(default=0.0, ge=0, lt=1)
    mechanism: str = "declared"


class _TargetModel(_Strict):
    kind: Literal["torch", "sklearn", "onnx", "http"]
    path: str | None = None
    entry: str | None = None
    train: str | None = None
    output: Literal["auto", "logits", "proba", "label"] = "auto"
    trusted: list[str] = []
    feature_layer: str | None = None
    url: str | None = None
    query_budget: int = Field(default=100_000, gt=0)
    rate: float = Field(default=20.0, gt=0)
    timeout_s: float = Field(default=10.0, gt=0)
    max_retries: int = Field(default=3, ge=0, le=20)
    batch_size: int = Field(default=64, gt=0)
    request_field: str = "inputs"
    response_field: str = "probabilities"
    headers_from_env: dict[str, str] = {}
    dp: _DPModel | None = None
    dp_record: str | None = None
    data: _DataModel | None = None

    @model_validator(mode="after")
    def _complete(self) -> _TargetModel:
        if self.kind == "http" and not self.url:
            raise ValueError("an http target needs url")
        if self.kind == "http" and not self.url.startswith(("http://", "https://")):  # type: ignore[union-attr]
            raise ValueError("url must start with http:// or https://")
        if self.kind == "torch" and not self.entry:
            raise ValueError(
                "a torch target needs entry = 'module:function' that builds the module"
            )
        if self.kind == "onnx" and not self.path:
            raise ValueError("an onnx target needs path")
        if self.kind == "sklearn" and not (self.path or self.entry):
            raise ValueError("a sklearn target needs path (a .skops file) or entry")
        return self


class _RobustnessModel(_Strict):
    attacks: list[str] = [*WHITEBOX_ATTACKS, *BLACKBOX_ATTACKS]
    epsilons: list[float] = [0.05, 0.1, 0.2, 0.3]
    l2_epsilons: list[float] = []
    steps: int = Field(default=10, gt=0, le=10_000)
    restarts: int = Field(default=1, gt=0, le=100)
    step_size: float | None = Field(default=None, gt=0)
    apgd_steps: int = Field(default=20, gt=0, le=10_000)
    samples: int = Field(default=500, gt=0)
    batch_size: int = Field(default=256, gt=0)
    max_queries: int = Field(default=1000, gt=0)
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    examples: int = Field(default=8, ge=0, le=64)
    min_clean_accuracy: float | None = Field(default=None, ge=0, le=1)
    min_robust_accuracy: float | dict[str, float] | None = None
    severity: str | None = None

    _sev = field_validator("severity")(_check_severity)

    _known = field_validator("attacks")(
        _known_names("attack", (*WHITEBOX_ATTACKS, *BLACKBOX_ATTACKS))
    )

    @field_validator("epsilons", "l2_epsilons")
    @classmethod
    def _positive(cls, value: list[float]) -> list[float]:
        if any(e <= 0 for e in value):
            raise ValueError("epsilons must be positive")
        return sorted(set(value))


class _PrivacyModel(_Strict):
    attacks: list[str] = list(PRIVACY_ATTACKS)
    shadow_models: int = Field(default=16, ge=2, le=1024)
    samples: int = Field(default=4000, gt=0)
    inversion: bool = True
    inversion_steps: int = Field(default=200, gt=0)
    exposed_records: int = Field(default=20, ge=0)
    max_auc: float | None = Field(default=None, ge=0, le=1)
    max_tpr_at_1pct_fpr: float | None = Field(default=None, ge=0, le=1)
    max_tpr_at_01pct_fpr: float | None = Field(default=None, ge=0, le=1)
    max_inversion_similarity: float | None = Field(default=None, ge=-1, le=1)
    max_exposed_fraction: float | None = Field(default=None, ge=0, le=1)
    max_epsilon: float | None = Field(default=None, gt=0)
    require_dp: bool = False
    severity: str | None = None

    _sev = field_validator("severity")(_check_severity)

    _known = field_validator("attacks")(_known_names("attack", tuple(PRIVACY_ATTACKS)))


class _PoisoningModel(_Strict):
    methods: list[str] = list(POISON_METHODS)
    folds: int = Field(default=5, ge=2, le=20)
    neighbors: int = Field(default=10, ge=1, le=100)
    samples: int = Field(default=20_000, gt=0)
    sanitize_dir: str | None = None
    network_epochs: int = Field(default=15, gt=0, le=1000)
    max_label_issue_rate: float | None = Field(default=None, ge=0, le=1)
    max_poison_rate: float | None = Field(default=None, ge=0, le=1)
    max_conflicting_duplicates: int | None = Field(default=None, ge=0)
    max_outlier_rate: float | None = Field(default=None, ge=0, le=1)
    fail_on_backdoor: bool = True
    severity: str | None = None

    _sev = field_validator("severity")(_check_severity)

    _known = field_validator("methods")(_known_names("method", tuple(POISON_METHODS)))


class _AssessModel(_Strict):
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int | None = Field(default=1, ge=1, le=1024)
    report_dir: str | None = "assess-report"
    checks: list[Check] = list(CHECKS)
    time_budget_s: float | None = Field(default=None, gt=0)
    data: _DataModel
    targets: dict[str, _TargetModel] = {}
    robustness: _RobustnessModel = _RobustnessModel()
    privacy: _PrivacyModel = _PrivacyModel()
    poisoning: _PoisoningModel = _PoisoningModel()


def _path(base: Path, value: str | None) -> Path | None:
    if value is None:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _data(model: _DataModel, base: Path) -> DataSpec:
    return DataSpec(
        train=_path(base, model.train),
        test=_path(base, model.test),
        entry=model.entry,
        train_labels=_path(base, model.train_labels),
        test_labels=_path(base, model.test_labels),
        label=model.label,
        features=tuple(model.features),
        x_key=model.x_key,
        y_key=model.y_key,
        input_shape=tuple(model.input_shape) if model.input_shape else None,
        bounds=model.bounds,
        image=model.image,
        nan_policy=model.nan_policy,
        max_rows=model.max_rows,
    )


def _robust_thresholds(
    value: float | dict[str, float] | None, source: str
) -> tuple[tuple[float | None, float], ...]:
    if value is None:
        return ()
    if isinstance(value, int | float):
        return ((None, float(value)),)
    items: list[tuple[float | None, float]] = []
    for key, threshold in value.items():
        try:
            eps: float | None = None if key == "default" else float(key)
        except ValueError:
            raise AssessConfigError(
                source, f"robustness.min_robust_accuracy: key {key!r} is not an epsilon"
            ) from None
        if not 0 <= threshold <= 1:
            raise AssessConfigError(
                source, "robustness.min_robust_accuracy values must be in [0, 1]"
            )
        items.append((eps, float(threshold)))
    return tuple(items)


def _severity(value: str | None) -> Severity | None:
    return Severity.parse(value) if value is not None else None


def parse_assess(raw: Any, *, source: str, base_dir: Path) -> AssessSettings:
    """Validate the raw ``[assess]`` table and resolve its paths against ``base_dir``."""
    if not isinstance(raw, dict):
        raise AssessConfigError(source, "must be a table")
    try:
        model = _AssessModel.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise AssessConfigError(source, problems) from None
    targets = tuple(
        TargetSpec(
            name=name,
            kind=t.kind,
            path=_path(base_dir, t.path),
            entry=t.entry,
            train=t.train,
            output=t.output,
            trusted=tuple(t.trusted),
            feature_layer=t.feature_layer,
            url=t.url,
            query_budget=t.query_budget,
            rate=t.rate,
            timeout_s=t.timeout_s,
            max_retries=t.max_retries,
            batch_size=t.batch_size,
            request_field=t.request_field,
            response_field=t.response_field,
            headers_from_env=tuple(sorted(t.headers_from_env.items())),
            dp=DPStatement(t.dp.epsilon, t.dp.delta, t.dp.mechanism) if t.dp else None,
            dp_record=_path(base_dir, t.dp_record),
            data=_data(t.data, base_dir) if t.data else None,
        )
        for name, t in sorted(model.targets.items())
    )
    r, p, d = model.robustness, model.privacy, model.poisoning
    return AssessSettings(
        data=_data(model.data, base_dir),
        targets=targets,
        seed=model.seed,
        device=model.device,
        threads=model.threads,
        report_dir=_path(base_dir, model.report_dir),
        checks=tuple(dict.fromkeys(model.checks)),
        time_budget_s=model.time_budget_s,
        robustness=RobustnessSpec(
            attacks=tuple(dict.fromkeys(r.attacks)),
            epsilons=tuple(r.epsilons),
            l2_epsilons=tuple(r.l2_epsilons),
            steps=r.steps,
            restarts=r.restarts,
            step_size=r.step_size,
            apgd_steps=r.apgd_steps,
            samples=r.samples,
            batch_size=r.batch_size,
            max_queries=r.max_queries,
            precision=r.precision,
            examples=r.examples,
            min_clean_accuracy=r.min_clean_accuracy,
            min_robust_accuracy=_robust_thresholds(r.min_robust_accuracy, source),
            severity=_severity(r.severity),
        ),
        privacy=PrivacySpec(
            attacks=tuple(dict.fromkeys(p.attacks)),
            shadow_models=p.shadow_models,
            samples=p.samples,
            inversion=p.inversion,
            inversion_steps=p.inversion_steps,
            exposed_records=p.exposed_records,
            max_auc=p.max_auc,
            max_tpr_at_1pct_fpr=p.max_tpr_at_1pct_fpr,
            max_tpr_at_01pct_fpr=p.max_tpr_at_01pct_fpr,
            max_inversion_similarity=p.max_inversion_similarity,
            max_exposed_fraction=p.max_exposed_fraction,
            max_epsilon=p.max_epsilon,
            require_dp=p.require_dp,
            severity=_severity(p.severity),
        ),
        poisoning=PoisoningSpec(
            methods=tuple(dict.fromkeys(d.methods)),
            folds=d.folds,
            neighbors=d.neighbors,
            samples=d.samples,
            sanitize_dir=_path(base_dir, d.sanitize_dir),
            network_epochs=d.network_epochs,
            max_label_issue_rate=d.max_label_issue_rate,
            max_poison_rate=d.max_poison_rate,
            max_conflicting_duplicates=d.max_conflicting_duplicates,
            max_outlier_rate=d.max_outlier_rate,
            fail_on_backdoor=d.fail_on_backdoor,
            severity=_severity(d.severity),
        ),
        base_dir=base_dir,
        source=source,
    )
