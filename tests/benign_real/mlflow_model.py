"""An importable MLflow ``PythonModel``: cloudpickle stores importable classes by reference."""

from __future__ import annotations

from typing import Any

try:
    from mlflow.pyfunc import PythonModel
except ImportError:  # pragma: no cover - only imported when mlflow is installed
    PythonModel = object


class ThresholdModel(PythonModel):  # type: ignore[misc, valid-type]
    """Predicts 1 for texts longer than a threshold (type-hinted, as MLflow recommends)."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    def predict(self, context: Any, model_input: list[str], params: Any = None) -> list[int]:
        """1 where the text is longer than the threshold, else 0."""
        return [int(len(text) > self.threshold) for text in model_input]
