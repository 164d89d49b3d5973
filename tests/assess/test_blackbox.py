"""Query attacks on a random forest: Square's query count, RayS against HopSkipJump (ART)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from bastion.assess.config import RobustnessSpec
from bastion.assess.data import Dataset
from bastion.assess.robustness.blackbox import margins, rays_attack, square_attack
from bastion.assess.robustness.evaluate import evaluate_robustness
from bastion.assess.targets.sklearn_target import SklearnTarget
from tests.assess.conftest import Digits


@pytest.fixture(scope="module")
def correct(digits: Digits, forest: Any) -> tuple[np.ndarray, np.ndarray]:
    idx = digits.test[:100]
    keep = forest.predict(digits.x[idx]) == digits.y[idx]
    return digits.x[idx][keep].reshape(-1, 1, 8, 8), digits.y[idx][keep]


def test_margins() -> None:
    proba = np.array([[0.7, 0.2, 0.1], [0.3, 0.6, 0.1]])
    assert np.allclose(margins(proba, np.array([0, 0])), [0.5, -0.3])


def test_square_fools_the_forest_at_03_with_few_queries(
    forest: Any, correct: tuple[Any, Any]
) -> None:
    x, y = correct
    target = SklearnTarget("rf", forest, 10)
    result = square_attack(
        target,
        x,
        y,
        0.3,
        bounds=(0.0, 1.0),
        image=True,
        max_queries=1000,
        rng=np.random.default_rng(0),
    )
    assert result.fooled.all()
    assert result.queries.mean() <= 60
    assert np.abs(result.x_adv - x).max() <= 0.3 + 1e-6
    assert (forest.predict(result.x_adv.reshape(len(x), -1)) != y).all()
    assert target.queries == int(result.queries.sum())


@pytest.mark.slow
def test_rays_label_only_succeeds_at_03(forest: Any, correct: tuple[Any, Any]) -> None:
    x, y = correct
    target = SklearnTarget("rf", forest, 10)
    result = rays_attack(
        target, x, y, 0.3, bounds=(0.0, 1.0), max_queries=500, rng=np.random.default_rng(0)
    )
    assert result.fooled.mean() >= 0.98
    assert result.queries.mean() <= 80
    fooled = result.fooled
    assert (forest.predict(result.x_adv[fooled].reshape(fooled.sum(), -1)) != y[fooled]).all()
    assert np.abs(result.x_adv - x).max() <= 0.3 + 1e-6


def test_per_sample_epsilons_share_batches(forest: Any, correct: tuple[Any, Any]) -> None:
    x, y = correct
    target = SklearnTarget("rf", forest, 10)
    eps = np.where(np.arange(len(x)) % 2 == 0, 0.05, 0.3)
    result = square_attack(
        target,
        x,
        y,
        eps,
        bounds=(0.0, 1.0),
        image=True,
        max_queries=100,
        rng=np.random.default_rng(0),
    )
    delta = np.abs(result.x_adv - x).reshape(len(x), -1).max(axis=1)
    assert (delta <= eps + 1e-6).all()
    assert result.fooled[eps == 0.3].mean() > result.fooled[eps == 0.05].mean()


def test_non_differentiable_target_falls_back_and_says_so(forest: Any, digits: Digits) -> None:
    data = Dataset.of(digits.x[digits.test[:20]], digits.y[digits.test[:20]], source="t")
    spec = RobustnessSpec(attacks=("pgd",), epsilons=(0.3,), samples=20, max_queries=30)
    report = evaluate_robustness(
        SklearnTarget("rf", forest, 10), data, spec, bounds=(0.0, 1.0), image=False
    )
    assert report.fallback is not None and "need gradients" in report.fallback
    assert {m.attack for m in report.attacks} == {"square", "rays"}


@pytest.mark.slow
def test_rays_matches_hopskipjump_with_five_times_fewer_queries(
    forest: Any, correct: tuple[Any, Any]
) -> None:
    pytest.importorskip("art")
    from art.attacks.evasion import HopSkipJump
    from art.estimators.classification import SklearnClassifier

    x, y = correct
    x, y = x[:12], y[:12]
    flat = x.reshape(len(x), -1)
    classifier = SklearnClassifier(forest, clip_values=(0.0, 1.0))
    calls = {"rows": 0}
    original = classifier.predict

    def counted(batch: np.ndarray, **kw: Any) -> np.ndarray:
        calls["rows"] += len(batch)
        return original(batch, **kw)

    classifier.predict = counted  # type: ignore[method-assign]
    attack = HopSkipJump(
        classifier, norm=np.inf, max_iter=10, max_eval=1000, init_eval=100, verbose=False
    )
    np.random.seed(0)
    adv = attack.generate(flat)
    hsj_queries = calls["rows"] / len(x)
    hsj_success = float(((forest.predict(adv) != y) & (np.abs(adv - flat).max(1) <= 0.3)).mean())
    result = rays_attack(
        SklearnTarget("rf", forest, 10),
        x,
        y,
        0.3,
        bounds=(0.0, 1.0),
        max_queries=int(hsj_queries / 5),
        rng=np.random.default_rng(0),
    )
    assert result.fooled.mean() >= hsj_success
    assert result.queries.mean() * 5 <= hsj_queries
