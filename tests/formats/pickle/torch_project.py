"""A project's own model class, as whole-module ``torch.save`` calls reference it."""

from __future__ import annotations

import torch


class ProjectNet(torch.nn.Module):
    """Two linear layers."""

    def __init__(self) -> None:
        super().__init__()
        self.a = torch.nn.Linear(4, 4)
        self.b = torch.nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply both layers."""
        return self.b(torch.relu(self.a(x)))
