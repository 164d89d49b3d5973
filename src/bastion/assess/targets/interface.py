"""The target extension point: anything that maps a batch of inputs to class scores.

A :class:`Target` answers ``predict_proba`` (or only ``predict`` when it reveals labels), counts
every row it is asked about (so reports can state queries per sample) and enforces a query
budget. Differentiable targets (PyTorch modules) additionally implement
:class:`DifferentiableTarget`, which the white-box attacks use; everything else is attacked
through queries only. ``features`` exposes a penultimate-layer representation where the model
has one (PyTorch hooks, ONNX intermediate outputs, scikit-learn MLP hidden layers).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from bastion.assess.config import DPStatement
from bastion.assess.errors import QueryBudgetExceeded, ShapeMismatchError

if TYPE_CHECKING:
    import torch

NDArray = np.ndarray[Any, Any]
#: Trains a fresh model of the target's kind: (x, y, seed) -> a target-like predictor.
Trainer = Callable[[NDArray, NDArray, int], "Target"]


class Target(ABC):
    """A model under assessment."""

    #: What the model reveals: class probabilities, or only the predicted label.
    reveals: Literal["proba", "label"] = "proba"
    #: Whether queries leave the machine (an endpoint): reports then spend no extra queries.
    remote: bool = False

    def __init__(self, name: str, n_classes: int, *, query_budget: int | None = None) -> None:
        self.name = name
        self.n_classes = n_classes
        self.query_budget = query_budget
        self.queries = 0
        self.dp: DPStatement | None = None
        self.source = name

    # -- queries -------------------------------------------------------------------------------
    def _count(self, rows: int) -> None:
        if self.query_budget is not None and self.queries + rows > self.query_budget:
            raise QueryBudgetExceeded(self.name, self.query_budget)
        self.queries += rows

    def remaining(self) -> int | None:
        """Queries left in the budget (``None`` when unlimited)."""
        return None if self.query_budget is None else self.query_budget - self.queries

    def predict_proba(self, x: NDArray) -> NDArray:
        """Class probabilities ``(n, n_classes)`` for inputs shaped like the data."""
        if len(x) == 0:
            return np.zeros((0, self.n_classes), dtype=np.float64)
        self._count(len(x))
        return self._proba(x)

    def predict(self, x: NDArray) -> NDArray:
        """Predicted labels ``(n,)``."""
        if len(x) == 0:
            return np.zeros((0,), dtype=np.int64)
        self._count(len(x))
        return self._labels(x)

    @abstractmethod
    def _proba(self, x: NDArray) -> NDArray:
        """Probabilities without counting (implementations override)."""

    def _labels(self, x: NDArray) -> NDArray:
        return np.asarray(self._proba(x).argmax(axis=1), dtype=np.int64)

    # -- optional capabilities -----------------------------------------------------------------
    @property
    def differentiable(self) -> bool:
        """Whether white-box gradient attacks apply."""
        return False

    def features(self, x: NDArray) -> NDArray | None:
        """Penultimate-layer representation ``(n, d)``, or ``None`` when unavailable."""
        return None

    def trainer(self) -> Trainer | None:
        """How to train a fresh model like this one (for shadow models), if known."""
        return None

    def describe(self) -> dict[str, object]:
        """A short JSON-ready description for reports."""
        return {"name": self.name, "kind": type(self).__name__, "reveals": self.reveals}

    def check_input(self, sample: NDArray) -> None:
        """Run two rows through the model; a clear error when it rejects the data's shape."""
        try:
            out = self._proba(sample[:2])
        except Exception as exc:
            raise ShapeMismatchError(
                self.name,
                f"the model does not accept inputs of shape {list(sample.shape[1:])} "
                f"(per sample): {type(exc).__name__}: {exc}",
            ) from exc
        if out.ndim != 2 or out.shape[0] != min(2, len(sample)):
            raise ShapeMismatchError(
                self.name, f"expected scores of shape (n, classes), got {list(out.shape)}"
            )
        if out.shape[1] != self.n_classes:
            raise ShapeMismatchError(
                self.name,
                f"the model scores {out.shape[1]} classes but the data has {self.n_classes}",
            )


class DifferentiableTarget(Target):
    """A target whose logits are differentiable with respect to the input (PyTorch)."""

    @property
    def differentiable(self) -> bool:
        """Always true."""
        return True

    @property
    @abstractmethod
    def device(self) -> torch.device:
        """Where the model runs."""

    @abstractmethod
    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for a batch already on :attr:`device` (no query counting; gradients flow)."""

    def count(self, rows: int) -> None:
        """Count rows evaluated through :meth:`logits` (white-box queries)."""
        self._count(rows)


def align_columns(
    proba: NDArray, model_classes: list[object] | None, n_classes: int, target: str
) -> NDArray:
    """Place a model's probability columns at the data's class indices."""
    if model_classes is None or list(model_classes) == list(range(proba.shape[1])):
        if proba.shape[1] == n_classes:
            return proba
    out = np.zeros((len(proba), n_classes), dtype=np.float64)
    for col, cls in enumerate(model_classes or range(proba.shape[1])):
        try:
            index = int(cls)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            raise ShapeMismatchError(
                target, f"model class {cls!r} is not one of the data's labels"
            ) from None
        if not 0 <= index < n_classes:
            raise ShapeMismatchError(target, f"model class {cls!r} is outside the data's labels")
        out[:, index] = proba[:, col]
    return out
