"""A declared PyTorch architecture for the torch backend tests (the operator's own code)."""

from __future__ import annotations

from typing import Any


def build() -> Any:
    """A 4 → 3 linear classifier."""
    import torch

    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Softmax(dim=1))


def double(x: Any) -> Any:
    """A custom function a skops file may reference (untrusted unless listed)."""
    return x * 2
