"""Differentially private training of PyTorch models with Opacus (DP-SGD).

Per-sample gradients are clipped to ``max_grad_norm`` and Gaussian noise is added, with the noise
multiplier chosen by Opacus' RDP accountant so that ``epochs`` passes of Poisson-sampled batches
spend at most (ε, δ). The returned record states the ε actually spent, which ``bastion assess``
reports as the model's guarantee. Models with batch normalisation are refused by Opacus (it mixes
samples); the error says so.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bastion.assess.config import DPStatement
from bastion.assess.errors import HardenError
from bastion.assess.progress import ProgressSink, silent
from bastion.assess.targets.interface import NDArray
from bastion.errors import MissingDependencyError

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class DPTraining:
    """Settings of one DP-SGD run."""

    epsilon: float
    delta: float = 1e-5
    epochs: int = 10
    batch_size: int = 64
    learning_rate: float = 0.5
    max_grad_norm: float = 1.0
    seed: int = 0


def dp_train(
    build: Callable[[], torch.nn.Module],
    x: NDArray,
    y: NDArray,
    settings: DPTraining,
    *,
    progress: ProgressSink = silent,
) -> tuple[torch.nn.Module, DPStatement]:
    """Train a fresh module from ``build`` with DP-SGD; returns it and the guarantee spent."""
    import torch
    import torch.nn.functional as F

    try:
        from opacus import PrivacyEngine
        from opacus.validators import ModuleValidator
    except ImportError:
        raise MissingDependencyError("opacus", "dp", "differentially private training") from None
    torch.manual_seed(settings.seed)
    module = build()
    problems = ModuleValidator.validate(module, strict=False)
    if problems:
        raise HardenError(f"Opacus cannot train this module privately: {problems[0]}")
    dataset = torch.utils.data.TensorDataset(
        torch.as_tensor(np.asarray(x, dtype=np.float32)),
        torch.as_tensor(np.asarray(y, dtype=np.int64)),
    )
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=settings.batch_size,
        generator=torch.Generator().manual_seed(settings.seed),
    )
    optimizer = torch.optim.SGD(module.parameters(), lr=settings.learning_rate)
    with warnings.catch_warnings():
        # Opacus warns that its fast (non-cryptographic) RNG is in use; the record says so.
        warnings.filterwarnings("ignore", message="Secure RNG turned off")
        warnings.filterwarnings("ignore", category=UserWarning, module="opacus")
        warnings.filterwarnings("ignore", message="Full backward hook is firing")
        engine = PrivacyEngine(accountant="rdp")
        private, optimizer, loader = engine.make_private_with_epsilon(
            module=module,
            optimizer=optimizer,
            data_loader=loader,
            target_epsilon=settings.epsilon,
            target_delta=settings.delta,
            epochs=settings.epochs,
            max_grad_norm=settings.max_grad_norm,
        )
    for epoch in range(settings.epochs):
        private.train()
        with warnings.catch_warnings():
            # Opacus' per-sample gradient hooks fire on outputs when inputs need no gradient.
            warnings.filterwarnings("ignore", message="Full backward hook is firing")
            for xb, yb in loader:
                if len(xb) == 0:
                    continue
                optimizer.zero_grad()
                F.cross_entropy(private(xb), yb).backward()  # type: ignore[no-untyped-call]
                optimizer.step()
        progress(
            f"DP-SGD epoch {epoch + 1}/{settings.epochs}: "
            f"ε spent {engine.get_epsilon(settings.delta):.2f}"
        )
    spent = float(engine.get_epsilon(settings.delta))
    trained: torch.nn.Module = getattr(private, "_module", private)
    statement = DPStatement(
        spent,
        settings.delta,
        f"DP-SGD (Opacus, RDP accountant; clip {settings.max_grad_norm:g}, "
        f"noise multiplier {optimizer.noise_multiplier:.3g}, {settings.epochs} epochs, "
        "non-cryptographic RNG)",
    )
    return trained.eval(), statement
