"""Fixtures for the assessment tests: digits data, a small CNN and a random forest, trained here."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True, scope="session")
def _one_thread() -> Iterator[None]:
    """Small models on a shared runner: one intra-op thread is fastest (and deterministic)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@dataclass
class Digits:
    x: np.ndarray
    y: np.ndarray
    train: np.ndarray
    test: np.ndarray


@pytest.fixture(scope="session")
def digits() -> Digits:
    """scikit-learn digits in [0, 1], split in half (seed 0)."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    order = np.random.default_rng(0).permutation(len(x))
    return Digits(x, y, np.sort(order[: len(x) // 2]), np.sort(order[len(x) // 2 :]))


def build_cnn() -> Any:
    """A small CNN for 1x8x8 digits (entry point used by config tests too)."""
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(512, 64),
        nn.ReLU(),
        nn.Linear(64, 10),
    )


def train_cnn(x: np.ndarray, y: np.ndarray, *, seed: int = 0, epochs: int = 12) -> Any:
    """Adam, batch 64 — deterministic under the seed."""
    from torch import nn

    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = build_cnn()
    inputs = torch.as_tensor(x, dtype=torch.float32).reshape(-1, 1, 8, 8)
    labels = torch.as_tensor(y, dtype=torch.long)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(epochs):
        order = torch.randperm(len(inputs), generator=generator)
        for start in range(0, len(inputs), 64):
            batch = order[start : start + 64]
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(inputs[batch]), labels[batch]).backward()
            optimizer.step()
    return model.eval()


@pytest.fixture(scope="session")
def cnn(digits: Digits) -> Any:
    """The CNN trained on the training half."""
    return train_cnn(digits.x[digits.train], digits.y[digits.train])


@pytest.fixture(scope="session")
def forest(digits: Digits) -> Any:
    """An overfit random forest on the training half (train 1.00, test about 0.97)."""
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=100, random_state=0, n_jobs=1).fit(
        digits.x[digits.train], digits.y[digits.train]
    )
