"""The example project's model code: a small CNN for 8x8 digits and its training recipe.

``bastion assess`` imports these through the entry points in ``bastion.toml``: ``build_cnn``
builds the module whose weights ``build/models/cnn.pt`` holds, and ``train_cnn`` is the recipe
the likelihood-ratio attack uses to train shadow models.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def build_cnn() -> nn.Module:
    """A two-convolution network for 1x8x8 inputs in [0, 1], ten classes."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 4 * 4, 64),
        nn.ReLU(),
        nn.Linear(64, 10),
    )


def train_cnn(x: np.ndarray, y: np.ndarray, *, seed: int = 0, epochs: int = 12) -> nn.Module:
    """Adam, batch 64, cross-entropy; deterministic under ``seed``."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = build_cnn()
    inputs = torch.as_tensor(x, dtype=torch.float32).reshape(-1, 1, 8, 8)
    labels = torch.as_tensor(y, dtype=torch.long)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(inputs), generator=generator)
        for start in range(0, len(inputs), 64):
            batch = order[start : start + 64]
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(inputs[batch]), labels[batch]).backward()
            optimizer.step()
    return model.eval()
