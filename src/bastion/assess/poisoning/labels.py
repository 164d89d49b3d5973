"""Label screens: out-of-fold probabilities, confident learning (cleanlab), neighbour votes.

Two models judge every label without having seen it (stratified K-fold): an RBF support-vector
machine (logistic regression above ``KERNEL_LIMIT`` samples, where kernels get too slow) and a
distance-weighted k-nearest-neighbour vote; their probabilities are averaged. Then:

* ``cleanlab`` — confident learning (Northcutt et al., 2021) on those probabilities;
* ``knn`` — the plain neighbour check: fewer than half of a sample's k neighbours share its label;
* the combined label signal — the averaged out-of-fold probability of the given label is below
  ``LOW`` (both models put it elsewhere), or cleanlab flags it and that probability is below
  one half.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from bastion.assess.poisoning.neighbors import euclidean_neighbors, vote_share
from bastion.assess.targets.interface import NDArray

KERNEL_LIMIT = 8000
LOW = 0.1


@dataclass(frozen=True, eq=False)
class LabelScreen:
    """Per-sample out-of-fold probabilities and the flags of each label screen."""

    proba: NDArray
    given: NDArray
    cleanlab: NDArray
    knn: NDArray
    combined: NDArray
    knn_share: NDArray


def _models(n: int, seed: int) -> list[object]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    first: object
    if n <= KERNEL_LIMIT:
        first = SVC(C=10.0, gamma="scale", probability=True, random_state=seed)
    else:
        first = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
    return [first, KNeighborsClassifier(n_neighbors=10, weights="distance")]


def out_of_fold_proba(
    x: NDArray, y: NDArray, n_classes: int, folds: int, seed: int, keep: NDArray | None = None
) -> NDArray:
    """Averaged out-of-fold probabilities; ``keep`` limits which rows may be trained on."""
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold

    counts = np.bincount(y, minlength=n_classes)
    folds = int(max(2, min(folds, counts[counts > 0].min())))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    total = np.zeros((len(y), n_classes))
    models = _models(len(y), seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for train_idx, test_idx in splitter.split(x, y):
            if keep is not None:
                train_idx = train_idx[keep[train_idx]]
            for template in models:
                model = clone(template)
                model.fit(x[train_idx], y[train_idx])
                proba = model.predict_proba(x[test_idx])
                cols = model.classes_
                total[np.ix_(test_idx, cols)] += proba
    return total / len(models)


def cleanlab_flags(y: NDArray, proba: NDArray) -> NDArray:
    """Confident-learning label issues (``cleanlab.filter.find_label_issues``)."""
    try:
        from cleanlab.filter import find_label_issues
    except ImportError:
        from bastion.errors import MissingDependencyError

        raise MissingDependencyError(
            "cleanlab", "assess", "the confident-learning screen"
        ) from None
    safe = np.clip(proba, 1e-9, None)
    safe = safe / safe.sum(axis=1, keepdims=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(find_label_issues(labels=y, pred_probs=safe), dtype=bool)


def screen_labels(
    x: NDArray,
    y: NDArray,
    n_classes: int,
    *,
    folds: int,
    neighbors: int,
    seed: int,
    use_cleanlab: bool = True,
) -> LabelScreen:
    """Run every label screen on prepared features ``x``."""
    proba = out_of_fold_proba(x, y, n_classes, folds, seed)
    given = proba[np.arange(len(y)), y]
    cl = cleanlab_flags(y, proba) if use_cleanlab else np.zeros(len(y), bool)
    index, _ = euclidean_neighbors(x, neighbors)
    share = vote_share(index, y, n_classes)[np.arange(len(y)), y]
    knn = share < 0.5
    combined = (given < LOW) | (cl & (given < 0.5))
    return LabelScreen(proba, given, cl, knn, combined, share)
