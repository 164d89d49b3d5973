"""PyTorch ``state_dict`` files loaded with ``weights_only=True`` into a declared architecture.

The architecture is the operator's own code (``module:function`` returning an ``nn.Module``),
named in the config; the weights file is only ever read by the restricted unpickler, and must be
a mapping of tensors that fits the architecture exactly (``strict=True``).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np

from bastion.errors import MissingDependencyError
from bastion.gateway.backends.interface import LocalBackend


class TorchBackend(LocalBackend):
    """A ``torch.nn.Module`` in eval mode."""

    kind = "torch"

    def __init__(self, path: Path, architecture: str) -> None:
        try:
            import torch
        except ImportError:
            raise MissingDependencyError("torch", "gateway", "serving PyTorch models") from None
        module_name, _, func_name = architecture.partition(":")
        factory = getattr(importlib.import_module(module_name), func_name, None)
        if not callable(factory):
            raise ValueError(f"architecture {architecture!r} is not a callable")
        model = factory()
        if not isinstance(model, torch.nn.Module):
            raise ValueError(f"architecture {architecture!r} did not return an nn.Module")
        state = torch.load(str(path), weights_only=True, map_location="cpu")
        if not isinstance(state, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
        ):
            raise ValueError("the weights file is not a state_dict (a mapping of tensors)")
        model.load_state_dict(state, strict=True)
        model.eval()
        self._torch = torch
        self._model = model

    def predict(self, array: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Forward pass without gradients."""
        with self._torch.inference_mode():
            out = self._model(self._torch.from_numpy(np.ascontiguousarray(array)))
        return np.asarray(out.detach().cpu().numpy())

    def describe(self) -> dict[str, Any]:
        """Backend name and module class."""
        return {"backend": self.kind, "module": type(self._model).__name__}
