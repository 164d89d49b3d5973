"""Feature scaling and nearest neighbours for the data screens, including a trimmed distance.

Image-like data keeps its geometry (one global scale); tabular data is scaled per feature by the
median and inter-quartile range, so no single column dominates a distance. The *trimmed* squared
distance drops the ``trim`` largest per-feature differences of each pair: a trigger patch of a
few pixels then no longer separates a poisoned image from clean images of its true class, while
natural differences (spread over many features) still count. It is exact (chunked, O(n²·d))
up to ``EXACT_LIMIT`` samples and re-ranks the Euclidean neighbour candidates beyond that.
"""

from __future__ import annotations

import numpy as np

from bastion.assess.targets.interface import NDArray

EXACT_LIMIT = 4000
CANDIDATES = 64


def prepare(x: NDArray, image: bool) -> NDArray:
    """Scaled ``(n, d)`` float32 features for distances and the screening models."""
    flat = x.reshape(len(x), -1).astype(np.float64)
    if image:
        span = float(flat.max() - flat.min()) or 1.0
        return np.asarray((flat - flat.min()) / span, dtype=np.float32)
    median = np.median(flat, axis=0)
    q75, q25 = np.percentile(flat, [75, 25], axis=0)
    scale = q75 - q25
    std = flat.std(axis=0)
    scale = np.where(scale > 1e-12, scale, np.where(std > 1e-12, std, 1.0))
    return np.asarray((flat - median) / scale, dtype=np.float32)


def default_trim(d: int) -> int:
    """How many per-feature differences the trimmed distance ignores (about 10%)."""
    return 0 if d < 5 else max(1, round(0.1 * d))


def euclidean_neighbors(x: NDArray, k: int) -> tuple[NDArray, NDArray]:
    """Indices and distances of the ``k`` nearest other rows."""
    from sklearn.neighbors import NearestNeighbors

    k = min(k, len(x) - 1)
    dist, index = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x)
    # drop each row itself (it may not be first when exact duplicates exist)
    keep = index != np.arange(len(x))[:, None]
    rows = [index[i][keep[i]][:k] for i in range(len(x))]
    dists = [dist[i][keep[i]][:k] for i in range(len(x))]
    return np.asarray(rows), np.asarray(dists)


def _trimmed_block(a: NDArray, b: NDArray, trim: int) -> NDArray:
    diff = (a[:, None, :] - b[None, :, :]) ** 2
    if trim <= 0:
        return np.asarray(diff.sum(axis=2))
    d = diff.shape[2]
    kept = np.partition(diff, d - trim - 1, axis=2)[:, :, : d - trim]
    return np.asarray(kept.sum(axis=2))


def _own_other(row: NDArray, labels: NDArray, label: int, m: int) -> tuple[float, float]:
    own, other = row[labels == label], row[labels != label]
    own = own[np.isfinite(own)]
    far = float(np.nanmax(row[np.isfinite(row)])) * 2 if np.isfinite(row).any() else 1.0
    d_own = float(np.sort(own)[:m].mean()) if len(own) else far
    d_other = float(np.sort(other)[:m].mean()) if len(other) else far
    return d_own, d_other


def trimmed_neighbors(
    x: NDArray, y: NDArray, k: int, trim: int, *, near: int = 5, chunk: int = 32
) -> tuple[NDArray, NDArray, NDArray]:
    """Trimmed-distance neighbours of every row.

    Returns the ``k`` nearest other rows, and the mean trimmed distance to the ``near`` nearest
    rows of the same label and of other labels.
    """
    n = len(x)
    k = min(k, n - 1)
    xf = x.astype(np.float32)
    index = np.empty((n, k), dtype=np.int64)
    d_own = np.empty(n)
    d_other = np.empty(n)
    if n <= EXACT_LIMIT:
        for start in range(0, n, chunk):
            block = _trimmed_block(xf[start : start + chunk], xf, trim)
            block[np.arange(len(block)), np.arange(start, start + len(block))] = np.inf
            part = np.argpartition(block, k, axis=1)[:, :k]
            order = np.take_along_axis(block, part, axis=1).argsort(axis=1)
            index[start : start + chunk] = np.take_along_axis(part, order, axis=1)
            for offset, row in enumerate(block):
                i = start + offset
                d_own[i], d_other[i] = _own_other(row, y, int(y[i]), near)
        return index, d_own, d_other
    cand, _ = euclidean_neighbors(xf, min(CANDIDATES, n - 1))
    for i in range(n):
        row = _trimmed_block(xf[i : i + 1], xf[cand[i]], trim)[0]
        index[i] = cand[i][row.argsort()[:k]]
        d_own[i], d_other[i] = _own_other(row, y[cand[i]], int(y[i]), near)
    return index, d_own, d_other


def vote_share(neighbors: NDArray, y: NDArray, n_classes: int) -> NDArray:
    """``(n, classes)`` fraction of each row's neighbours in each class."""
    votes = np.zeros((len(y), n_classes))
    for j in range(neighbors.shape[1]):
        np.add.at(votes, (np.arange(len(y)), y[neighbors[:, j]]), 1.0)
    return np.asarray(votes / max(neighbors.shape[1], 1))
