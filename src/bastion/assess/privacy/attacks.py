"""Membership-inference attacks that need no shadow models, and the per-record scores they use.

* **loss** — the loss-threshold attack (Yeom et al., 2018): members have lower loss.
* **confidence** — the top-class confidence, which needs no label.
* **classifier** — a gradient-boosted classifier on the probability vector, the one-hot label,
  the true-class probability, the loss and the entropy, trained on half of the known members and
  non-members and evaluated on the other half; the same kind of attack as ART's
  ``MembershipInferenceBlackBox``.

Scores follow one convention: higher means "more likely a member".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bastion.assess.metrics import NDArray, RocSummary, downsample_curve, roc_curve

EPS = 1e-12


def true_class_proba(proba: NDArray, y: NDArray) -> NDArray:
    """``p_y`` per row."""
    return np.asarray(proba[np.arange(len(y)), y])


def logit_confidence(proba: NDArray, y: NDArray) -> NDArray:
    """LiRA's score ``log p_y − log(1 − p_y)``, computed from the other classes' mass."""
    py = true_class_proba(proba, y)
    rest = proba.sum(axis=1) - py
    return np.asarray(np.log(py + EPS) - np.log(np.clip(rest, 0, None) + EPS))


def loss_scores(proba: NDArray, y: NDArray) -> NDArray:
    """Negative cross-entropy (higher = lower loss = more member-like)."""
    return np.asarray(np.log(true_class_proba(proba, y) + EPS))


def confidence_scores(proba: NDArray) -> NDArray:
    """The top-class probability."""
    return np.asarray(proba.max(axis=1))


def attack_features(proba: NDArray, y: NDArray) -> NDArray:
    """Features for the classifier attack: the probability vector and the one-hot label (as
    ART's black-box attack uses them), plus p_y, its log and the entropy."""
    onehot = np.eye(proba.shape[1])[y]
    py = true_class_proba(proba, y)
    entropy = -(proba * np.log(proba + EPS)).sum(axis=1)
    return np.column_stack([proba, onehot, py, np.log(py + EPS), entropy])


@dataclass(frozen=True, eq=False)
class MembershipResult:
    """One attack's scores and ROC figures."""

    attack: str
    summary: RocSummary
    roc: list[tuple[float, float]]
    member_scores: NDArray
    nonmember_scores: NDArray
    note: str = ""
    extra: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(
        cls, attack: str, members: NDArray, nonmembers: NDArray, note: str = ""
    ) -> MembershipResult:
        """Summarise member and non-member scores."""
        labels = np.r_[np.ones(len(members), bool), np.zeros(len(nonmembers), bool)]
        scores = np.r_[members, nonmembers]
        fpr, tpr = roc_curve(labels, scores)
        return cls(
            attack,
            RocSummary.of(labels, scores),
            downsample_curve(fpr, tpr),
            np.asarray(members, dtype=np.float64),
            np.asarray(nonmembers, dtype=np.float64),
            note,
        )


def threshold_attacks(
    proba_in: NDArray, y_in: NDArray, proba_out: NDArray, y_out: NDArray, attacks: tuple[str, ...]
) -> list[MembershipResult]:
    """The loss and confidence attacks on members (``_in``) and non-members (``_out``)."""
    results = []
    if "loss" in attacks:
        results.append(
            MembershipResult.of("loss", loss_scores(proba_in, y_in), loss_scores(proba_out, y_out))
        )
    if "confidence" in attacks:
        results.append(
            MembershipResult.of(
                "confidence", confidence_scores(proba_in), confidence_scores(proba_out)
            )
        )
    return results


def classifier_attack(
    proba_in: NDArray, y_in: NDArray, proba_out: NDArray, y_out: NDArray, seed: int
) -> MembershipResult:
    """Train on half of each group, score the other half."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(seed)
    f_in, f_out = attack_features(proba_in, y_in), attack_features(proba_out, y_out)
    order_in, order_out = rng.permutation(len(f_in)), rng.permutation(len(f_out))
    half_in, half_out = len(f_in) // 2, len(f_out) // 2
    train_x = np.r_[f_in[order_in[:half_in]], f_out[order_out[:half_out]]]
    train_y = np.r_[np.ones(half_in), np.zeros(half_out)]
    model = HistGradientBoostingClassifier(max_iter=100, random_state=seed)
    model.fit(train_x, train_y)
    score_in = model.predict_proba(f_in[order_in[half_in:]])[:, 1]
    score_out = model.predict_proba(f_out[order_out[half_out:]])[:, 1]
    return MembershipResult.of(
        "classifier",
        score_in,
        score_out,
        note=f"attack model trained on {half_in}+{half_out} records, scored on the rest",
    )
