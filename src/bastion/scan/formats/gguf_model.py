"""The values a GGUF read produces: problems, tensor descriptors, templates, the file summary.

Produced by :class:`~bastion.scan.formats.gguf_reader.GgufReader` and consumed by the GGUF
analyzer; kept apart so the reader holds parsing only.
"""

from __future__ import annotations

from dataclasses import dataclass

from bastion.core import Severity
from bastion.rules import Rule

#: The alignment of tensor data when ``general.alignment`` does not say otherwise.
DEFAULT_ALIGNMENT = 32


@dataclass(frozen=True)
class Problem:
    """One irregularity, before it becomes a finding."""

    rule: Rule
    message: str
    evidence: str
    offset: int
    severity: Severity | None = None


@dataclass(frozen=True)
class TensorInfo:
    """One tensor descriptor; ``nbytes`` is ``None`` when the type or dimensions are invalid."""

    name: str
    dims: tuple[int, ...]
    ggml_type: int
    offset: int
    info_offset: int
    nbytes: int | None


@dataclass(frozen=True)
class Template:
    """A chat template found in the metadata (``text`` is ``None`` when too large to keep)."""

    key: str
    text: str | None
    length: int
    offset: int


@dataclass(frozen=True)
class GgufFile:
    """What the reader learned about one file (``complete`` is false when it had to stop)."""

    size: int
    version: int
    big_endian: bool
    tensor_count: int
    kv_count: int
    keys: tuple[str, ...]
    templates: tuple[Template, ...]
    alignment: int
    tensors: tuple[TensorInfo, ...]
    data_start: int | None
    problems: tuple[Problem, ...]
    complete: bool
