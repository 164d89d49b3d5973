"""Differentially private logistic regression by output perturbation.

Rows are clipped into the unit ball using a *public* norm bound (a constant feature carries the
intercept), an L2-regularised multinomial logistic model is fitted, and the whole weight matrix
gets Gaussian noise. The softmax cross-entropy is √2-Lipschitz in the weights when ‖x‖ ≤ 1, so
the regularised minimiser moves by at most Δ = 2√2 / (nλ) when one row changes (Chaudhuri et
al., 2011); the noise scale comes from the analytic Gaussian mechanism (Balle & Wang, 2018),
which is exact for any ε: the model is (ε, δ)-differentially private. bastion's own
implementation, since diffprivlib does not run on scikit-learn ≥ 1.8.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from bastion.assess.errors import HardenError
from bastion.assess.targets.interface import NDArray


def analytic_gaussian_sigma(epsilon: float, delta: float, sensitivity: float) -> float:
    """The smallest σ for which N(0, σ²) noise gives (ε, δ)-DP at L2 sensitivity Δ."""
    from scipy.special import log_ndtr, ndtr

    def excess(sigma: float) -> float:
        a = sensitivity / (2 * sigma)
        b = epsilon * sigma / sensitivity
        return float(ndtr(a - b) - math.exp(epsilon + log_ndtr(-a - b)) - delta)

    lo, hi = 1e-12 * sensitivity, sensitivity
    while excess(hi) > 0:
        hi *= 2
    for _ in range(200):
        mid = (lo + hi) / 2
        if excess(mid) > 0:
            lo = mid
        else:
            hi = mid
    return hi


class DPLogisticRegression(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """(ε, δ)-DP multinomial logistic regression (output perturbation, Gaussian noise)."""

    def __init__(
        self,
        epsilon: float = 1.0,
        delta: float = 1e-5,
        data_norm: float = 1.0,
        regularization: float = 0.01,
        classes: list[int] | None = None,
        random_state: int | None = None,
    ) -> None:
        self.epsilon = epsilon
        self.delta = delta
        self.data_norm = data_norm
        self.regularization = regularization
        self.classes = classes
        self.random_state = random_state

    def _scale(self, x: NDArray) -> NDArray:
        flat = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
        norms = np.linalg.norm(flat, axis=1, keepdims=True)
        flat = flat / np.maximum(norms / self.data_norm, 1.0)  # clip to the public bound
        scaled = flat / (self.data_norm * math.sqrt(2))
        return np.hstack([scaled, np.full((len(flat), 1), 1 / math.sqrt(2))])

    def fit(self, x: NDArray, y: NDArray) -> DPLogisticRegression:
        """Fit the regularised model, then add calibrated Gaussian noise to its weights."""
        from sklearn.linear_model import LogisticRegression

        if self.epsilon <= 0 or not 0 < self.delta < 1 or self.regularization <= 0:
            raise HardenError("epsilon and regularization must be positive, delta in (0, 1)")
        rng = np.random.default_rng(self.random_state)
        z = self._scale(x)
        y = np.asarray(y)
        self.classes_ = np.asarray(self.classes if self.classes is not None else np.unique(y))
        index = {c: i for i, c in enumerate(self.classes_.tolist())}
        codes = np.array([index[v] for v in y.tolist()])
        n, d = z.shape
        k = len(self.classes_)
        weights = np.zeros((k, d))
        model = LogisticRegression(
            C=1.0 / (n * self.regularization), fit_intercept=False, max_iter=5000, tol=1e-8
        )
        model.fit(z, codes)
        if k == 2:
            weights[1] = model.coef_[0] / 2
            weights[0] = -model.coef_[0] / 2
        else:
            weights[model.classes_] = model.coef_
        sensitivity = 2 * math.sqrt(2) / (n * self.regularization)
        self.noise_scale_ = analytic_gaussian_sigma(self.epsilon, self.delta, sensitivity)
        self.coef_ = weights + rng.normal(0.0, self.noise_scale_, size=weights.shape)
        return self

    def decision_function(self, x: NDArray) -> NDArray:
        """Class scores."""
        return np.asarray(self._scale(x) @ self.coef_.T)

    def predict_proba(self, x: NDArray) -> NDArray:
        """Softmax of the scores."""
        s = self.decision_function(x)
        e = np.exp(s - s.max(axis=1, keepdims=True))
        return np.asarray(e / e.sum(axis=1, keepdims=True))

    def predict(self, x: NDArray) -> NDArray:
        """The class with the highest score."""
        return np.asarray(self.classes_[self.decision_function(x).argmax(axis=1)])
