"""Backdoor screens: spectral signatures, activation clustering, exclusionary reclassification.

* **Spectral signatures** (Tran et al., 2018): within each class, the squared projection of the
  centred representation on its top singular vector; flagged beyond a robust z-score of
  ``SPECTRAL_Z``.
* **Activation clustering** (Chen et al., 2018): within each class, 2-means on the first ten
  principal components; the smaller cluster is flagged when it holds less than ``AC_SIZE`` of
  the class (the relative-size test).
* **Exclusionary reclassification** (the confirmation step): each class's samples are ranked by
  their trimmed-distance neighbour disagreement and the top ``CANDIDATE_SHARE`` of the class is
  held out. Models trained without them
  (so without the trigger's shortcut) reclassify them; samples that two different models both
  assign to the same *other* class are reclassified. A class is reported as backdoored only
  when its reclassified count stands far above the other classes' (``GATE`` times their median,
  and at least 5% of the class), which keeps clean classes — whose atypical samples also move
  a little when held out — from being flagged. In a class that passes, a second pass also holds
  out what the spectral and clustering screens flagged there (up to ``MAX_HELD`` of the class).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from bastion.assess.poisoning.labels import KERNEL_LIMIT
from bastion.assess.targets.interface import NDArray

SPECTRAL_Z = 3.5
AC_SIZE = 0.35
CANDIDATE_SHARE = 0.7
MAX_HELD = 0.9
GATE = 3.0


@dataclass(frozen=True, eq=False)
class BackdoorScreen:
    """Flags of each screen and the classes found backdoored."""

    spectral: NDArray
    spectral_score: NDArray
    clustering: NDArray
    reclassified: NDArray
    flags: NDArray
    suspect_classes: tuple[int, ...]
    reclassified_counts: tuple[int, ...]
    reclassified_to: NDArray


def _percentile_rank(values: NDArray) -> NDArray:
    order = values.argsort(kind="mergesort")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values))
    return ranks / max(len(values) - 1, 1)


def spectral_scores(features: NDArray, y: NDArray) -> NDArray:
    """Per-class squared projections on the top singular vector."""
    scores = np.zeros(len(y))
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        if len(idx) < 3:
            continue
        centred = features[idx] - features[idx].mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        scores[idx] = (centred @ vt[0]) ** 2
    return scores


def _robust_outliers(scores: NDArray, y: NDArray) -> NDArray:
    flags = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        s = scores[idx]
        mad = float(np.median(np.abs(s - np.median(s)))) * 1.4826
        if mad > 0:
            flags[idx] = (s - np.median(s)) / mad > SPECTRAL_Z
    return flags


def activation_clusters(features: NDArray, y: NDArray, seed: int) -> NDArray:
    """Members of small 2-means clusters within each class."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    flags = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        if len(idx) < 10:
            continue
        comps = min(10, features.shape[1], len(idx) - 1)
        reduced = PCA(n_components=comps, random_state=seed).fit_transform(features[idx])
        labels = KMeans(n_clusters=2, n_init=10, random_state=seed).fit_predict(reduced)
        sizes = np.bincount(labels, minlength=2)
        small = int(sizes.argmin())
        if sizes[small] / len(idx) < AC_SIZE:
            flags[idx[labels == small]] = True
    return flags


def _verifiers(n: int, seed: int) -> list[object]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.svm import SVC

    first: object = (
        SVC(C=10.0, gamma="scale", random_state=seed)
        if n <= KERNEL_LIMIT
        else LogisticRegression(C=1.0, max_iter=1000)
    )
    return [first, KNeighborsClassifier(n_neighbors=5)]


def reclassify(
    x: NDArray,
    y: NDArray,
    ranking: NDArray,
    extra: NDArray,
    seed: int,
    classes: NDArray | None = None,
) -> tuple[NDArray, NDArray, NDArray]:
    """Hold out the top-ranked share of each class (plus the ``extra`` candidates, up to
    ``MAX_HELD`` of the class) and reclassify it with models trained without it.

    Returns the reclassified mask, the class each reclassified sample went to (-1 otherwise),
    and the count per class.
    """
    from sklearn.base import clone

    n_classes = int(y.max()) + 1
    moved = np.zeros(len(y), dtype=bool)
    moved_to = np.full(len(y), -1)
    counts = np.zeros(n_classes, dtype=np.int64)
    templates = _verifiers(len(y), seed)
    for c in np.unique(y) if classes is None else classes:
        idx = np.flatnonzero(y == c)
        if len(idx) < 5:
            continue
        order = idx[np.argsort(-ranking[idx], kind="mergesort")]
        top = order[: int(CANDIDATE_SHARE * len(idx))]
        added = np.setdiff1d(idx[extra[idx]], top)[: max(int(MAX_HELD * len(idx)) - len(top), 0)]
        held = np.concatenate([top, added])
        keep = np.ones(len(y), dtype=bool)
        keep[held] = False
        if len(np.unique(y[keep])) < 2:
            continue
        predictions = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for template in templates:
                model = clone(template)
                model.fit(x[keep], y[keep])
                predictions.append(model.predict(x[held]))
        agree = (predictions[0] == predictions[1]) & (predictions[0] != c)
        moved[held[agree]] = True
        moved_to[held[agree]] = predictions[0][agree]
        counts[c] = int(agree.sum())
    return moved, moved_to, counts


def screen_backdoors(
    x: NDArray, y: NDArray, features: NDArray, trimmed_disagreement: NDArray, seed: int
) -> BackdoorScreen:
    """Run the three screens and gate the reclassification by class."""
    spectral_score = spectral_scores(features, y)
    spectral = _robust_outliers(spectral_score, y)
    clustering = activation_clusters(features, y, seed)
    ranking = np.zeros(len(y))
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        ranking[idx] = _percentile_rank(trimmed_disagreement[idx])
    nothing = np.zeros(len(y), dtype=bool)
    moved, moved_to, counts = reclassify(x, y, ranking, nothing, seed)
    present = np.unique(y)
    sizes = np.bincount(y, minlength=len(counts))
    suspects = []
    for c in present:
        others = np.delete(counts[present], np.flatnonzero(present == c))
        baseline = float(np.median(others)) if len(others) else 0.0
        if counts[c] >= max(5, 0.05 * sizes[c]) and counts[c] >= GATE * max(baseline, 1.0):
            suspects.append(int(c))
    flags = moved & np.isin(y, suspects)
    if suspects:
        # Second pass in the suspect classes only: also hold out what the spectral and
        # clustering screens flagged there, to catch poison the neighbour ranking put low.
        again, again_to, _ = reclassify(
            x, y, ranking, spectral | clustering, seed, np.asarray(suspects)
        )
        extra = again & ~flags & np.isin(y, suspects)
        flags |= extra
        moved_to = np.where(extra, again_to, moved_to)
    return BackdoorScreen(
        spectral=spectral,
        spectral_score=spectral_score,
        clustering=clustering,
        reclassified=moved,
        flags=flags,
        suspect_classes=tuple(suspects),
        reclassified_counts=tuple(int(v) for v in counts),
        reclassified_to=moved_to,
    )
