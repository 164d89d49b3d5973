"""Running the privacy suite on one target: membership inference, exposure, inversion, DP.

Members are the training split and non-members the held-out split, balanced to the same size
(a seeded subset of each), so 0.5 AUC and a TPR equal to the FPR are chance. The strongest
attack — the one with the highest TPR at 1% FPR, AUC breaking ties — is what the findings
judge; every attack is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bastion.assess.config import DPStatement, PrivacySpec
from bastion.assess.data import AssessData
from bastion.assess.privacy.attacks import (
    MembershipResult,
    classifier_attack,
    threshold_attacks,
)
from bastion.assess.privacy.inversion import InversionResult, invert_classes
from bastion.assess.privacy.lira import run_lira
from bastion.assess.progress import ProgressSink, TimeBudget, silent
from bastion.assess.targets.interface import NDArray, Target


@dataclass(frozen=True, eq=False)
class PrivacyReport:
    """Everything the privacy checks measured on one target."""

    target: str
    members: int
    nonmembers: int
    train_accuracy: float
    test_accuracy: float
    attacks: tuple[MembershipResult, ...]
    exposed: tuple[tuple[int, float], ...] = ()
    exposed_fraction: float = 0.0
    exposure_attack: str = ""
    inversion: InversionResult | None = None
    dp: DPStatement | None = None
    lira_skipped: str | None = None
    shadow_models: int = 0
    notes: tuple[str, ...] = field(default=())

    @property
    def strongest(self) -> MembershipResult | None:
        """The attack with the highest TPR at 1% FPR (then AUC)."""
        if not self.attacks:
            return None
        return max(self.attacks, key=lambda r: (r.summary.tpr_at_1pct_fpr, r.summary.auc))

    def by_name(self, name: str) -> MembershipResult | None:
        """One attack's result."""
        return next((r for r in self.attacks if r.attack == name), None)


def _balanced(
    n_in: int, n_out: int, limit: int, rng: np.random.Generator
) -> tuple[NDArray, NDArray]:
    size = min(n_in, n_out, max(limit // 2, 1))
    return np.sort(rng.permutation(n_in)[:size]), np.sort(rng.permutation(n_out)[:size])


def _label_scores(target: Target, x: NDArray, y: NDArray) -> NDArray:
    return np.asarray(target.predict(x) == y, dtype=np.float64)


def evaluate_privacy(
    target: Target,
    data: AssessData,
    spec: PrivacySpec,
    *,
    seed: int = 0,
    budget: TimeBudget | None = None,
    progress: ProgressSink = silent,
) -> PrivacyReport:
    """Membership attacks, per-record exposure and the inversion probe."""
    rng = np.random.default_rng(seed)
    test = data.holdout()
    pick_in, pick_out = _balanced(len(data.train), len(test), spec.samples, rng)
    members, nonmembers = data.train.subset(pick_in), test.subset(pick_out)
    notes: list[str] = []
    results: list[MembershipResult] = []
    progress(f"{target.name}: membership inference on {len(members)}+{len(nonmembers)} records")
    if target.reveals == "proba":
        p_in, p_out = target.predict_proba(members.x), target.predict_proba(nonmembers.x)
        acc_in = float((p_in.argmax(1) == members.y).mean())
        acc_out = float((p_out.argmax(1) == nonmembers.y).mean())
        results += threshold_attacks(p_in, members.y, p_out, nonmembers.y, spec.attacks)
        if "classifier" in spec.attacks:
            results.append(classifier_attack(p_in, members.y, p_out, nonmembers.y, seed))
    else:
        s_in, s_out = (
            _label_scores(target, members.x, members.y),
            _label_scores(target, nonmembers.x, nonmembers.y),
        )
        acc_in, acc_out = float(s_in.mean()), float(s_out.mean())
        results.append(MembershipResult.of("label-only", s_in, s_out, note="correctness gap"))
        notes.append("the target reveals labels only: score attacks replaced by the gap attack")
    lira_skipped = None
    shadows = 0
    if "lira" in spec.attacks:
        trainer = target.trainer()
        if trainer is None:
            lira_skipped = (
                f"no training recipe for {target.name!r}: configure train = 'module:function'"
            )
        elif target.reveals != "proba":
            lira_skipped = "the target reveals labels only; LiRA needs confidences"
        else:
            x = np.concatenate([members.x, nonmembers.x])
            y = np.concatenate([members.y, nonmembers.y])
            lira = run_lira(
                target, trainer, x, y, spec.shadow_models, seed, progress=progress, budget=budget
            )
            shadows = lira.shadows
            n = len(members)
            results.append(
                MembershipResult.of(
                    "lira-online",
                    lira.online[:n],
                    lira.online[n:],
                    note=f"{lira.shadows} shadow models",
                )
            )
            results.append(
                MembershipResult.of(
                    "lira-offline",
                    lira.offline[:n],
                    lira.offline[n:],
                    note=f"{lira.shadows} shadow models (OUT only)",
                )
            )
    exposed, fraction, exposure_attack = _exposure(results, members.ids, spec.exposed_records)
    inversion = None
    if spec.inversion and target.reveals != "proba":
        notes.append("inversion probe skipped: the target reveals labels only")
    elif spec.inversion and not (budget is not None and budget.expired()):
        progress(f"{target.name}: model inversion probe")
        inversion = invert_classes(
            target,
            data.train.x,
            data.train.y,
            steps=spec.inversion_steps,
            bounds=data.bounds,
            seed=seed,
        )
    return PrivacyReport(
        target=target.name,
        members=len(members),
        nonmembers=len(nonmembers),
        train_accuracy=acc_in,
        test_accuracy=acc_out,
        attacks=tuple(results),
        exposed=exposed,
        exposed_fraction=fraction,
        exposure_attack=exposure_attack,
        inversion=inversion,
        dp=target.dp,
        lira_skipped=lira_skipped,
        shadow_models=shadows,
        notes=tuple(notes),
    )


def _exposure(
    results: list[MembershipResult], ids: NDArray, top: int
) -> tuple[tuple[tuple[int, float], ...], float, str]:
    """Members above the 0.1%-FPR threshold of the preferred attack, most exposed first."""
    preferred = next(
        (
            r
            for name in ("lira-online", "lira-offline", "loss", "label-only")
            for r in results
            if r.attack == name
        ),
        None,
    )
    if preferred is None:
        return (), 0.0, ""
    threshold = float(np.quantile(preferred.nonmember_scores, 0.999))
    above = preferred.member_scores > threshold
    order = np.argsort(-preferred.member_scores)
    listed = tuple(
        (int(ids[i]), float(preferred.member_scores[i])) for i in order[:top] if above[i]
    )
    return listed, float(above.mean()), preferred.attack
