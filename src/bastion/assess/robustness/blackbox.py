"""Query-only evasion attacks: Square (score-based) and RayS (decision-based), both L-inf.

Both are vectorised over samples: one batched query per step for every sample still standing,
so a local model is queried in large batches and an endpoint in its configured batch size. Every
row queried is counted by the target (and checked against its budget).

* **Square** (Andriushchenko et al., 2020) starts from vertical stripes of ±ε and proposes, at
  each step, a random square window (a random feature subset for non-image data) set to ±ε per
  channel, kept when it lowers the margin ``p_y − max_{k≠y} p_k``; the window shrinks on the
  paper's schedule, rescaled to the query budget.
* **RayS** (Chen & Gu, 2020) searches sign directions ``d ∈ {−1, +1}^D`` for the nearest decision
  boundary along ``x + r·d``: flip one block of signs (blocks halve at each stage), keep the flip
  when the boundary moved closer (one query decides; a binary search measures it), stop as soon
  as the radius is within ε. It only ever looks at predicted labels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bastion.assess.targets.interface import NDArray, Target


@dataclass(frozen=True)
class QueryAttackResult:
    """Adversarial points, which samples were fooled within ε, and queries spent per sample."""

    x_adv: NDArray
    fooled: NDArray
    queries: NDArray


def margins(proba: NDArray, y: NDArray) -> NDArray:
    """``p_y − max_{k≠y} p_k``; negative (or a wrong argmax) means misclassified."""
    rows = np.arange(len(y))
    true = proba[rows, y]
    other = proba.copy()
    other[rows, y] = -np.inf
    return np.asarray(true - other.max(axis=1))


def _layout(shape: tuple[int, ...], image: bool) -> tuple[int, int, int] | None:
    if not image:
        return None
    if len(shape) == 3:
        return shape[0], shape[1], shape[2]
    if len(shape) == 2:
        return 1, shape[0], shape[1]
    return None


def _p_schedule(step: int, budget: int, p_init: float) -> float:
    scaled = int(step / budget * 10000) if budget < 10000 else step
    p = p_init
    for bound in (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000):
        if scaled > bound:
            p /= 2
    return p


def square_attack(
    target: Target,
    x: NDArray,
    y: NDArray,
    epsilon: float | NDArray,
    *,
    bounds: tuple[float, float],
    image: bool,
    max_queries: int,
    rng: np.random.Generator,
    p_init: float = 0.3,
) -> QueryAttackResult:
    """Square attack in L-inf; ``x`` holds correctly classified samples.

    ``epsilon`` may be one value or one per sample (so several budgets share each query batch).
    """
    n, shape = len(x), x.shape[1:]
    eps = np.broadcast_to(np.asarray(epsilon, dtype=np.float64), (n,))
    lo, hi = bounds
    layout = _layout(tuple(shape), image)
    if layout is not None:
        c, h, w = layout
        stripes = rng.choice([-1.0, 1.0], size=(n, c, 1, w)) * eps[:, None, None, None]
        delta = np.broadcast_to(stripes, (n, c, h, w)).reshape(n, *shape)
    else:
        delta = rng.choice([-1.0, 1.0], size=x.shape) * eps.reshape(-1, *([1] * len(shape)))
    x_adv = np.clip(x + delta, lo, hi).astype(x.dtype)
    proba = target.predict_proba(x_adv)
    margin = margins(proba, y)
    fooled = proba.argmax(axis=1) != y
    queries = np.ones(n, dtype=np.int64)
    d = int(np.prod(shape))
    for step in range(1, max_queries):
        active = np.flatnonzero(~fooled)
        if len(active) == 0:
            break
        p = _p_schedule(step, max_queries, p_init)
        cand = x_adv[active].copy()
        base = x[active]
        m = len(active)
        if layout is not None:
            c, h, w = layout
            side = min(max(round(math.sqrt(p * h * w)), 1), h, w)
            rows = rng.integers(0, h - side + 1, size=m)
            cols = rng.integers(0, w - side + 1, size=m)
            ii = np.arange(h)[None, :, None]
            jj = np.arange(w)[None, None, :]
            window = (
                (ii >= rows[:, None, None])
                & (ii < rows[:, None, None] + side)
                & (jj >= cols[:, None, None])
                & (jj < cols[:, None, None] + side)
            )[:, None, :, :]
            signs = rng.choice([-1.0, 1.0], size=(m, c, 1, 1)) * eps[active, None, None, None]
            cand4 = cand.reshape(m, c, h, w)
            base4 = base.reshape(m, c, h, w)
            cand4 = np.where(window, np.clip(base4 + signs, lo, hi), cand4)
            cand = cand4.reshape(cand.shape)
        else:
            size = max(round(p * d), 1)
            picks = np.argsort(rng.random((m, d)), axis=1)[:, :size]
            flat_c = cand.reshape(m, d)
            flat_b = base.reshape(m, d)
            signs = rng.choice([-1.0, 1.0], size=(m, size)) * eps[active, None]
            rows_idx = np.arange(m)[:, None]
            flat_c[rows_idx, picks] = np.clip(flat_b[rows_idx, picks] + signs, lo, hi)
            cand = flat_c.reshape(cand.shape)
        proba = target.predict_proba(cand.astype(x.dtype))
        queries[active] += 1
        new_margin = margins(proba, y[active])
        wrong = proba.argmax(axis=1) != y[active]
        accept = (new_margin < margin[active]) | wrong
        x_adv[active[accept]] = cand[accept]
        margin[active[accept]] = new_margin[accept]
        fooled[active[wrong]] = True
    return QueryAttackResult(x_adv, fooled, queries)


def rays_attack(
    target: Target,
    x: NDArray,
    y: NDArray,
    epsilon: float | NDArray,
    *,
    bounds: tuple[float, float],
    max_queries: int,
    rng: np.random.Generator,
) -> QueryAttackResult:
    """RayS in L-inf with early stopping at ε (one value or one per sample)."""
    n, shape = len(x), x.shape[1:]
    eps = np.broadcast_to(np.asarray(epsilon, dtype=np.float64), (n,))
    d = int(np.prod(shape))
    lo, hi = bounds
    span = hi - lo
    tol = 1e-3 * span
    flat = x.reshape(n, d)
    signs = np.where(rng.random((n, d)) < 0.5, -1.0, 1.0)
    radius = np.full(n, np.inf)
    stage = np.zeros(n, dtype=np.int64)
    block = np.zeros(n, dtype=np.int64)
    queries = np.zeros(n, dtype=np.int64)
    started = np.zeros(n, dtype=bool)

    def adversarial(idx: NDArray, dirs: NDArray, r: NDArray) -> NDArray:
        points = np.clip(flat[idx] + r[:, None] * dirs, lo, hi).reshape(len(idx), *shape)
        queries[idx] += 1
        return np.asarray(target.predict(points.astype(x.dtype)) != y[idx])

    positions = np.arange(d)[None, :]
    while True:
        active = np.flatnonzero((radius > eps) & (queries < max_queries))
        if len(active) == 0:
            break
        blocks = 2 ** stage[active]
        size = np.ceil(d / blocks).astype(np.int64)
        start = block[active] * size
        flip = (positions >= start[:, None]) & (positions < (start + size)[:, None])
        dirs = np.where(flip, -signs[active], signs[active])
        first = ~started[active]
        started[active] = True
        if first.any():
            # The first direction is also tried as it is, so every sample starts from a radius.
            dirs[first] = signs[active][first]
        probe = np.where(np.isfinite(radius[active]), radius[active], span)
        hit = adversarial(active, dirs, probe)
        # advance the block pointer (the first direction does not consume a block)
        moved = active[~first]
        block[moved] += 1
        done_stage = block[moved] >= 2 ** stage[moved]
        stage[moved[done_stage]] += 1
        block[moved[done_stage]] = 0
        too_fine = np.ceil(d / 2 ** stage[moved]) < 1
        stage[moved[too_fine]] = 0
        if not hit.any():
            continue
        idx, dirs, upper = active[hit], dirs[hit], probe[hit]
        at_eps = np.minimum(upper, eps[idx])
        inside = adversarial(idx, dirs, at_eps)
        radius[idx[inside]] = at_eps[inside]
        signs[idx[inside]] = dirs[inside]
        rest = ~inside
        idx, dirs, upper = idx[rest], dirs[rest], upper[rest]
        lower = eps[idx].copy()
        while len(idx):
            open_ = (upper - lower > tol) & (queries[idx] < max_queries)
            if not open_.any():
                break
            sub = np.flatnonzero(open_)
            mid = (upper[sub] + lower[sub]) / 2
            adv = adversarial(idx[sub], dirs[sub], mid)
            upper[sub] = np.where(adv, mid, upper[sub])
            lower[sub] = np.where(adv, lower[sub], mid)
        radius[idx] = np.minimum(radius[idx], upper)
        signs[idx] = dirs
    fooled = radius <= eps + 1e-12
    r = np.where(np.isfinite(radius), np.minimum(radius, span), 0.0)
    x_adv = np.clip(flat + r[:, None] * signs, lo, hi).reshape(x.shape).astype(x.dtype)
    x_adv[~fooled] = x[~fooled]
    return QueryAttackResult(x_adv, fooled, queries)
