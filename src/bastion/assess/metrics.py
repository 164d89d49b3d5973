"""Detection metrics shared by the privacy and poisoning checks (NumPy only).

ROC curves are computed with ties handled as one step (a threshold either takes all tied scores
or none), which is what scikit-learn does; the true-positive rate at a false-positive rate is
the best TPR among thresholds whose FPR does not exceed it (the convention of the membership
inference literature).

>>> import numpy as np
>>> fpr, tpr = roc_curve(np.array([1, 1, 0, 0]), np.array([0.9, 0.8, 0.3, 0.1]))
>>> auc(fpr, tpr)
1.0
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

NDArray = np.ndarray[Any, Any]


def roc_curve(labels: NDArray, scores: NDArray) -> tuple[NDArray, NDArray]:
    """False- and true-positive rates over all thresholds, starting at (0, 0)."""
    labels = np.asarray(labels, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-scores, kind="mergesort")
    s, lab = scores[order], labels[order]
    distinct = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tps = np.cumsum(lab)[distinct]
    fps = (distinct + 1) - tps
    pos, neg = max(int(labels.sum()), 1), max(int((~labels).sum()), 1)
    return np.r_[0.0, fps / neg], np.r_[0.0, tps / pos]


def auc(fpr: NDArray, tpr: NDArray) -> float:
    """Area under a ROC curve (trapezoids)."""
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def tpr_at_fpr(fpr: NDArray, tpr: NDArray, target: float) -> float:
    """The best TPR at an FPR of at most ``target``."""
    ok = fpr <= target + 1e-12
    return float(tpr[ok].max()) if ok.any() else 0.0


def best_balanced_accuracy(fpr: NDArray, tpr: NDArray) -> float:
    """The best ``(TPR + TNR) / 2`` over thresholds (the attack's advantage + 1/2)."""
    return float(np.max((tpr + 1 - fpr) / 2))


@dataclass(frozen=True)
class RocSummary:
    """The figures a membership attack is judged by."""

    auc: float
    balanced_accuracy: float
    tpr_at_1pct_fpr: float
    tpr_at_01pct_fpr: float

    @classmethod
    def of(cls, labels: NDArray, scores: NDArray) -> RocSummary:
        """Summarise scores where higher means "member"."""
        fpr, tpr = roc_curve(labels, scores)
        return cls(
            auc=auc(fpr, tpr),
            balanced_accuracy=best_balanced_accuracy(fpr, tpr),
            tpr_at_1pct_fpr=tpr_at_fpr(fpr, tpr, 0.01),
            tpr_at_01pct_fpr=tpr_at_fpr(fpr, tpr, 0.001),
        )


def downsample_curve(fpr: NDArray, tpr: NDArray, points: int = 200) -> list[tuple[float, float]]:
    """At most ``points`` ROC points, log-spaced in FPR so the low-FPR region keeps its detail."""
    if len(fpr) <= points:
        return [(float(a), float(b)) for a, b in zip(fpr, tpr, strict=True)]
    grid = np.unique(np.r_[0.0, np.geomspace(1e-4, 1.0, points - 1)])
    index = np.clip(np.searchsorted(fpr, grid, side="right") - 1, 0, len(fpr) - 1)
    return [(float(fpr[i]), float(tpr[i])) for i in np.unique(index)]


@dataclass(frozen=True)
class Detection:
    """Precision, recall and F1 of a flagged set against known ground truth."""

    precision: float
    recall: float
    f1: float
    flagged: int

    @classmethod
    def of(cls, flagged: NDArray, truth: NDArray) -> Detection:
        """Compare two boolean masks."""
        flagged, truth = np.asarray(flagged, bool), np.asarray(truth, bool)
        tp = int((flagged & truth).sum())
        precision = tp / max(int(flagged.sum()), 1)
        recall = tp / max(int(truth.sum()), 1)
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return cls(precision, recall, f1, int(flagged.sum()))
