"""Running the robustness suite on one target and measuring what the attacks achieved.

Robust accuracy counts every evaluated sample (a sample the model already gets wrong is not
robust); the attack success rate is over the samples the model got right. For each attack, norm
and ε the report keeps the median L-inf and L2 norms of the successful perturbations and the
queries spent per attacked sample. Gradient attacks need a :class:`DifferentiableTarget`; for
any other target they are replaced by the query attacks and the report says so. Query attacks
run in chunks, so a spent budget, a rate-limiting endpoint or the time budget closes the
measurement with the samples attacked so far (marked partial) instead of losing it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

from bastion.assess.config import BLACKBOX_ATTACKS, WHITEBOX_ATTACKS, RobustnessSpec
from bastion.assess.data import Dataset
from bastion.assess.errors import EndpointError, QueryBudgetExceeded
from bastion.assess.progress import ProgressSink, TimeBudget, silent
from bastion.assess.robustness.blackbox import QueryAttackResult, rays_attack, square_attack
from bastion.assess.targets.interface import DifferentiableTarget, NDArray, Target

if TYPE_CHECKING:
    from bastion.assess.robustness.whitebox import Norm

AttackKind = Literal["white-box", "score-based", "decision-based"]
KINDS: dict[str, AttackKind] = {
    "fgsm": "white-box",
    "pgd": "white-box",
    "apgd-ce": "white-box",
    "square": "score-based",
    "rays": "decision-based",
}
#: Samples per query batch for remote targets (a spent budget loses at most one batch).
REMOTE_CHUNK = 16


@dataclass(frozen=True)
class AttackMetrics:
    """What one attack achieved at one ε."""

    attack: str
    kind: AttackKind
    norm: str
    epsilon: float
    samples: int
    attacked: int
    robust_accuracy: float
    success_rate: float
    median_linf: float | None
    median_l2: float | None
    queries_mean: float
    queries_median: float
    seconds: float
    partial: str | None = None


@dataclass(frozen=True, eq=False)
class AdversarialExample:
    """An original and its adversarial twin, for the report."""

    row: int
    label: int
    adversarial_label: int
    attack: str
    epsilon: float
    original: NDArray
    adversarial: NDArray


@dataclass(frozen=True, eq=False)
class RobustnessReport:
    """The robustness of one target."""

    target: str
    clean_accuracy: float
    samples: int
    attacks: tuple[AttackMetrics, ...]
    examples: tuple[AdversarialExample, ...] = ()
    fallback: str | None = None
    partial: str | None = None
    precision: str = "fp32"
    device: str = "cpu"
    notes: tuple[str, ...] = field(default=())

    def curve(self, attack: str, norm: str) -> list[tuple[float, float]]:
        """Robust accuracy over ε for one attack and norm, ε ascending."""
        points = [
            (m.epsilon, m.robust_accuracy)
            for m in self.attacks
            if m.attack == attack and m.norm == norm
        ]
        return sorted(points)


def select_samples(data: Dataset, limit: int, seed: int) -> Dataset:
    """A seeded subset of at most ``limit`` rows, in a fixed order."""
    if len(data) <= limit:
        return data
    order = np.random.default_rng(seed).permutation(len(data))[:limit]
    return data.subset(np.sort(order))


def _norms(x: NDArray, x_adv: NDArray) -> tuple[NDArray, NDArray]:
    if len(x) == 0:
        return np.zeros(0), np.zeros(0)
    delta = (x_adv - x).reshape(len(x), -1).astype(np.float64)
    return np.abs(delta).max(axis=1), np.linalg.norm(delta, axis=1)


def _median(values: NDArray) -> float | None:
    return float(np.median(values)) if len(values) else None


def _whitebox(
    target: DifferentiableTarget,
    attack: str,
    x: NDArray,
    y: NDArray,
    epsilon: float,
    norm: Norm,
    spec: RobustnessSpec,
    bounds: tuple[float, float],
    precision: Literal["fp32", "bf16"],
    seed: int,
) -> tuple[NDArray, NDArray, NDArray]:
    import torch

    from bastion.assess.robustness.whitebox import WhiteBoxParams, apgd, fgsm, pgd

    steps = spec.apgd_steps if attack == "apgd-ce" else spec.steps
    params = WhiteBoxParams(
        epsilon,
        norm=norm,
        steps=steps,
        step_size=spec.step_size,
        restarts=spec.restarts,
        bounds=bounds,
        precision=precision,
    )
    device = target.device
    generator = torch.Generator(device=device).manual_seed(seed)
    adv_parts, fooled_parts = [], []
    per_sample = 1
    for start in range(0, len(x), spec.batch_size):
        xb = torch.as_tensor(x[start : start + spec.batch_size], device=device)
        yb = torch.as_tensor(y[start : start + spec.batch_size], device=device)
        if attack == "fgsm":
            adv, per_sample = fgsm(target, xb, yb, params)
        elif attack == "pgd":
            adv, per_sample = pgd(target, xb, yb, params, generator)
        else:
            adv, per_sample = apgd(target, xb, yb, params, generator)
        with torch.inference_mode():
            wrong = target.logits(adv.float()).argmax(dim=1) != yb
        adv_parts.append(adv.float().cpu().numpy())
        fooled_parts.append(wrong.cpu().numpy())
    queries = np.full(len(x), per_sample, dtype=np.int64)
    return np.concatenate(adv_parts), np.concatenate(fooled_parts), queries


@dataclass(frozen=True, eq=False)
class _Outcome:
    epsilon: float
    adv: NDArray
    fooled: NDArray
    queries: NDArray
    done: int
    reason: str | None


def _query_attack(
    target: Target,
    attack: str,
    x: NDArray,
    y: NDArray,
    epsilons: tuple[float, ...],
    spec: RobustnessSpec,
    bounds: tuple[float, float],
    image: bool,
    seed: int,
    budget: TimeBudget,
) -> list[_Outcome]:
    """All ε of one query attack in shared batches (each sample repeated once per ε).

    Rows are sample-major, so a remote target attacked in chunks that stops early (budget,
    rate limit, time) still has complete results for the first samples at every ε.
    """
    count = len(epsilons)
    rows_x = np.repeat(x, count, axis=0)
    rows_y = np.repeat(y, count)
    rows_eps = np.tile(np.asarray(epsilons, dtype=np.float64), len(x))
    chunk = REMOTE_CHUNK * count if target.remote else max(len(rows_x), 1)
    parts: list[QueryAttackResult] = []
    done = 0
    reason = None
    rng = np.random.default_rng(seed)
    for start in range(0, len(rows_x), chunk):
        if budget.expired():
            reason = f"time budget of {budget.seconds:g}s spent"
            break
        part = slice(start, start + chunk)
        try:
            if attack == "square":
                result = square_attack(
                    target,
                    rows_x[part],
                    rows_y[part],
                    rows_eps[part],
                    bounds=bounds,
                    image=image,
                    max_queries=spec.max_queries,
                    rng=rng,
                )
            else:
                result = rays_attack(
                    target,
                    rows_x[part],
                    rows_y[part],
                    rows_eps[part],
                    bounds=bounds,
                    max_queries=spec.max_queries,
                    rng=rng,
                )
        except QueryBudgetExceeded as exc:
            reason = str(exc)
            break
        except EndpointError as exc:
            if not exc.retryable:
                raise
            reason = str(exc)
            break
        parts.append(result)
        done += len(rows_x[part])
    if parts:
        adv = np.concatenate([p.x_adv for p in parts])
        fooled = np.concatenate([p.fooled for p in parts])
        queries = np.concatenate([p.queries for p in parts])
    else:
        adv = np.zeros((0, *x.shape[1:]), dtype=x.dtype)
        fooled, queries = np.zeros(0, bool), np.zeros(0, np.int64)
    return [
        _Outcome(eps, adv[e::count], fooled[e::count], queries[e::count], done // count, reason)
        for e, eps in enumerate(epsilons)
    ]


def evaluate_robustness(
    target: Target,
    data: Dataset,
    spec: RobustnessSpec,
    *,
    bounds: tuple[float, float],
    image: bool,
    seed: int = 0,
    precision: Literal["fp32", "bf16"] = "fp32",
    budget: TimeBudget | None = None,
    progress: ProgressSink = silent,
) -> RobustnessReport:
    """Clean accuracy, then every configured attack at every ε."""
    budget = budget or TimeBudget(None)
    sample = select_samples(data, spec.samples, seed)
    x, y = sample.x, sample.y
    if target.reveals == "proba":
        clean_pred = target.predict_proba(x).argmax(axis=1)
    else:
        clean_pred = target.predict(x)
    correct = clean_pred == y
    clean_acc = float(correct.mean())
    xc, yc, rows = x[correct], y[correct], sample.ids[correct]
    wanted_white = [a for a in spec.attacks if a in WHITEBOX_ATTACKS]
    black = [a for a in spec.attacks if a in BLACKBOX_ATTACKS]
    fallback = None
    notes: list[str] = []
    if wanted_white and not isinstance(target, DifferentiableTarget):
        fallback = (
            f"white-box attacks {wanted_white} need gradients, which {target.name!r} "
            f"({type(target).__name__}) does not expose; ran the query attacks instead"
        )
        black = black or list(BLACKBOX_ATTACKS)
        wanted_white = []
    if "square" in black and target.reveals == "label":
        black.remove("square")
        notes.append("the target reveals labels only: the score-based Square attack was skipped")
        if "rays" not in black:
            black.append("rays")
    jobs: list[tuple[str, Norm, tuple[float, ...]]] = []
    for attack in wanted_white:
        jobs += [(attack, "linf", (e,)) for e in spec.epsilons]
        jobs += [(attack, "l2", (e,)) for e in spec.l2_epsilons]
    for attack in black:
        jobs.append((attack, "linf", tuple(spec.epsilons)))
        if spec.l2_epsilons:
            notes.append(f"{attack} runs in L-inf only; l2_epsilons apply to gradient attacks")
    results: list[AttackMetrics] = []
    examples: list[AdversarialExample] = []
    partial = None
    for index, (attack, norm, epsilons) in enumerate(jobs):
        label = ", ".join(f"{e:g}" for e in epsilons)
        if budget.expired():
            partial = partial or f"time budget of {budget.seconds:g}s spent"
            notes.append(f"skipped {attack} {norm} ε={label}: {partial}")
            continue
        progress(f"{target.name}: {attack} {norm} ε={label}")
        started = time.monotonic()
        attack_seed = seed * 1000 + index
        if KINDS[attack] == "white-box":
            assert isinstance(target, DifferentiableTarget)
            adv, fooled, queries = _whitebox(
                target, attack, xc, yc, epsilons[0], norm, spec, bounds, precision, attack_seed
            )
            outcomes = [_Outcome(epsilons[0], adv, fooled, queries, len(xc), None)]
        else:
            outcomes = _query_attack(
                target, attack, xc, yc, epsilons, spec, bounds, image, attack_seed, budget
            )
        seconds = (time.monotonic() - started) / len(outcomes)
        for out in outcomes:
            done, fooled = out.done, out.fooled
            if out.reason:
                partial = out.reason
                notes.append(
                    f"{attack} ε={out.epsilon:g} stopped after {done} of {len(xc)} samples: "
                    f"{out.reason}"
                )
            linf, l2 = _norms(xc[:done], out.adv)
            success = float(fooled.mean()) if done else 0.0
            results.append(
                AttackMetrics(
                    attack=attack,
                    kind=KINDS[attack],
                    norm=norm,
                    epsilon=out.epsilon,
                    samples=len(y),
                    attacked=done,
                    # Over the attacked (randomly ordered) samples when cut short: an estimate.
                    robust_accuracy=clean_acc * (1.0 - success),
                    success_rate=success,
                    median_linf=_median(linf[fooled]),
                    median_l2=_median(l2[fooled]),
                    queries_mean=float(out.queries.mean()) if done else 0.0,
                    queries_median=float(np.median(out.queries)) if done else 0.0,
                    seconds=seconds,
                    partial=out.reason,
                )
            )
            if len(examples) < spec.examples and fooled.any():
                examples.extend(
                    AdversarialExample(
                        int(rows[i]),
                        int(yc[i]),
                        _label_of(target, out.adv[i]),
                        attack,
                        out.epsilon,
                        xc[i].copy(),
                        out.adv[i].copy(),
                    )
                    for i in np.flatnonzero(fooled)[: spec.examples - len(examples)]
                )
    device = str(target.device) if isinstance(target, DifferentiableTarget) else "n/a"
    return RobustnessReport(
        target=target.name,
        clean_accuracy=clean_acc,
        samples=len(y),
        attacks=tuple(results),
        examples=tuple(examples),
        fallback=fallback,
        partial=partial,
        precision=precision if isinstance(target, DifferentiableTarget) else "n/a",
        device=device,
        notes=tuple(notes),
    )


def _label_of(target: Target, x: NDArray) -> int:
    """The label a local model gives an adversarial example (remote targets: -1, not queried)."""
    if target.remote:
        return -1
    return int(target._labels(x[None])[0])
