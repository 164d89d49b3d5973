"""ONNX models through onnxruntime (CPU provider, one intra-op thread per session)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bastion.errors import MissingDependencyError
from bastion.gateway.backends.interface import LocalBackend


class OnnxBackend(LocalBackend):
    """An onnxruntime session."""

    kind = "onnx"

    def __init__(self, path: Path, input_name: str | None, output_name: str | None) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise MissingDependencyError("onnxruntime", "gateway", "serving ONNX models") from None
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        inputs = [i.name for i in self._session.get_inputs()]
        outputs = [o.name for o in self._session.get_outputs()]
        if input_name is not None and input_name not in inputs:
            raise ValueError(f"input {input_name!r} not in the model (it has {inputs})")
        if output_name is not None and output_name not in outputs:
            raise ValueError(f"output {output_name!r} not in the model (it has {outputs})")
        self._input = input_name or inputs[0]
        self._output = output_name or outputs[0]

    def predict(self, array: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Run the session."""
        result = self._session.run([self._output], {self._input: array})
        return np.asarray(result[0])

    def describe(self) -> dict[str, Any]:
        """Backend name and tensor names."""
        return {"backend": self.kind, "input": self._input, "output": self._output}
