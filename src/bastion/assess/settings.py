"""The validated assessment settings: frozen values the runner and the checks read.

They are built by :func:`bastion.assess.config.parse_assess` from the ``[assess]`` table; paths
are already resolved against the policy file's directory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from bastion.assess.errors import AssessConfigError
from bastion.core import Severity

Check = Literal["robustness", "privacy", "data"]
CHECKS: tuple[Check, ...] = ("robustness", "privacy", "data")
WHITEBOX_ATTACKS = ("fgsm", "pgd", "apgd-ce")
BLACKBOX_ATTACKS = ("square", "rays")
PRIVACY_ATTACKS = ("loss", "confidence", "classifier", "lira")
POISON_METHODS = (
    "cleanlab",
    "knn",
    "duplicates",
    "outliers",
    "spectral",
    "activation-clustering",
    "reclassification",
)


@dataclass(frozen=True)
class DataSpec:
    """Where the data comes from and how to read it (paths already resolved)."""

    train: Path | None
    test: Path | None
    entry: str | None
    train_labels: Path | None = None
    test_labels: Path | None = None
    label: str = "label"
    features: tuple[str, ...] = ()
    x_key: str = "x"
    y_key: str = "y"
    input_shape: tuple[int, ...] | None = None
    bounds: tuple[float, float] | None = None
    image: bool | None = None
    nan_policy: Literal["error", "drop"] = "error"
    max_rows: int = 1_000_000


@dataclass(frozen=True)
class DPStatement:
    """A differential-privacy guarantee: (epsilon, delta) and the mechanism that gave it."""

    epsilon: float
    delta: float
    mechanism: str


@dataclass(frozen=True)
class TargetSpec:
    """One model to assess."""

    name: str
    kind: Literal["torch", "sklearn", "onnx", "http"]
    path: Path | None = None
    entry: str | None = None
    train: str | None = None
    output: Literal["auto", "logits", "proba", "label"] = "auto"
    trusted: tuple[str, ...] = ()
    feature_layer: str | None = None
    url: str | None = None
    query_budget: int = 100_000
    rate: float = 20.0
    timeout_s: float = 10.0
    max_retries: int = 3
    batch_size: int = 64
    request_field: str = "inputs"
    response_field: str = "probabilities"
    headers_from_env: tuple[tuple[str, str], ...] = ()
    dp: DPStatement | None = None
    dp_record: Path | None = None
    data: DataSpec | None = None


@dataclass(frozen=True)
class RobustnessSpec:
    """Which evasion attacks run, at which budgets, judged against which thresholds."""

    attacks: tuple[str, ...] = (*WHITEBOX_ATTACKS, *BLACKBOX_ATTACKS)
    epsilons: tuple[float, ...] = (0.05, 0.1, 0.2, 0.3)
    l2_epsilons: tuple[float, ...] = ()
    steps: int = 10
    restarts: int = 1
    step_size: float | None = None
    apgd_steps: int = 20
    samples: int = 500
    batch_size: int = 256
    max_queries: int = 1000
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    examples: int = 8
    min_clean_accuracy: float | None = None
    min_robust_accuracy: tuple[tuple[float | None, float], ...] = ()
    severity: Severity | None = None

    def robust_threshold(self, epsilon: float) -> float | None:
        """The minimum robust accuracy at ``epsilon`` (an exact entry wins over the default)."""
        default = None
        for eps, value in self.min_robust_accuracy:
            if eps is None:
                default = value
            elif abs(eps - epsilon) <= 1e-9 * max(1.0, abs(eps)):
                return value
        return default


@dataclass(frozen=True)
class PrivacySpec:
    """Membership-inference and inversion settings and thresholds."""

    attacks: tuple[str, ...] = PRIVACY_ATTACKS
    shadow_models: int = 16
    samples: int = 4000
    inversion: bool = True
    inversion_steps: int = 200
    exposed_records: int = 20
    max_auc: float | None = None
    max_tpr_at_1pct_fpr: float | None = None
    max_tpr_at_01pct_fpr: float | None = None
    max_inversion_similarity: float | None = None
    max_exposed_fraction: float | None = None
    max_epsilon: float | None = None
    require_dp: bool = False
    severity: Severity | None = None


@dataclass(frozen=True)
class PoisoningSpec:
    """Training-data screening settings and thresholds."""

    methods: tuple[str, ...] = POISON_METHODS
    folds: int = 5
    neighbors: int = 10
    samples: int = 20_000
    sanitize_dir: Path | None = None
    network_epochs: int = 15
    max_label_issue_rate: float | None = None
    max_poison_rate: float | None = None
    max_conflicting_duplicates: int | None = None
    max_outlier_rate: float | None = None
    fail_on_backdoor: bool = True
    severity: Severity | None = None


@dataclass(frozen=True)
class AssessSettings:
    """The whole validated ``[assess]`` table."""

    data: DataSpec
    targets: tuple[TargetSpec, ...]
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int | None = 1
    report_dir: Path | None = None
    checks: tuple[Check, ...] = CHECKS
    time_budget_s: float | None = None
    robustness: RobustnessSpec = field(default_factory=RobustnessSpec)
    privacy: PrivacySpec = field(default_factory=PrivacySpec)
    poisoning: PoisoningSpec = field(default_factory=PoisoningSpec)
    base_dir: Path = Path(".")
    source: str = "<assess>"

    def target(self, name: str) -> TargetSpec:
        """One target by name."""
        for spec in self.targets:
            if spec.name == name:
                return spec
        known = ", ".join(t.name for t in self.targets)
        raise AssessConfigError(self.source, f"no target named {name!r} (configured: {known})")
