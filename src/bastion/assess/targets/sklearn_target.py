"""scikit-learn targets: an estimator read through skops (never pickle) or built by an entry point.

Before a ``.skops`` file is loaded, its types are audited with ``skops.io.get_untrusted_types``:
scikit-learn and NumPy types are accepted, anything else must be listed in the target's
``trusted`` setting, otherwise loading stops with the list. Inputs are flattened to ``(n, d)``.
Shadow models are ``sklearn.base.clone`` copies fitted on the shadow data, so the likelihood-ratio
attack uses exactly the target's hyper-parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bastion.assess.errors import TargetError
from bastion.assess.targets.interface import NDArray, Target, Trainer, align_columns
from bastion.errors import MissingDependencyError

#: Types loaded without asking: scikit-learn, NumPy, SciPy sparse and bastion's own DP models.
SAFE_PREFIXES = ("sklearn.", "numpy.", "scipy.sparse.", "bastion.assess.harden.")


def load_skops(path: Path, trusted: tuple[str, ...], target: str) -> Any:
    """Load a ``.skops`` file after checking every type it would instantiate."""
    try:
        import skops.io as sio
    except ImportError:
        raise MissingDependencyError("skops", "assess", f"loading {path}") from None
    if not path.is_file():
        raise TargetError(target, f"{path}: model file not found")
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:
        raise TargetError(target, f"{path}: not a readable skops file: {exc}") from exc
    refused = [t for t in untrusted if not t.startswith(SAFE_PREFIXES) and t not in trusted]
    if refused:
        raise TargetError(
            target,
            f"{path}: refusing types that are neither scikit-learn nor NumPy: {refused}; "
            "review them and list them in the target's trusted = [...] to load anyway",
        )
    try:
        return sio.load(path, trusted=list(untrusted))
    except Exception as exc:
        raise TargetError(target, f"{path}: cannot load: {type(exc).__name__}: {exc}") from exc


class SklearnTarget(Target):
    """A fitted scikit-learn classifier."""

    def __init__(self, name: str, estimator: Any, n_classes: int) -> None:
        super().__init__(name, n_classes)
        if not hasattr(estimator, "predict"):
            raise TargetError(name, f"{type(estimator).__name__} has no predict()")
        self.estimator = estimator
        self.reveals = "proba" if hasattr(estimator, "predict_proba") else "label"
        classes = getattr(estimator, "classes_", None)
        self._classes = None if classes is None else list(classes)

    def _proba(self, x: NDArray) -> NDArray:
        flat = x.reshape(len(x), -1)
        if self.reveals == "label":
            labels = self._labels(x)
            return np.eye(self.n_classes)[labels]
        proba = np.asarray(self.estimator.predict_proba(flat), dtype=np.float64)
        return align_columns(proba, self._classes, self.n_classes, self.name)

    def _labels(self, x: NDArray) -> NDArray:
        pred = np.asarray(self.estimator.predict(x.reshape(len(x), -1)))
        try:
            return pred.astype(np.int64)
        except (TypeError, ValueError):
            raise TargetError(self.name, "the estimator predicts non-integer labels") from None

    def features(self, x: NDArray) -> NDArray | None:
        """Last hidden layer of an ``MLPClassifier`` (computed from its weights)."""
        coefs = getattr(self.estimator, "coefs_", None)
        intercepts = getattr(self.estimator, "intercepts_", None)
        if coefs is None or intercepts is None or len(coefs) < 2:
            return None
        activation = getattr(self.estimator, "activation", "relu")
        functions: dict[str, Callable[[NDArray], NDArray]] = {
            "relu": lambda a: np.maximum(a, 0),
            "tanh": lambda a: np.tanh(a),
            "logistic": lambda a: 1 / (1 + np.exp(-a)),
            "identity": lambda a: a,
        }
        act = functions[activation]
        h = x.reshape(len(x), -1).astype(np.float64)
        for w, b in zip(coefs[:-1], intercepts[:-1], strict=True):
            h = act(h @ w + b)
        return h

    def trainer(self) -> Trainer | None:
        """Clones of the estimator (same hyper-parameters), fitted with a new seed."""
        from sklearn.base import clone

        def train(x: NDArray, y: NDArray, seed: int) -> Target:
            model = clone(self.estimator)
            if "random_state" in model.get_params():
                model.set_params(random_state=seed)
            model.fit(x.reshape(len(x), -1), y)
            return SklearnTarget(f"{self.name}-shadow", model, self.n_classes)

        return train

    def describe(self) -> dict[str, object]:
        """Estimator class and hyper-parameters."""
        params = {k: repr(v) for k, v in sorted(self.estimator.get_params(deep=False).items())}
        return {**super().describe(), "estimator": type(self.estimator).__name__, "params": params}
