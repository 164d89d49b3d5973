"""Membership inference: ROC metrics, the issue's digits figures, ART consistency, DP forest."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from bastion.assess.config import PrivacySpec
from bastion.assess.data import AssessData, Dataset
from bastion.assess.metrics import RocSummary, auc, roc_curve, tpr_at_fpr
from bastion.assess.privacy.evaluate import evaluate_privacy
from bastion.assess.privacy.lira import balanced_inclusion, phi, resolution_clip
from bastion.assess.targets.sklearn_target import SklearnTarget
from tests.assess.conftest import Digits


def _data(digits: Digits) -> AssessData:
    train = Dataset.of(digits.x[digits.train], digits.y[digits.train], source="train")
    test = Dataset.of(digits.x[digits.test], digits.y[digits.test], source="test")
    return AssessData(train, test, (64,), (0.0, 1.0), False, 10)


def test_roc_metrics_agree_with_scikit_learn() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    labels = rng.random(2000) < 0.5
    scores = np.round(rng.random(2000) + 0.4 * labels, 2)  # ties on purpose
    fpr, tpr = roc_curve(labels, scores)
    assert abs(auc(fpr, tpr) - roc_auc_score(labels, scores)) < 1e-12
    assert tpr_at_fpr(fpr, tpr, 0.0) <= tpr_at_fpr(fpr, tpr, 0.01) <= 1
    perfect = RocSummary.of(np.array([1, 1, 0, 0]), np.array([4.0, 3.0, 2.0, 1.0]))
    assert perfect.auc == 1.0 and perfect.tpr_at_01pct_fpr == 1.0


def test_lira_design_and_clip() -> None:
    mask = balanced_inclusion(16, 50, np.random.default_rng(0))
    assert (mask.sum(axis=0) == 8).all()
    forest_like = np.array([0.0, 0.004, 0.5, 1.0])
    clip = resolution_clip(forest_like)
    assert clip == pytest.approx(0.002)
    assert np.isfinite(phi(forest_like, clip)).all()


@pytest.mark.slow
def test_strongest_attack_beats_the_issue_figures(forest: Any, digits: Digits) -> None:
    """Digits, half the data as members, overfit forest: AUC >= 0.90 and TPR@1%FPR >= 11%."""
    report = evaluate_privacy(
        SklearnTarget("rf", forest, 10),
        _data(digits),
        PrivacySpec(shadow_models=16, inversion=False),
        seed=0,
    )
    assert report.train_accuracy == 1.0 and report.test_accuracy > 0.95
    best = report.strongest
    assert best is not None and best.attack.startswith("lira")
    assert best.summary.auc >= 0.90
    assert best.summary.tpr_at_1pct_fpr >= 0.11
    loss = report.by_name("loss")
    assert loss is not None and 0.7 < loss.summary.auc < best.summary.auc
    assert report.exposed and report.exposure_attack == "lira-online"


@pytest.mark.slow
def test_classifier_attack_is_consistent_with_art(forest: Any, digits: Digits) -> None:
    pytest.importorskip("art")
    from art.attacks.inference.membership_inference import MembershipInferenceBlackBox
    from art.estimators.classification import SklearnClassifier

    data = _data(digits)
    report = evaluate_privacy(
        SklearnTarget("rf", forest, 10),
        data,
        PrivacySpec(attacks=("classifier",), inversion=False),
        seed=0,
    )
    ours = report.by_name("classifier")
    assert ours is not None
    x_in, y_in = data.train.x, data.train.y
    x_out, y_out = data.holdout().x, data.holdout().y
    half_in, half_out = len(x_in) // 2, len(x_out) // 2
    attack = MembershipInferenceBlackBox(SklearnClassifier(forest), attack_model_type="gb")
    attack.fit(x_in[:half_in], y_in[:half_in], x_out[:half_out], y_out[:half_out])
    p_in = attack.infer(x_in[half_in:], y_in[half_in:], probabilities=True)
    p_out = attack.infer(x_out[half_out:], y_out[half_out:], probabilities=True)
    labels = np.r_[np.ones(len(p_in)), np.zeros(len(p_out))]
    art_auc = RocSummary.of(labels, np.r_[np.ravel(p_in), np.ravel(p_out)]).auc
    assert abs(ours.summary.auc - art_auc) <= 0.05


@pytest.mark.slow
def test_dp_forest_leaks_nothing_and_loses_utility(digits: Digits) -> None:
    from bastion.assess.harden.dp_forest import DPRandomForestClassifier

    model = DPRandomForestClassifier(
        epsilon=1.0, bounds=(0.0, 1.0), classes=list(range(10)), random_state=0
    )
    model.fit(digits.x[digits.train], digits.y[digits.train])
    report = evaluate_privacy(
        SklearnTarget("dp", model, 10),
        _data(digits),
        PrivacySpec(shadow_models=8, inversion=False),
        seed=0,
    )
    for result in report.attacks:
        assert abs(result.summary.auc - 0.5) < 0.07, result.attack
        assert result.summary.tpr_at_1pct_fpr < 0.05, result.attack
    assert report.test_accuracy < 0.6


def test_inversion_probe_identifies_classes_of_a_cnn(cnn: Any, digits: Digits) -> None:
    import torch

    from bastion.assess.privacy.inversion import invert_classes
    from bastion.assess.targets.torch_target import TorchTarget

    target = TorchTarget("cnn", cnn, 10, device=torch.device("cpu"))
    x = digits.x[digits.train].reshape(-1, 1, 8, 8)
    result = invert_classes(target, x, digits.y[digits.train], steps=100, bounds=(0.0, 1.0), seed=0)
    assert result.identification_rate >= 0.8
    assert min(result.confidence) > 0.9
    assert result.reconstructions.shape == (10, 1, 8, 8)
