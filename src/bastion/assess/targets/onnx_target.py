"""ONNX targets run by ``onnxruntime``: black-box scores, plus intermediate activations.

The graph is never given gradients, so evasion uses the query attacks; but the graph is open, so
the penultimate representation (the input of the last ``Gemm``/``MatMul`` node) is exposed as an
extra output for the backdoor screens — white-box where gradients are not needed. Outputs are
read as probabilities when rows already sum to one (scikit-learn converters, softmax heads) and
passed through a softmax otherwise; ``output`` in the target's settings overrides the guess.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np

from bastion.assess.errors import ShapeMismatchError, TargetError
from bastion.assess.targets.interface import NDArray, Target
from bastion.errors import MissingDependencyError


def _softmax(z: NDArray) -> NDArray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


class OnnxTarget(Target):
    """An ONNX classifier."""

    def __init__(
        self,
        name: str,
        path: Path,
        n_classes: int,
        *,
        output: Literal["auto", "logits", "proba", "label"] = "auto",
        use_cuda: bool = False,
        batch_size: int = 512,
    ) -> None:
        super().__init__(name, n_classes)
        try:
            import onnxruntime as ort
        except ImportError:
            raise MissingDependencyError("onnxruntime", "assess", f"running {path}") from None
        if not path.is_file():
            raise TargetError(name, f"{path}: model file not found")
        self.path = path
        self._providers = ["CPUExecutionProvider"]
        if use_cuda and "CUDAExecutionProvider" in ort.get_available_providers():
            self._providers.insert(0, "CUDAExecutionProvider")
        options = ort.SessionOptions()
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(str(path), options, providers=self._providers)
        except Exception as exc:
            raise TargetError(name, f"{path}: onnxruntime cannot load it: {exc}") from exc
        inputs = self._session.get_inputs()
        if len(inputs) != 1:
            raise TargetError(name, f"{path}: expected one input, found {len(inputs)}")
        self._input = inputs[0]
        self._output_name, self._is_map = self._pick_output()
        self._mode = output
        self.batch_size = batch_size
        self._feature_session: Any = None
        if output == "label":
            self.reveals = "label"

    def _pick_output(self) -> tuple[str, bool]:
        outputs = self._session.get_outputs()
        for out in outputs:
            if "tensor(float" in out.type and len(out.shape or []) == 2:
                return out.name, False
        for out in outputs:
            if out.type.startswith("seq(map"):
                return out.name, True
        raise TargetError(self.name, f"{self.path}: no (n, classes) score output found")

    def _feed(self, x: NDArray) -> NDArray:
        rank = len(self._input.shape or [])
        data = x.reshape(len(x), -1) if rank == 2 else x
        if "double" in self._input.type:
            return data.astype(np.float64)
        return data.astype(np.float32)

    def _raw(self, x: NDArray, session: Any, name: str) -> NDArray:
        parts = []
        for start in range(0, len(x), self.batch_size):
            feed = {self._input.name: self._feed(x[start : start + self.batch_size])}
            try:
                (value,) = session.run([name], feed)
            except Exception as exc:
                raise ShapeMismatchError(
                    self.name, f"{self.path}: onnxruntime rejected the input: {exc}"
                ) from exc
            if isinstance(value, list):
                keys = sorted(value[0]) if value else []
                value = np.array([[row[k] for k in keys] for row in value])
            parts.append(
                np.asarray(value, dtype=np.float64).reshape(len(feed[self._input.name]), -1)
            )
        return np.concatenate(parts)

    def _proba(self, x: NDArray) -> NDArray:
        scores = self._raw(x, self._session, self._output_name)
        mode = self._mode
        if mode == "auto":
            sums = scores.sum(axis=1)
            looks_like_proba = bool(np.all(scores >= -1e-6) and np.allclose(sums, 1, atol=1e-3))
            mode = "proba" if looks_like_proba else "logits"
        if mode == "logits":
            return _softmax(scores)
        if mode == "label":
            return np.asarray(np.eye(self.n_classes)[scores.argmax(axis=1)])
        return scores

    def features(self, x: NDArray) -> NDArray | None:
        """The input of the last Gemm/MatMul node, exposed as an extra graph output."""
        if self._feature_session is None:
            name = self._feature_tensor()
            if name is None:
                return None
            self._feature_session = (self._session_with_output(name), name)
        session, name = self._feature_session
        return self._raw(x, session, name)

    def _feature_tensor(self) -> str | None:
        try:
            import onnx
        except ImportError:
            return None
        model = onnx.load(str(self.path), load_external_data=False)
        dense = [n for n in model.graph.node if n.op_type in ("Gemm", "MatMul")]
        if len(dense) < 2:
            return None
        initializers = {i.name for i in model.graph.initializer}
        for candidate in dense[-1].input:
            if candidate not in initializers:
                return str(candidate)
        return None

    def _session_with_output(self, tensor: str) -> Any:
        import onnx
        import onnxruntime as ort

        model = onnx.load(str(self.path))
        inferred = onnx.shape_inference.infer_shapes(model)
        elem = next(
            (v.type.tensor_type.elem_type for v in inferred.graph.value_info if v.name == tensor),
            onnx.TensorProto.FLOAT,
        )
        model.graph.output.append(onnx.helper.make_tensor_value_info(tensor, elem, None))
        options = ort.SessionOptions()
        options.log_severity_level = 3
        return ort.InferenceSession(model.SerializeToString(), options, providers=self._providers)

    def describe(self) -> dict[str, object]:
        """File, input and output names."""
        return {
            **super().describe(),
            "path": str(self.path),
            "input": self._input.name,
            "output": self._output_name,
            "providers": list(self._providers),
        }
