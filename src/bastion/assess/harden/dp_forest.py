"""A differentially private random forest (bastion's own; diffprivlib does not run on
scikit-learn ≥ 1.8).

The trees are random and data-independent (Fletcher & Islam, 2017; the approach of IBM's
diffprivlib): every node splits on a random feature at a random threshold inside the node's
box, which comes from the *public* feature bounds. The training rows are split into disjoint
parts, one per tree, and each leaf's class counts get Laplace(1/ε) noise. A row is in one tree
and one leaf of it, so by parallel composition the whole forest is ε-differentially private
(δ = 0). A leaf predicts its noisy majority class; the forest averages the trees' votes.

The bounds must not be computed from the private data, or the guarantee does not hold: pass
them (the ``[assess.data]`` bounds), as diffprivlib requires too.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from bastion.assess.errors import HardenError
from bastion.assess.targets.interface import NDArray


class DPRandomForestClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """ε-DP random forest with random splits and Laplace-noised leaf counts."""

    def __init__(
        self,
        epsilon: float = 1.0,
        n_estimators: int = 10,
        max_depth: int = 5,
        bounds: tuple[float, float] = (0.0, 1.0),
        classes: list[int] | None = None,
        random_state: int | None = None,
    ) -> None:
        self.epsilon = epsilon
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.bounds = bounds
        self.classes = classes
        self.random_state = random_state

    def fit(self, x: NDArray, y: NDArray) -> DPRandomForestClassifier:
        """Grow random trees, then fill their leaves with noisy counts of disjoint row parts."""
        if self.epsilon <= 0:
            raise HardenError("epsilon must be positive")
        x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
        y = np.asarray(y)
        rng = np.random.default_rng(self.random_state)
        self.classes_ = np.asarray(self.classes if self.classes is not None else np.unique(y))
        index = {c: i for i, c in enumerate(self.classes_.tolist())}
        codes = np.array([index.get(v, -1) for v in y.tolist()])
        if (codes < 0).any():
            raise HardenError("labels outside the declared classes")
        d, k = x.shape[1], len(self.classes_)
        lo, hi = self.bounds
        nodes = 2**self.max_depth - 1
        self.features_ = rng.integers(0, d, size=(self.n_estimators, nodes))
        self.thresholds_ = np.zeros((self.n_estimators, nodes))
        for t in range(self.n_estimators):
            low = np.full((nodes, d), lo, dtype=np.float64)
            high = np.full((nodes, d), hi, dtype=np.float64)
            for node in range(nodes):
                f = self.features_[t, node]
                cut = rng.uniform(low[node, f], high[node, f])
                self.thresholds_[t, node] = cut
                for child, side in ((2 * node + 1, "left"), (2 * node + 2, "right")):
                    if child < nodes:
                        low[child], high[child] = low[node], high[node]
                        if side == "left":
                            high[child, f] = cut
                        else:
                            low[child, f] = cut
        parts = rng.permutation(len(x)) % self.n_estimators
        leaves = 2**self.max_depth
        counts = np.zeros((self.n_estimators, leaves, k))
        for t in range(self.n_estimators):
            rows = parts == t
            leaf = self._leaves(x[rows], t)
            np.add.at(counts[t], (leaf, codes[rows]), 1.0)
        noisy = counts + rng.laplace(0.0, 1.0 / self.epsilon, size=counts.shape)
        self.leaf_class_ = noisy.argmax(axis=2)
        return self

    def _leaves(self, x: NDArray, tree: int) -> NDArray:
        node = np.zeros(len(x), dtype=np.int64)
        internal = 2**self.max_depth - 1
        for _ in range(self.max_depth):
            f = self.features_[tree, node]
            go_right = x[np.arange(len(x)), f] > self.thresholds_[tree, node]
            node = 2 * node + 1 + go_right
        return np.asarray(node - internal)

    def predict_proba(self, x: NDArray) -> NDArray:
        """Fraction of trees voting for each class."""
        x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
        votes = np.zeros((len(x), len(self.classes_)))
        for t in range(self.n_estimators):
            np.add.at(votes, (np.arange(len(x)), self.leaf_class_[t, self._leaves(x, t)]), 1.0)
        return np.asarray(votes / self.n_estimators)

    def predict(self, x: NDArray) -> NDArray:
        """The majority vote."""
        return np.asarray(self.classes_[self.predict_proba(x).argmax(axis=1)])
