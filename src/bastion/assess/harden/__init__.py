"""Hardening helpers: adversarial training and differentially private training, with before/after.

``harden_adversarial`` retrains a PyTorch target with PGD examples; ``harden_dp`` retrains a
PyTorch target with DP-SGD (Opacus) or a scikit-learn random forest / logistic regression with
bastion's own DP estimators. Both write the new model next to the old one (a ``state_dict`` or a
``.skops`` file, plus a ``.dp.json`` record of the guarantee) and measure the original and the
hardened model on the same held-out data, so the trade-off is visible before anyone ships it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from bastion.assess.config import AssessSettings, DPStatement, PrivacySpec, RobustnessSpec
from bastion.assess.data import AssessData, load_data
from bastion.assess.device import cpu_threads, require_torch
from bastion.assess.entry import load_entry
from bastion.assess.errors import HardenError
from bastion.assess.privacy.evaluate import evaluate_privacy
from bastion.assess.progress import ProgressSink, silent
from bastion.assess.robustness.evaluate import evaluate_robustness
from bastion.assess.targets import Target, load_target

__all__ = ["HardenResult", "harden_adversarial", "harden_dp"]


@dataclass(frozen=True)
class HardenResult:
    """What was written and how the model changed."""

    target: str
    method: str
    outputs: tuple[str, ...]
    before: dict[str, float]
    after: dict[str, float]
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> str:
        """The result as JSON text."""
        return (
            json.dumps(
                {
                    "target": self.target,
                    "method": self.method,
                    "outputs": list(self.outputs),
                    "before": self.before,
                    "after": self.after,
                    "notes": list(self.notes),
                },
                indent=2,
            )
            + "\n"
        )


def _setup(settings: AssessSettings, name: str) -> tuple[AssessData, Target]:
    spec = settings.target(name)
    data = load_data(spec.data or settings.data, settings.base_dir)
    data.holdout()
    target = load_target(spec, data.n_classes, base_dir=settings.base_dir, device=settings.device)
    return data, target


def _robust(
    target: Target,
    data: AssessData,
    epsilon: float,
    samples: int,
    seed: int,
) -> dict[str, float]:
    spec = RobustnessSpec(attacks=("pgd",), epsilons=(epsilon,), samples=samples, examples=0)
    report = evaluate_robustness(
        target, data.holdout(), spec, bounds=data.bounds, image=data.image, seed=seed
    )
    metric = report.attacks[0] if report.attacks else None
    return {
        "clean_accuracy": report.clean_accuracy,
        f"pgd_robust_accuracy@{epsilon:g}": metric.robust_accuracy if metric else 0.0,
    }


def _leakage(target: Target, data: AssessData, seed: int, shadows: int) -> dict[str, float]:
    attacks = ("loss", "classifier", "lira") if target.trainer() else ("loss", "classifier")
    spec = PrivacySpec(attacks=attacks, shadow_models=shadows, inversion=False)
    report = evaluate_privacy(target, data, spec, seed=seed)
    out = {"train_accuracy": report.train_accuracy, "test_accuracy": report.test_accuracy}
    for result in report.attacks:
        out[f"{result.attack}_auc"] = result.summary.auc
        out[f"{result.attack}_tpr_at_1pct_fpr"] = result.summary.tpr_at_1pct_fpr
    return out


def harden_adversarial(
    settings: AssessSettings,
    target_name: str,
    output: Path,
    *,
    epsilon: float,
    epochs: int = 10,
    steps: int = 7,
    samples: int = 300,
    progress: ProgressSink = silent,
) -> HardenResult:
    """PGD adversarial training of a PyTorch target; compares PGD robust accuracy at ε."""
    from bastion.assess.harden.adversarial import AdversarialTraining, adversarial_train

    require_torch("adversarial training")
    import torch

    spec = settings.target(target_name)
    if spec.kind != "torch" or not spec.entry:
        raise HardenError(
            f"adversarial training needs a torch target, {target_name!r} is {spec.kind}"
        )
    with cpu_threads(settings.threads):
        data, target = _setup(settings, target_name)
        before = _robust(target, data, epsilon, samples, settings.seed)
        builder = load_entry(spec.entry, settings.base_dir, what=f"targets.{target_name}.entry")
        config = AdversarialTraining(
            epsilon=epsilon, epochs=epochs, steps=steps, bounds=data.bounds, seed=settings.seed
        )
        module = adversarial_train(builder, data.train.x, data.train.y, config, progress=progress)
        output.parent.mkdir(parents=True, exist_ok=True)
        torch.save(module.state_dict(), output)
        hardened = load_target(
            replace(spec, path=output, dp=None, dp_record=None),
            data.n_classes,
            base_dir=settings.base_dir,
            device=settings.device,
        )
        after = _robust(hardened, data, epsilon, samples, settings.seed)
    return HardenResult(
        target_name,
        f"PGD adversarial training (ε={epsilon:g}, {steps} steps, {epochs} epochs)",
        (str(output),),
        before,
        after,
    )


def _write_record(output: Path, epsilon: float, delta: float, mechanism: str) -> Path:
    record = output.with_name(output.name + ".dp.json")
    record.write_text(
        json.dumps({"epsilon": epsilon, "delta": delta, "mechanism": mechanism}, indent=2) + "\n",
        encoding="utf-8",
    )
    return record


def harden_dp(
    settings: AssessSettings,
    target_name: str,
    output: Path,
    *,
    epsilon: float,
    delta: float = 1e-5,
    epochs: int = 10,
    shadows: int = 8,
    progress: ProgressSink = silent,
) -> HardenResult:
    """Differentially private retraining; compares utility and membership leakage."""
    spec = settings.target(target_name)
    notes: list[str] = []
    with cpu_threads(settings.threads):
        data, target = _setup(settings, target_name)
        before = _leakage(target, data, settings.seed, shadows)
        output.parent.mkdir(parents=True, exist_ok=True)
        if spec.kind == "torch":
            require_torch("DP-SGD")
            import torch

            from bastion.assess.harden.dp_torch import DPTraining, dp_train

            assert spec.entry is not None
            builder = load_entry(spec.entry, settings.base_dir, what=f"targets.{target_name}.entry")
            module, statement = dp_train(
                builder,
                data.train.x,
                data.train.y,
                DPTraining(epsilon=epsilon, delta=delta, epochs=epochs, seed=settings.seed),
                progress=progress,
            )
            torch.save(module.state_dict(), output)
            notes.append("LiRA is not run on the DP model: its shadow recipe would not be DP")
        elif spec.kind == "sklearn":
            statement = _dp_sklearn(settings, target, data, output, epsilon, delta)
        else:
            raise HardenError(f"DP training needs a torch or sklearn target, not {spec.kind}")
        record = _write_record(output, statement.epsilon, statement.delta, statement.mechanism)
        hardened_spec = replace(
            spec,
            path=output,
            dp=statement,
            dp_record=None,
            train=None if spec.kind == "torch" else spec.train,
        )
        hardened = load_target(
            hardened_spec, data.n_classes, base_dir=settings.base_dir, device=settings.device
        )
        after = _leakage(hardened, data, settings.seed, shadows)
    after["epsilon"] = statement.epsilon
    return HardenResult(
        target_name, statement.mechanism, (str(output), str(record)), before, after, tuple(notes)
    )


def _dp_sklearn(
    settings: AssessSettings,
    target: Target,
    data: AssessData,
    output: Path,
    epsilon: float,
    delta: float,
) -> DPStatement:
    """Fit bastion's DP counterpart of a forest or logistic regression and save it (skops)."""
    import skops.io as sio
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    from bastion.assess.harden.dp_forest import DPRandomForestClassifier
    from bastion.assess.harden.dp_linear import DPLogisticRegression

    if settings.data.bounds is None:
        raise HardenError(
            "set [assess.data] bounds: bounds computed from the private data would break the "
            "differential-privacy guarantee"
        )
    estimator = getattr(target, "estimator", None)
    classes = list(range(data.n_classes))
    lo, hi = settings.data.bounds
    x = data.train.flat()
    if isinstance(estimator, RandomForestClassifier):
        model = DPRandomForestClassifier(
            epsilon=epsilon,
            n_estimators=10,
            max_depth=5,
            bounds=(lo, hi),
            classes=classes,
            random_state=settings.seed,
        ).fit(x, data.train.y)
        statement = DPStatement(
            epsilon,
            0.0,
            "bastion DP random forest (random trees, Laplace leaf counts, parallel composition)",
        )
    elif isinstance(estimator, LogisticRegression):
        norm = float(max(abs(lo), abs(hi)) * x.shape[1] ** 0.5)
        model = DPLogisticRegression(
            epsilon=epsilon,
            delta=delta,
            data_norm=norm,
            classes=classes,
            random_state=settings.seed,
        ).fit(x, data.train.y)
        statement = DPStatement(
            epsilon,
            delta,
            "bastion DP logistic regression (output perturbation, analytic Gaussian mechanism)",
        )
    else:
        raise HardenError(
            f"no DP version of {type(estimator).__name__}: use a random forest or "
            "logistic regression"
        )
    sio.dump(model, output)
    return statement
