"""GGUF value types and ggml tensor types, as the format defines them (no dependency on gguf).

The ggml type table gives, per type id, its name, the number of elements per block and the
bytes per block, which is what a tensor's byte size follows from (:func:`tensor_nbytes`). Ids
of types that ggml has retired are kept apart: files that use them are invalid for current
loaders.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ValueType(IntEnum):
    """Metadata value types of the GGUF specification."""

    UINT8 = 0
    INT8 = 1
    UINT16 = 2
    INT16 = 3
    UINT32 = 4
    INT32 = 5
    FLOAT32 = 6
    BOOL = 7
    STRING = 8
    ARRAY = 9
    UINT64 = 10
    INT64 = 11
    FLOAT64 = 12


#: Names of the value types, by id.
VALUE_TYPE_NAMES: dict[int, str] = {t.value: t.name.lower() for t in ValueType}

#: Encoded size of the fixed-size value types, by id.
SCALAR_SIZES: dict[int, int] = {
    ValueType.UINT8: 1,
    ValueType.INT8: 1,
    ValueType.UINT16: 2,
    ValueType.INT16: 2,
    ValueType.UINT32: 4,
    ValueType.INT32: 4,
    ValueType.FLOAT32: 4,
    ValueType.BOOL: 1,
    ValueType.UINT64: 8,
    ValueType.INT64: 8,
    ValueType.FLOAT64: 8,
}

#: ggml tensor types: id -> (name, elements per block, bytes per block).
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4),
    1: ("F16", 1, 2),
    2: ("Q4_0", 32, 18),
    3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24),
    8: ("Q8_0", 32, 34),
    9: ("Q8_1", 32, 40),
    10: ("Q2_K", 256, 84),
    11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176),
    14: ("Q6_K", 256, 210),
    15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66),
    17: ("IQ2_XS", 256, 74),
    18: ("IQ3_XXS", 256, 98),
    19: ("IQ1_S", 256, 50),
    20: ("IQ4_NL", 32, 18),
    21: ("IQ3_S", 256, 110),
    22: ("IQ2_S", 256, 82),
    23: ("IQ4_XS", 256, 136),
    24: ("I8", 1, 1),
    25: ("I16", 1, 2),
    26: ("I32", 1, 4),
    27: ("I64", 1, 8),
    28: ("F64", 1, 8),
    29: ("IQ1_M", 256, 56),
    30: ("BF16", 1, 2),
    34: ("TQ1_0", 256, 54),
    35: ("TQ2_0", 256, 66),
    39: ("MXFP4", 32, 17),
    40: ("NVFP4", 64, 36),
    41: ("Q1_0", 128, 18),
}

#: Type ids ggml used once and removed (Q4_2, Q4_3, the Q4_0_x_y and IQ4_NL_x_y repacks).
RETIRED_GGML_TYPES = frozenset({4, 5, 31, 32, 33, 36, 37, 38})

#: ggml tensors have at most this many dimensions.
MAX_DIMS = 4
_INT64_MAX = (1 << 63) - 1


@dataclass(frozen=True)
class TensorDefect:
    """Why a tensor's byte size cannot be computed; ``high`` marks memory-safety inputs."""

    why: str
    high: bool = False


def tensor_nbytes(n_dims: int, dims: tuple[int, ...], ggml_type: int) -> int | TensorDefect:
    """Bytes a tensor of this type and shape occupies, or why that is undefined."""
    if n_dims == 0 or n_dims > MAX_DIMS:
        return TensorDefect(
            f"{n_dims} dimensions (ggml supports 1 to {MAX_DIMS})", high=n_dims > MAX_DIMS
        )
    if any(d > _INT64_MAX for d in dims):
        return TensorDefect(f"dimension {max(dims)} does not fit int64", high=True)
    count = 1
    for d in dims:
        count *= d
    if count > _INT64_MAX:
        return TensorDefect(f"element count {count} overflows int64", high=True)
    if ggml_type not in GGML_TYPES:
        retired = " (retired)" if ggml_type in RETIRED_GGML_TYPES else ""
        return TensorDefect(f"unknown ggml type {ggml_type}{retired}")
    type_name, block, type_size = GGML_TYPES[ggml_type]
    if dims[0] % block:
        return TensorDefect(
            f"first dimension {dims[0]} is not a multiple of {type_name}'s block {block}"
        )
    return count // block * type_size
