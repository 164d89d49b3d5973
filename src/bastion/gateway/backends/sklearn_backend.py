"""scikit-learn models through skops (never pickle): untrusted types must be listed explicitly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bastion.errors import MissingDependencyError
from bastion.gateway.backends.interface import LocalBackend


class SkopsBackend(LocalBackend):
    """A scikit-learn estimator loaded with ``skops.io.load``."""

    kind = "sklearn"

    def __init__(self, path: Path, trusted_types: tuple[str, ...], probabilities: bool) -> None:
        try:
            import skops.io as sio
        except ImportError:
            raise MissingDependencyError(
                "skops", "gateway", "serving scikit-learn models"
            ) from None
        untrusted = sio.get_untrusted_types(file=path)
        refused = sorted(set(untrusted) - set(trusted_types))
        if refused:
            raise ValueError(
                "the skops file contains types that are not trusted: "
                + ", ".join(refused)
                + " (list them in trusted_types after review)"
            )
        self._model = sio.load(path, trusted=list(untrusted))
        self._proba = probabilities and hasattr(self._model, "predict_proba")

    def predict(self, array: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """``predict_proba`` for classifiers with probability outputs, else ``predict``."""
        rows = array.reshape(array.shape[0], -1)
        if self._proba:
            return np.asarray(self._model.predict_proba(rows))
        return np.asarray(self._model.predict(rows))

    def describe(self) -> dict[str, Any]:
        """Backend name and estimator class."""
        return {"backend": self.kind, "estimator": type(self._model).__name__}
