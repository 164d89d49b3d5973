"""The ``[posture]`` table of the policy file: gate, tolerances, metric directions, inputs.

Example (paths are relative to the policy file)::

    [posture]
    fail_on = "low"                     # lowest deviation severity that fails the check
    tolerance = 0.02                    # absolute slack before a metric counts as worse
    trusted_keys = ["keys/release.pub"] # who may re-sign a changed model (default: [deploy])
    datasets = { train = "data/train" } # dataset folders whose digests are part of the posture
    lockfiles = ["requirements.txt"]    # default: the project's own (bastion.scan.deps)
    higher_is_better = ["*/my_score"]   # metric names (globs) where up is good
    lower_is_better = ["*/my_leak"]

    [posture.tolerances]
    "BST-APR-*" = 0.01                  # per-metric tolerance (globs, first match wins)
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bastion.config import LoadedConfig
from bastion.core import Severity
from bastion.errors import ConfigError

#: Metric name fragments where a *lower* value is better (checked before the higher ones:
#: "attack accuracy" of a membership attack is leakage, not utility).
LOWER_IS_BETTER = (
    "*attack*",
    "*success*",
    "*auc*",
    "*advantage*",
    "*tpr*",
    "*fpr*",
    "*leak*",
    "*exposure*",
    "*membership*",
    "*inversion*",
    "*epsilon_spent*",
    "*suspicious*",
    "*noise*",
    "*duplicate*",
    "*outlier*",
    "*backdoor*",
    "*rate*",
)
#: Metric name fragments where a *higher* value is better.
HIGHER_IS_BETTER = ("*accuracy*", "*robust*", "*f1*", "*precision*", "*recall*", "*utility*")
#: Utility measured next to an attack (in privacy results everything else is the attack's).
UTILITY = (
    "*clean_accuracy*",
    "*test_accuracy*",
    "*model_accuracy*",
    "*train_accuracy*",
    "*utility*",
)
#: Rule families whose numbers all measure an attack or a defect unless they are utility:
#: privacy (membership, inversion: AUC, balanced accuracy, TPR…) and training-data screening.
ATTACK_FAMILIES = ("bst-apr-*", "bst-apd-*")


class _PostureTable(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    fail_on: str = "low"
    tolerance: float = Field(default=0.02, ge=0)
    tolerances: dict[str, float] = {}
    trusted_keys: list[str] | None = None
    datasets: dict[str, str] = {}
    lockfiles: list[str] | None = None
    higher_is_better: list[str] = []
    lower_is_better: list[str] = []


@dataclass(frozen=True)
class PostureSettings:
    """Validated ``[posture]`` settings, paths resolved."""

    fail_on: Severity = Severity.LOW
    tolerance: float = 0.02
    tolerances: Mapping[str, float] = field(default_factory=dict)
    trusted_keys: tuple[Path, ...] = ()
    datasets: Mapping[str, Path] = field(default_factory=dict)
    lockfiles: tuple[Path, ...] | None = None
    higher_is_better: tuple[str, ...] = ()
    lower_is_better: tuple[str, ...] = ()

    def tolerance_for(self, metric: str) -> float:
        """The tolerance of one metric (first matching glob, else the default)."""
        for pattern, value in self.tolerances.items():
            if fnmatch.fnmatchcase(metric, pattern):
                return value
        return self.tolerance

    def direction(self, metric: str) -> int:
        """+1 when higher is better, -1 when lower is better, 0 when unknown."""
        lowered = metric.lower()
        for patterns, sign in ((self.higher_is_better, 1), (self.lower_is_better, -1)):
            if any(fnmatch.fnmatchcase(metric, p) for p in patterns):
                return sign
        if any(fnmatch.fnmatchcase(lowered, f) for f in ATTACK_FAMILIES):
            return 1 if any(fnmatch.fnmatchcase(lowered, p) for p in UTILITY) else -1
        leaf = lowered.rsplit("/", 1)[-1] if "/" in lowered else lowered
        for name in (leaf, lowered):
            if any(fnmatch.fnmatchcase(name, p) for p in LOWER_IS_BETTER):
                return -1
            if any(fnmatch.fnmatchcase(name, p) for p in HIGHER_IS_BETTER):
                return 1
        return 0

    @classmethod
    def from_config(cls, loaded: LoadedConfig) -> PostureSettings:
        """Read ``[posture]`` (defaults when absent); ``[deploy] trusted_keys`` as fallback."""
        source = str(loaded.path) if loaded.path else "(defaults)"
        base = loaded.path.parent if loaded.path else Path.cwd()
        raw = loaded.sections.get("posture", {})
        if not isinstance(raw, dict):
            raise ConfigError(source, "[posture] must be a table")
        try:
            model = _PostureTable.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"posture.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise ConfigError(source, problems) from None
        try:
            fail_on = Severity.parse(model.fail_on)
        except ValueError as exc:
            raise ConfigError(source, f"posture.fail_on: {exc}") from None
        keys = model.trusted_keys
        if keys is None:
            deploy = loaded.sections.get("deploy")
            found = deploy.get("trusted_keys") if isinstance(deploy, dict) else None
            keys = [k for k in found if isinstance(k, str)] if isinstance(found, list) else []

        def resolve(value: str) -> Path:
            path = Path(value).expanduser()
            return path if path.is_absolute() else base / path

        return cls(
            fail_on=fail_on,
            tolerance=model.tolerance,
            tolerances=dict(model.tolerances),
            trusted_keys=tuple(resolve(k) for k in keys),
            datasets={name: resolve(p) for name, p in model.datasets.items()},
            lockfiles=tuple(resolve(p) for p in model.lockfiles)
            if model.lockfiles is not None
            else None,
            higher_is_better=tuple(model.higher_is_better),
            lower_is_better=tuple(model.lower_is_better),
        )
