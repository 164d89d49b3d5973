"""The likelihood-ratio membership attack (LiRA, Carlini et al., 2022), online and offline.

The population is the union of the target's members and non-members. Shadow model ``k`` trains
on the records where ``inclusion[k]`` is true; every record is in exactly half of the shadow
models (a balanced design, so each record gets as many IN as OUT observations). For every record
the logit-scaled confidence ``φ = log p_y − log(1 − p_y)`` of each shadow is collected; the
target's ``φ`` is then tested against Gaussians fitted to the IN and OUT observations of that
record:

* **online**: ``log N(φ; μ_in, σ_in) − log N(φ; μ_out, σ_out)``;
* **offline** (OUT models only, no retraining per query): ``log Φ((φ − μ_out) / σ_out)``.

Per-record variances are shrunk toward the pooled variance (``SHRINK`` pseudo-observations), which
keeps the test stable with few shadow models without giving up per-record calibration.

Probabilities of exactly 0 or 1 (a forest whose trees all agree) would make ``φ`` infinite; they
are clipped to half the finest non-zero resolution seen in the outputs (``1 / (2·trees)`` for a
random forest, far below anything that matters for a network's softmax), not to an arbitrary
constant that would either flatten a network's confident outputs or blow up a forest's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bastion.assess.privacy.attacks import true_class_proba
from bastion.assess.progress import ProgressSink, TimeBudget, silent
from bastion.assess.targets.interface import NDArray, Target, Trainer

SHRINK = 4.0


@dataclass(frozen=True, eq=False)
class LiraScores:
    """Per-record online and offline scores and the design they came from."""

    online: NDArray
    offline: NDArray
    shadows: int
    inclusion: NDArray


def balanced_inclusion(shadows: int, records: int, rng: np.random.Generator) -> NDArray:
    """A ``(shadows, records)`` mask where each record is IN for half of the shadow models."""
    half = shadows // 2
    mask = np.zeros((shadows, records), dtype=bool)
    for column in range(records):
        mask[rng.permutation(shadows)[:half], column] = True
    return mask


def _norm_logpdf(x: NDArray, mu: NDArray, sd: NDArray) -> NDArray:
    return np.asarray(-0.5 * ((x - mu) / sd) ** 2 - np.log(sd) - 0.5 * math.log(2 * math.pi))


def _norm_logcdf(z: NDArray) -> NDArray:
    from scipy.special import log_ndtr

    return np.asarray(log_ndtr(z))


def _moments(values: NDArray, mask: NDArray) -> tuple[NDArray, NDArray]:
    """Per-record mean and shrunk standard deviation of the observations where ``mask``."""
    count = mask.sum(axis=0)
    mean = np.where(mask, values, 0.0).sum(axis=0) / np.maximum(count, 1)
    resid = np.where(mask, values - mean, 0.0)
    pooled = float((resid**2).sum() / max(int(count.sum()) - len(mean), 1))
    var = (resid**2).sum(axis=0)
    shrunk = (var + SHRINK * pooled) / np.maximum(count - 1 + SHRINK, 1)
    return mean, np.sqrt(np.maximum(shrunk, 1e-8))


def resolution_clip(*arrays: NDArray) -> float:
    """Half the smallest non-zero ``min(p, 1 − p)`` in the arrays (at most 1e-2)."""
    values = np.concatenate([np.minimum(a, 1 - a).ravel() for a in arrays])
    positive = values[values > 0]
    floor = float(positive.min()) / 2 if len(positive) else 1e-6
    return min(max(floor, 1e-30), 1e-2)


def phi(p: NDArray, clip: float) -> NDArray:
    """``log p − log(1 − p)`` with ``p`` clipped to ``[clip, 1 − clip]``."""
    q = np.clip(p, clip, 1 - clip)
    return np.asarray(np.log(q) - np.log1p(-q))


def shadow_confidences(
    trainer: Trainer,
    x: NDArray,
    y: NDArray,
    shadows: int,
    seed: int,
    *,
    progress: ProgressSink = silent,
    budget: TimeBudget | None = None,
) -> tuple[NDArray, NDArray]:
    """Train the shadow models; returns every record's ``p_y`` per shadow, and the design."""
    rng = np.random.default_rng(seed)
    inclusion = balanced_inclusion(shadows, len(x), rng)
    confidences = []
    for k in range(shadows):
        if budget is not None and budget.expired() and k >= 2:
            inclusion = inclusion[:k]
            progress(f"shadow models: time budget spent after {k}")
            break
        progress(f"shadow model {k + 1}/{shadows}")
        model = trainer(x[inclusion[k]], y[inclusion[k]], seed * 7919 + k)
        confidences.append(true_class_proba(model.predict_proba(x), y))
    return np.asarray(confidences), inclusion


def lira_scores(target_p: NDArray, shadow_p: NDArray, inclusion: NDArray) -> LiraScores:
    """Online and offline scores for every record from true-class probabilities."""
    clip = resolution_clip(target_p, shadow_p)
    target_phi, shadow_phi = phi(target_p, clip), phi(shadow_p, clip)
    mu_in, sd_in = _moments(shadow_phi, inclusion)
    mu_out, sd_out = _moments(shadow_phi, ~inclusion)
    online = _norm_logpdf(target_phi, mu_in, sd_in) - _norm_logpdf(target_phi, mu_out, sd_out)
    offline = _norm_logcdf((target_phi - mu_out) / sd_out)
    return LiraScores(online, offline, len(shadow_p), inclusion)


def run_lira(
    target: Target,
    trainer: Trainer,
    x: NDArray,
    y: NDArray,
    shadows: int,
    seed: int,
    *,
    progress: ProgressSink = silent,
    budget: TimeBudget | None = None,
) -> LiraScores:
    """Shadow training plus scoring of the target on the whole population."""
    shadow_p, inclusion = shadow_confidences(
        trainer, x, y, shadows, seed, progress=progress, budget=budget
    )
    target_p = true_class_proba(target.predict_proba(x), y)
    return lira_scores(target_p, shadow_p, inclusion)
