"""Request path step 5a: input validation against the model's declared schema.

Bodies are parsed with NaN/Infinity literals refused and nesting bounded; the tensor is taken
from an Open Inference Protocol v2 body (``inputs[0]`` with ``shape``, ``datatype``, ``data``)
or a v1 body (``instances``); shape, dtype, batch size, finiteness and value range are checked
before anything reaches the model. Only the digest and shape of the input are ever stored.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from bastion.gateway.settings import InputSchema

V2_DATATYPES = {
    "FP32": "float32",
    "FP64": "float64",
    "INT64": "int64",
    "INT32": "int32",
    "BOOL": "bool",
}
_DTYPE_TO_V2 = {v: k for k, v in V2_DATATYPES.items()}


class InputError(ValueError):
    """The input does not match the schema; the message is safe to return to the client."""


@dataclass(frozen=True)
class ValidatedInput:
    """A checked input tensor and what the audit may keep of it."""

    array: np.ndarray[Any, Any]
    digest: str
    name: str | None

    @property
    def rows(self) -> int:
        """Batch size."""
        return int(self.array.shape[0])

    def summary(self) -> dict[str, Any]:
        """Digest, shape and dtype: what the audit stores instead of the input."""
        return {
            "sha256": self.digest,
            "shape": list(self.array.shape),
            "dtype": str(self.array.dtype),
        }


def _refuse_constant(name: str) -> Any:
    raise InputError(f"{name} is not allowed in JSON")


def _depth(value: Any, limit: int) -> None:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            raise InputError(f"JSON nested deeper than {limit}")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item if isinstance(v, (list, dict)))


def parse_json(body: bytes, max_depth: int) -> Any:
    """Parse a request body: UTF-8 JSON, no NaN/Infinity, bounded nesting."""
    if not body:
        raise InputError("empty body")
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
    except InputError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InputError(f"malformed JSON: {str(exc)[:120]}") from None
    _depth(data, max_depth)
    return data


def extract(data: Any) -> tuple[Any, tuple[int, ...] | None, str | None, str | None]:
    """``(values, declared shape, declared dtype, input name)`` from a v2 or v1 body."""
    if not isinstance(data, dict):
        raise InputError("the body must be a JSON object")
    if "inputs" in data:
        inputs = data["inputs"]
        if not isinstance(inputs, list) or len(inputs) != 1 or not isinstance(inputs[0], dict):
            raise InputError("'inputs' must be a list with exactly one tensor")
        tensor = inputs[0]
        shape = tensor.get("shape")
        if not isinstance(shape, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
        ):
            raise InputError("'shape' must be a list of non-negative integers")
        datatype = tensor.get("datatype")
        dtype = None
        if datatype is not None:
            if datatype not in V2_DATATYPES:
                raise InputError(f"unsupported datatype {str(datatype)[:20]!r}")
            dtype = V2_DATATYPES[datatype]
        name = tensor.get("name")
        return tensor.get("data"), tuple(shape), dtype, name if isinstance(name, str) else None
    if "instances" in data:
        return data["instances"], None, None, None
    raise InputError("expected 'inputs' (v2) or 'instances' (v1)")


def validate(data: Any, schema: InputSchema) -> ValidatedInput:
    """Check a parsed body against the schema and return the input tensor."""
    values, shape, dtype, name = extract(data)
    if dtype is not None and dtype != schema.dtype:
        raise InputError(
            f"datatype {_DTYPE_TO_V2.get(dtype, dtype)} does not match the "
            f"model's {_DTYPE_TO_V2[schema.dtype]}"
        )
    if not isinstance(values, list) or not values:
        raise InputError("the input data must be a non-empty list")
    try:
        if schema.dtype == "bool":
            array = np.array(values, dtype=object)
            if not all(isinstance(v, bool) for v in array.reshape(-1)):
                raise InputError("values must be booleans")
            array = array.astype(np.bool_)
        else:
            array = np.array(values, dtype=np.float64)
    except (ValueError, TypeError):
        raise InputError("the input data must be a rectangular array of numbers") from None
    if array.dtype == object:
        raise InputError("the input data must be a rectangular array of numbers")
    if shape is not None:
        if int(np.prod(shape)) != array.size:
            raise InputError(f"declared shape {list(shape)} does not hold {array.size} values")
        array = array.reshape(shape)
    expected = schema.shape
    if array.ndim != len(expected) or tuple(array.shape[1:]) != tuple(expected[1:]):
        wanted = ["batch", *expected[1:]]
        raise InputError(f"shape {list(array.shape)} does not match the model's {wanted}")
    rows = array.shape[0]
    if rows < 1:
        raise InputError("empty batch")
    if rows > schema.max_batch:
        raise InputError(f"batch of {rows} exceeds the limit of {schema.max_batch}")
    if schema.dtype != "bool":
        finite = np.isfinite(array)
        if not schema.allow_nan and not bool(finite.all()):
            raise InputError("NaN or infinite values are not allowed")
        checked = array[finite] if schema.allow_nan else array
        if schema.min is not None and checked.size and float(checked.min()) < schema.min:
            raise InputError(f"values below the minimum {schema.min}")
        if schema.max is not None and checked.size and float(checked.max()) > schema.max:
            raise InputError(f"values above the maximum {schema.max}")
        if schema.dtype in ("int64", "int32"):
            if not bool(np.all(np.floor(checked) == checked)):
                raise InputError("integer inputs must be whole numbers")
            info = np.iinfo(schema.dtype)
            if checked.size and (checked.min() < info.min or checked.max() > info.max):
                raise InputError(f"values out of the {schema.dtype} range")
        array = array.astype(schema.dtype)
    array = np.ascontiguousarray(array)
    digest = hashlib.sha256(
        f"{array.dtype.str}:{array.shape}".encode() + array.tobytes()
    ).hexdigest()
    return ValidatedInput(array=array, digest=digest, name=name)
