"""Membership inference on digits: bastion's attacks side by side with ART's, then a DP forest.

The issue's setting: scikit-learn digits in [0, 1], half the data as members, an overfit random
forest (100 trees; train 1.00, test about 0.97). Printed per attack: AUC, best balanced
accuracy, TPR at 1% and at 0.1% FPR. ART's ``MembershipInferenceBlackBox`` is trained on half of
the members and non-members and scored on the rest (as bastion's classifier attack is). The
second table repeats everything for bastion's DP random forest at ε = 1 (and ε = 10), with the
utility next to the leakage.

Usage::

    .venv/bin/python bench/privacy.py [--shadows 16] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from bastion.assess.config import PrivacySpec  # noqa: E402
from bastion.assess.data import AssessData, Dataset  # noqa: E402
from bastion.assess.metrics import RocSummary  # noqa: E402
from bastion.assess.privacy.evaluate import evaluate_privacy  # noqa: E402
from bastion.assess.targets.sklearn_target import SklearnTarget  # noqa: E402


def art_blackbox(model: Any, data: AssessData, kind: str) -> RocSummary | None:
    """ART's black-box attack on the same split (first half to train, second half to score)."""
    try:
        from art.attacks.inference.membership_inference import MembershipInferenceBlackBox
        from art.estimators.classification import BlackBoxClassifier, SklearnClassifier
    except ImportError:
        return None
    try:
        wrapped: Any = SklearnClassifier(model)
    except TypeError:  # bastion's DP estimators are not scikit-learn classes to ART
        wrapped = BlackBoxClassifier(model.predict_proba, (64,), 10, clip_values=(0.0, 1.0))
    x_in, y_in = data.train.flat(), data.train.y
    x_out, y_out = data.holdout().flat(), data.holdout().y
    h_in, h_out = len(x_in) // 2, len(x_out) // 2
    attack = MembershipInferenceBlackBox(wrapped, attack_model_type=kind)
    attack.fit(x_in[:h_in], y_in[:h_in], x_out[:h_out], y_out[:h_out])
    p_in = np.ravel(attack.infer(x_in[h_in:], y_in[h_in:], probabilities=True))
    p_out = np.ravel(attack.infer(x_out[h_out:], y_out[h_out:], probabilities=True))
    return RocSummary.of(np.r_[np.ones(len(p_in)), np.zeros(len(p_out))], np.r_[p_in, p_out])


def table(title: str, rows: list[tuple[str, RocSummary]], utility: tuple[float, float]) -> None:
    print(f"\n{title} — train accuracy {utility[0]:.3f}, test accuracy {utility[1]:.3f}")
    print(f"{'attack':34s} {'AUC':>6s} {'bal.acc':>8s} {'TPR@1%':>8s} {'TPR@0.1%':>9s}")
    for name, s in rows:
        print(
            f"{name:34s} {s.auc:6.3f} {100 * s.balanced_accuracy:7.1f}% "
            f"{100 * s.tpr_at_1pct_fpr:7.1f}% {100 * s.tpr_at_01pct_fpr:8.1f}%"
        )


def assess(model: Any, data: AssessData, shadows: int, seed: int, label: str) -> None:
    start = time.perf_counter()
    report = evaluate_privacy(
        SklearnTarget(label, model, 10),
        data,
        PrivacySpec(shadow_models=shadows, inversion=False),
        seed=seed,
    )
    seconds = time.perf_counter() - start
    rows = [(f"bastion {r.attack}", r.summary) for r in report.attacks]
    for kind in ("rf", "nn"):
        art = art_blackbox(model, data, kind)
        if art is not None:
            rows.append((f"ART MembershipInferenceBlackBox/{kind}", art))
    table(label, rows, (report.train_accuracy, report.test_accuracy))
    best = report.strongest
    if best is not None:
        print(
            f"strongest bastion attack: {best.attack} (AUC {best.summary.auc:.3f}, "
            f"TPR@1% {100 * best.summary.tpr_at_1pct_fpr:.1f}%, TPR@0.1% "
            f"{100 * best.summary.tpr_at_01pct_fpr:.1f}%); bastion took {seconds:.1f}s with "
            f"{shadows} shadow models"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shadows", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier
    from threadpoolctl import threadpool_limits

    from bastion.assess.harden.dp_forest import DPRandomForestClassifier

    threadpool_limits(1)
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    order = np.random.default_rng(args.seed).permutation(len(x))
    members, others = order[: len(x) // 2], order[len(x) // 2 :]
    data = AssessData(
        Dataset.of(x[members], y[members], source="members"),
        Dataset.of(x[others], y[others], source="non-members"),
        (64,),
        (0.0, 1.0),
        False,
        10,
    )
    print(
        "Issue reference (digits, overfit forest): loss threshold AUC 0.78; ART black-box AUC "
        "0.81, TPR 11% @1% FPR; LiRA-style with 16 shadows AUC 0.90, TPR 5% @1% FPR."
    )
    forest = RandomForestClassifier(100, random_state=args.seed, n_jobs=1).fit(
        x[members], y[members]
    )
    assess(forest, data, args.shadows, args.seed, "random forest (100 trees)")
    for epsilon in (1.0, 10.0):
        dp = DPRandomForestClassifier(
            epsilon=epsilon, bounds=(0.0, 1.0), classes=list(range(10)), random_state=args.seed
        ).fit(x[members], y[members])
        assess(dp, data, args.shadows, args.seed, f"bastion DP random forest, ε={epsilon:g}")


if __name__ == "__main__":
    main()
