"""PGD adversarial training (Madry et al., 2018) for PyTorch classifiers.

Each batch is replaced by PGD examples crafted against the current weights (L-inf, random start,
``steps`` steps of size ``2.5·ε/steps``) — optionally mixed with the clean batch — and the model is
trained on them with Adam. Deterministic under the seed on the CPU.

>>> from bastion.assess.harden.adversarial import AdversarialTraining
>>> AdversarialTraining(epsilon=0.1).steps
7
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bastion.assess.errors import HardenError
from bastion.assess.progress import ProgressSink, silent
from bastion.assess.targets.interface import NDArray

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class AdversarialTraining:
    """Settings of one adversarial-training run."""

    epsilon: float
    steps: int = 7
    epochs: int = 10
    batch_size: int = 64
    learning_rate: float = 3e-3
    clean_fraction: float = 0.5
    bounds: tuple[float, float] = (0.0, 1.0)
    seed: int = 0


def pgd_batch(
    module: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    epsilon: float,
    steps: int,
    bounds: tuple[float, float],
    generator: torch.Generator,
) -> torch.Tensor:
    """PGD examples against ``module`` without touching its parameter gradients."""
    import torch
    import torch.nn.functional as F

    alpha = 2.5 * epsilon / steps
    noise = torch.rand(x.shape, generator=generator, dtype=x.dtype)
    x_adv = (x + (2 * noise - 1) * epsilon).clamp(*bounds)
    for _ in range(steps):
        x_adv = x_adv.detach().requires_grad_(True)
        loss = F.cross_entropy(module(x_adv), y)
        (grad,) = torch.autograd.grad(loss, x_adv)
        x_adv = x_adv.detach() + alpha * grad.sign()
        x_adv = torch.min(torch.max(x_adv, x - epsilon), x + epsilon).clamp(*bounds)
    return x_adv.detach()


def adversarial_train(
    build: Callable[[], torch.nn.Module],
    x: NDArray,
    y: NDArray,
    settings: AdversarialTraining,
    *,
    progress: ProgressSink = silent,
) -> torch.nn.Module:
    """Train a fresh module from ``build`` on PGD examples of ``(x, y)``."""
    import torch
    import torch.nn.functional as F

    if not 0 <= settings.clean_fraction < 1:
        raise HardenError("clean_fraction must be in [0, 1)")
    torch.manual_seed(settings.seed)
    generator = torch.Generator().manual_seed(settings.seed)
    module = build()
    inputs = torch.as_tensor(np.asarray(x, dtype=np.float32))
    labels = torch.as_tensor(np.asarray(y, dtype=np.int64))
    optimizer = torch.optim.Adam(module.parameters(), lr=settings.learning_rate)
    for epoch in range(settings.epochs):
        order = torch.randperm(len(inputs), generator=generator)
        total = 0.0
        for start in range(0, len(inputs), settings.batch_size):
            idx = order[start : start + settings.batch_size]
            xb, yb = inputs[idx], labels[idx]
            module.eval()
            adv = pgd_batch(
                module, xb, yb, settings.epsilon, settings.steps, settings.bounds, generator
            )
            keep = round(settings.clean_fraction * len(idx))
            batch_x = torch.cat([xb[:keep], adv[keep:]])
            module.train()
            optimizer.zero_grad()
            loss = F.cross_entropy(module(batch_x), yb)
            grads = torch.autograd.grad(loss, list(module.parameters()))
            for param, grad in zip(module.parameters(), grads, strict=True):
                param.grad = grad
            optimizer.step()
            total += float(loss.detach()) * len(idx)
        progress(
            f"adversarial training epoch {epoch + 1}/{settings.epochs}: "
            f"loss {total / len(inputs):.3f}"
        )
    return module.eval()
