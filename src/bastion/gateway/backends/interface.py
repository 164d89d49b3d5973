"""The backend interface: a local model maps an input array to an output array."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np


class LocalBackend(ABC):
    """A model loaded in process."""

    kind: str = ""

    @abstractmethod
    def predict(self, array: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Run the model on a validated batch (synchronous; may be called from a thread)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources."""

    def describe(self) -> dict[str, Any]:
        """What the metadata route shows about the backend."""
        return {"backend": self.kind}
