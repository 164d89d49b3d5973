"""PyTorch targets: a module built by a project entry point, weights from a ``state_dict``.

The weights are read with ``torch.load(..., weights_only=True)``, which refuses pickled code.
The module is put in eval mode with parameters frozen, so attacks compute input gradients only.
The penultimate representation is the input of the last ``nn.Linear`` (or the layer named by
``feature_layer``), captured with a forward hook.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from bastion.assess.errors import ShapeMismatchError, TargetError
from bastion.assess.targets.interface import DifferentiableTarget, NDArray, Target, Trainer

if TYPE_CHECKING:
    import torch


def load_state_dict(module: torch.nn.Module, path: Path, target: str) -> None:
    """Load weights with ``weights_only=True``; mismatches name the file and the keys."""
    import pickle

    import torch

    if not path.is_file():
        raise TargetError(target, f"{path}: weights file not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, OSError, EOFError, ValueError) as exc:
        raise TargetError(
            target, f"{path}: not a weights-only state_dict (refused to unpickle code): {exc}"
        ) from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise TargetError(target, f"{path}: expected a state_dict, found {type(state).__name__}")
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise TargetError(target, f"{path}: weights do not fit the module: {exc}") from exc


class TorchTarget(DifferentiableTarget):
    """An ``nn.Module`` classifier."""

    def __init__(
        self,
        name: str,
        module: torch.nn.Module,
        n_classes: int,
        *,
        device: torch.device,
        output: Literal["auto", "logits", "proba", "label"] = "logits",
        feature_layer: str | None = None,
        batch_size: int = 512,
        train_fn: Callable[..., Any] | None = None,
    ) -> None:
        super().__init__(name, n_classes)
        if output == "label":
            raise TargetError(name, "a PyTorch target must return logits or probabilities")
        self.module = module.to(device).eval()
        for param in self.module.parameters():
            param.requires_grad_(False)
        self._device = device
        self._proba_output = output == "proba"
        self.feature_layer = feature_layer
        self.batch_size = batch_size
        self._train_fn = train_fn

    @property
    def device(self) -> torch.device:
        """Where the module lives."""
        return self._device

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (log-probabilities when the module outputs probabilities)."""
        import torch

        out = self.module(x)
        if self._proba_output:
            return torch.log(out.clamp_min(1e-12))
        return out  # type: ignore[no-any-return]

    def _proba(self, x: NDArray) -> NDArray:
        import torch

        outputs = []
        with torch.inference_mode():
            for start in range(0, len(x), self.batch_size):
                batch = torch.as_tensor(
                    x[start : start + self.batch_size], dtype=torch.float32, device=self._device
                )
                outputs.append(torch.softmax(self.logits(batch).float(), dim=1).cpu().numpy())
        return np.concatenate(outputs).astype(np.float64)

    def _feature_module(self) -> torch.nn.Module:
        import torch

        if self.feature_layer:
            modules = dict(self.module.named_modules())
            if self.feature_layer not in modules:
                raise TargetError(self.name, f"no layer named {self.feature_layer!r}")
            return modules[self.feature_layer]  # type: ignore[no-any-return]
        linears = [m for m in self.module.modules() if isinstance(m, torch.nn.Linear)]
        if not linears:
            raise TargetError(self.name, "no nn.Linear layer; set feature_layer")
        return linears[-1]

    def features(self, x: NDArray) -> NDArray | None:
        """Inputs of the last linear layer (the penultimate representation)."""
        import torch

        layer = self._feature_module()
        captured: list[torch.Tensor] = []

        def hook(_m: torch.nn.Module, inputs: tuple[torch.Tensor, ...], _o: object) -> None:
            captured.append(inputs[0].detach().reshape(len(inputs[0]), -1).float().cpu())

        handle = layer.register_forward_hook(hook)
        try:
            with torch.inference_mode():
                for start in range(0, len(x), self.batch_size):
                    batch = torch.as_tensor(
                        x[start : start + self.batch_size], dtype=torch.float32, device=self._device
                    )
                    self.module(batch)
        finally:
            handle.remove()
        return torch.cat(captured).numpy().astype(np.float64)

    def trainer(self) -> Trainer | None:
        """Shadow models through the configured ``train`` entry point."""
        if self._train_fn is None:
            return None
        fn = self._train_fn

        def train(x: NDArray, y: NDArray, seed: int) -> Target:
            module = fn(x, y, seed=seed)
            if not hasattr(module, "parameters"):
                raise TargetError(self.name, "the train entry point must return an nn.Module")
            return TorchTarget(
                f"{self.name}-shadow",
                module,
                self.n_classes,
                device=self._device,
                output="proba" if self._proba_output else "logits",
                batch_size=self.batch_size,
            )

        return train

    def describe(self) -> dict[str, object]:
        """Kind, device and parameter count."""
        params = sum(int(p.numel()) for p in self.module.parameters())
        return {**super().describe(), "device": str(self._device), "parameters": params}


def build_torch_target(
    name: str,
    builder: Callable[[], Any],
    weights: Path | None,
    n_classes: int,
    *,
    device: torch.device,
    output: Literal["auto", "logits", "proba", "label"],
    feature_layer: str | None,
    train_fn: Callable[..., Any] | None,
) -> TorchTarget:
    """Call the builder, load the weights, wrap."""
    import torch

    try:
        module = builder()
    except Exception as exc:
        raise TargetError(name, f"the module builder failed: {type(exc).__name__}: {exc}") from exc
    if not isinstance(module, torch.nn.Module):
        raise TargetError(name, f"the builder returned {type(module).__name__}, not nn.Module")
    if weights is not None:
        load_state_dict(module, weights, name)
    if output == "label":
        raise ShapeMismatchError(name, "output = 'label' is only for http targets")
    return TorchTarget(
        name,
        module,
        n_classes,
        device=device,
        output="proba" if output == "proba" else "logits",
        feature_layer=feature_layer,
        train_fn=train_fn,
    )
