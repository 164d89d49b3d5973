"""White-box attacks against the reference libraries on the same digits CNN, ε and settings.

torchattacks (installed with --no-deps) and ART are test-only cross-checks. FGSM is
deterministic and must match exactly; PGD and APGD use random starts, so the robust accuracies
must agree within one percentage point.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from bastion.assess.config import RobustnessSpec
from bastion.assess.data import Dataset
from bastion.assess.robustness.evaluate import evaluate_robustness
from bastion.assess.robustness.whitebox import WhiteBoxParams, apgd, apgd_checkpoints, fgsm, pgd
from bastion.assess.targets.torch_target import TorchTarget
from tests.assess.conftest import Digits

torch = pytest.importorskip("torch")

N = 899  # the whole held-out half: per-seed noise of random starts is about ±0.5 points


@pytest.fixture(scope="module")
def batch(digits: Digits) -> tuple[Any, Any]:
    idx = digits.test[:N]
    return (torch.as_tensor(digits.x[idx].reshape(-1, 1, 8, 8)), torch.as_tensor(digits.y[idx]))


def _acc(model: Any, x: Any, y: Any) -> float:
    with torch.inference_mode():
        return float((model(x).argmax(1) == y).float().mean())


def _target(cnn: Any) -> TorchTarget:
    return TorchTarget("cnn", cnn, 10, device=torch.device("cpu"))


def test_apgd_checkpoints_match_autoattack() -> None:
    assert apgd_checkpoints(100) == [22, 41, 57, 70, 80, 87, 93, 99]


def test_fgsm_matches_torchattacks_exactly(cnn: Any, batch: tuple[Any, Any]) -> None:
    torchattacks = pytest.importorskip("torchattacks")
    x, y = batch
    for eps in (0.05, 0.1):
        ours, _ = fgsm(_target(cnn), x, y, WhiteBoxParams(eps))
        theirs = torchattacks.FGSM(cnn, eps=eps)(x, y)
        assert torch.allclose(ours, theirs, atol=1e-6)


@pytest.mark.parametrize("eps", [0.05, 0.1])
def test_pgd_linf_within_one_point_of_torchattacks(
    cnn: Any, batch: tuple[Any, Any], eps: float
) -> None:
    torchattacks = pytest.importorskip("torchattacks")
    x, y = batch
    params = WhiteBoxParams(eps, steps=10)
    ours, _ = pgd(_target(cnn), x, y, params, torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    theirs = torchattacks.PGD(cnn, eps=eps, alpha=params.alpha, steps=10, random_start=True)(x, y)
    assert abs(_acc(cnn, ours, y) - _acc(cnn, theirs, y)) <= 0.01


@pytest.mark.slow
def test_pgd_l2_within_one_point_of_art(cnn: Any, batch: tuple[Any, Any]) -> None:
    pytest.importorskip("art")
    from art.attacks.evasion import ProjectedGradientDescent
    from art.estimators.classification import PyTorchClassifier

    x, y = batch
    eps = 0.6
    params = WhiteBoxParams(eps, norm="l2", steps=10)
    classifier = PyTorchClassifier(
        cnn,
        loss=torch.nn.CrossEntropyLoss(),
        input_shape=(1, 8, 8),
        nb_classes=10,
        clip_values=(0.0, 1.0),
    )
    attack = ProjectedGradientDescent(
        classifier,
        norm=2,
        eps=eps,
        eps_step=params.alpha,
        max_iter=10,
        num_random_init=1,
        verbose=False,
    )
    ours, theirs = [], []
    for seed in (0, 1):  # mean of two seeds of each: the random start is the only difference
        adv, _ = pgd(_target(cnn), x, y, params, torch.Generator().manual_seed(seed))
        ours.append(_acc(cnn, adv, y))
        np.random.seed(seed)
        theirs.append(_acc(cnn, torch.as_tensor(attack.generate(x.numpy(), y=y.numpy())), y))
    assert abs(np.mean(ours) - np.mean(theirs)) <= 0.01


@pytest.mark.slow
@pytest.mark.parametrize("eps", [0.05, 0.1])
def test_apgd_ce_within_one_point_of_torchattacks(
    cnn: Any, batch: tuple[Any, Any], eps: float
) -> None:
    torchattacks = pytest.importorskip("torchattacks")
    x, y = batch
    ours, _ = apgd(
        _target(cnn), x, y, WhiteBoxParams(eps, steps=20), torch.Generator().manual_seed(0)
    )
    theirs = torchattacks.APGD(cnn, eps=eps, steps=20, n_restarts=1, loss="ce", seed=0)(x, y)
    assert abs(_acc(cnn, ours, y) - _acc(cnn, theirs, y)) <= 0.01


def test_apgd_is_at_least_as_strong_as_pgd(cnn: Any, batch: tuple[Any, Any]) -> None:
    x, y = batch
    target = _target(cnn)
    strong, _ = apgd(target, x, y, WhiteBoxParams(0.1, steps=20), torch.Generator().manual_seed(1))
    weak, _ = pgd(target, x, y, WhiteBoxParams(0.1, steps=10), torch.Generator().manual_seed(1))
    assert _acc(cnn, strong, y) <= _acc(cnn, weak, y) + 0.01
    assert float((strong - x).abs().max()) <= 0.1 + 1e-6


def test_suite_is_deterministic_and_bf16_does_not_change_results(cnn: Any, digits: Digits) -> None:
    data = Dataset.of(
        digits.x[digits.test[:200]].reshape(-1, 1, 8, 8), digits.y[digits.test[:200]], source="test"
    )
    spec = RobustnessSpec(attacks=("fgsm", "pgd"), epsilons=(0.05, 0.1), samples=200)
    runs = [
        evaluate_robustness(
            _target(cnn), data, spec, bounds=(0.0, 1.0), image=True, seed=3, precision=p
        )
        for p in ("fp32", "fp32", "bf16")
    ]
    first, second, half = ([m.robust_accuracy for m in r.attacks] for r in runs)
    assert first == second
    assert all(abs(a - b) <= 0.03 for a, b in zip(first, half, strict=True))
    assert runs[0].clean_accuracy == runs[2].clean_accuracy
