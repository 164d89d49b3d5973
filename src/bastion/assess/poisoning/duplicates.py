"""Exact and near duplicates that carry conflicting labels.

Exact duplicates are rows with identical feature bytes (hashed, so it is linear time). Near
duplicates are nearest-neighbour pairs closer than ``NEAR`` times the median nearest-neighbour
distance of the data set. A group whose labels disagree is a conflict: in an exact group the
minority labels are flagged (all of them on a tie); in a near pair both samples are flagged,
since the data cannot say which one is wrong.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from bastion.assess.poisoning.neighbors import euclidean_neighbors
from bastion.assess.targets.interface import NDArray

NEAR = 0.05


@dataclass(frozen=True, eq=False)
class DuplicateScreen:
    """Flags and the conflicting groups (as row positions)."""

    flags: NDArray
    exact_groups: tuple[tuple[int, ...], ...]
    near_pairs: tuple[tuple[int, int], ...]
    exact_duplicates: int


def screen_duplicates(x: NDArray, y: NDArray) -> DuplicateScreen:
    """Find duplicate groups and pairs whose labels conflict."""
    n = len(y)
    flags = np.zeros(n, dtype=bool)
    groups: dict[bytes, list[int]] = defaultdict(list)
    contiguous = np.ascontiguousarray(x.reshape(n, -1), dtype=np.float32)
    for i in range(n):
        groups[hashlib.blake2b(contiguous[i].tobytes(), digest_size=16).digest()].append(i)
    conflicts: list[tuple[int, ...]] = []
    exact = 0
    for members in groups.values():
        if len(members) < 2:
            continue
        exact += len(members) - 1
        labels = y[members]
        values, counts = np.unique(labels, return_counts=True)
        if len(values) < 2:
            continue
        conflicts.append(tuple(members))
        top = counts.max()
        majority = values[counts == top]
        for member in members:
            if len(majority) > 1 or y[member] not in majority:
                flags[member] = True
    pairs: list[tuple[int, int]] = []
    if n > 2:
        index, dist = euclidean_neighbors(contiguous, 1)
        nearest = dist[:, 0]
        positive = nearest[nearest > 0]
        scale = float(np.median(positive)) if len(positive) else 0.0
        close = (nearest > 0) & (nearest < NEAR * scale)
        for position in np.flatnonzero(close):
            i, j = int(position), int(index[position, 0])
            if y[i] != y[j] and (j, i) not in pairs:
                pairs.append((i, j))
                flags[i] = flags[j] = True
    return DuplicateScreen(flags, tuple(conflicts), tuple(pairs), exact)
