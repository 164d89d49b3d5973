"""safetensors files: the header is parsed and checked; tensor data is never read.

The format is ``u64 little-endian header length | JSON header | data area``. The header maps
tensor names to ``{"dtype", "shape", "data_offsets": [begin, end]}`` (offsets relative to the
data area) plus an optional ``__metadata__`` map of strings. Everything the reference loader
validates is checked here, against the real file size, so that a file lenient loaders accept
but the reference loader refuses is reported instead of passing as "just weights". Bytes no
tensor claims are handed to format detection, so a payload hidden in them is analyzed too.

>>> from bastion.scan.blob import BytesBlob
>>> header = b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
>>> data = len(header).to_bytes(8, "little") + header + bytes(4)
>>> [t.name for t in parse_header(BytesBlob(data), len(data)).tensors]
['w']
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from typing import Any, NoReturn

from bastion.core import ArtifactKind
from bastion.errors import MalformedInputError
from bastion.rules import Rule
from bastion.scan.blob import Blob
from bastion.scan.formats import safetensors_rules as R
from bastion.scan.formats.layout import (
    CappedReporter,
    Extent,
    blob_size,
    check_layout,
    inspect_hidden_bytes,
)
from bastion.scan.interface import AnalysisContext, Analyzer

#: The reference loader's limit on the header length.
MAX_HEADER_BYTES = 100_000_000
#: Metadata beyond this many characters is reported as oversized.
MAX_METADATA_CHARS = 1 << 20
#: How far beyond the data area a tensor must reach to count as a huge allocation.
HUGE_EXCESS = 64 << 20
#: Longest integer literal accepted in the header (sizes fit in far fewer digits).
_MAX_INT_DIGITS = 40

_LFS = b"version https://git-lfs"

#: Bits per element of every dtype the reference implementation knows.
DTYPE_BITS: dict[str, int] = {
    "BOOL": 8,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E4M3FNUZ": 8,
    "F8_E5M2FNUZ": 8,
    "F8_E8M0": 8,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "I64": 64,
    "U64": 64,
    "F64": 64,
    "C64": 64,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
}


@dataclass(frozen=True)
class Problem:
    """One irregularity of the header, before it becomes a finding."""

    rule: Rule
    message: str
    evidence: str
    offset: int | None = None


@dataclass(frozen=True)
class TensorEntry:
    """A tensor entry that passed the structural checks."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int

    @property
    def expected_bits(self) -> int:
        """``prod(shape) * bits per element``."""
        return math.prod(self.shape) * DTYPE_BITS[self.dtype]


@dataclass(frozen=True)
class Header:
    """What the header declares, and what is wrong with it."""

    length: int
    data_start: int
    data_size: int
    tensors: tuple[TensorEntry, ...]
    metadata: dict[str, Any] | None
    problems: tuple[Problem, ...]


class HeaderUnreadable(MalformedInputError):
    """The header cannot be read at all; carries the problem to report."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


class _JsonRejected(ValueError):
    """A JSON construct the reference parser refuses."""


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise _JsonRejected(f"integer literal of {len(text)} digits")
    return int(text)


def _parse_constant(text: str) -> float:
    raise _JsonRejected(f"non-standard JSON constant {text}")


def parse_header(blob: Blob, size: int) -> Header:
    """Read and check the header of a ``size``-byte file.

    Raises :class:`HeaderUnreadable` when the header cannot be read at all; everything else is
    returned in :attr:`Header.problems`.
    """
    if size < 8:
        _fail(R.HEADER_LENGTH, f"file of {size} bytes cannot hold the 8-byte header length", 0)
    (length,) = struct.unpack("<Q", blob.read_at(0, 8))
    if length < 2:
        _fail(R.HEADER_LENGTH, f"declared header length {length} cannot hold a JSON object", 0)
    if length > MAX_HEADER_BYTES:
        _fail(
            R.HEADER_LENGTH,
            f"declared header length {length} exceeds the {MAX_HEADER_BYTES}-byte maximum",
            0,
        )
    if length > size - 8:
        _fail(
            R.HEADER_LENGTH,
            f"declared header length {length} exceeds the {size - 8} bytes after the prefix",
            0,
        )
    raw = blob.read_at(8, length)
    problems: list[Problem] = []
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        _fail(R.HEADER_SYNTAX, f"header is not UTF-8 (byte {exc.start})", 8 + exc.start)
    if not text.startswith("{"):
        problems.append(
            Problem(R.HEADER_SYNTAX, "header does not start with '{'", "leading bytes", 8)
        )
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in items:
            if key in seen:
                duplicates.append(key)
            seen[key] = value
        return seen

    try:
        root = json.loads(
            text,
            object_pairs_hook=pairs,
            parse_int=_parse_int,
            parse_constant=_parse_constant,
        )
    except RecursionError:
        _fail(R.HEADER_SYNTAX, "header nests deeper than a JSON parser can follow", 8)
    except ValueError as exc:
        _fail(R.HEADER_SYNTAX, f"header is not valid JSON: {exc}", 8)
    if not isinstance(root, dict):
        _fail(R.HEADER_SYNTAX, f"header is a JSON {type(root).__name__}, not an object", 8)
    problems.extend(
        Problem(R.DUPLICATE_KEY, f"key {key!r} appears more than once", f"duplicate {key}", 8)
        for key in dict.fromkeys(duplicates)
    )
    data_start = 8 + length
    metadata = root.pop("__metadata__", None)
    problems.extend(_check_metadata(metadata))
    tensors: list[TensorEntry] = []
    for name, entry in root.items():
        checked = _check_entry(name, entry)
        if isinstance(checked, Problem):
            problems.append(checked)
        else:
            tensors.append(checked)
    return Header(
        length=length,
        data_start=data_start,
        data_size=size - data_start,
        tensors=tuple(tensors),
        metadata=metadata if isinstance(metadata, dict) else None,
        problems=tuple(problems),
    )


def _fail(rule: Rule, message: str, offset: int) -> NoReturn:
    raise HeaderUnreadable(Problem(rule, message, message.split(" (")[0], offset))


def _check_metadata(metadata: object) -> list[Problem]:
    if metadata is None:
        return []
    if not isinstance(metadata, dict):
        kind = type(metadata).__name__
        return [Problem(R.METADATA_SHAPE, f"__metadata__ is a {kind}, not an object", kind, 8)]
    problems = [
        Problem(
            R.METADATA_SHAPE,
            f"__metadata__[{key!r}] is a {type(value).__name__}, not a string",
            f"metadata {key}: {type(value).__name__}",
            8,
        )
        for key, value in metadata.items()
        if not isinstance(value, str)
    ]
    chars = sum(len(k) + (len(v) if isinstance(v, str) else 0) for k, v in metadata.items())
    if chars > MAX_METADATA_CHARS:
        problems.append(
            Problem(
                R.METADATA_SIZE,
                f"__metadata__ holds {chars} characters in {len(metadata)} entries",
                "oversized metadata",
                8,
            )
        )
    return problems


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_entry(name: str, entry: object) -> TensorEntry | Problem:
    def bad(why: str) -> Problem:
        return Problem(R.TENSOR_ENTRY, f"tensor {name!r}: {why}", f"{name}: {why}", 8)

    if not isinstance(entry, dict):
        return bad(f"entry is a {type(entry).__name__}, not an object")
    missing = [k for k in ("dtype", "shape", "data_offsets") if k not in entry]
    if missing:
        return bad(f"missing {', '.join(missing)}")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not isinstance(dtype, str) or dtype not in DTYPE_BITS:
        return bad(f"unknown dtype {str(dtype)[:40]!r}")
    if not isinstance(shape, list) or not all(_is_count(d) for d in shape):
        return bad("shape is not a list of non-negative integers")
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(_is_count(o) for o in offsets):
        return bad("data_offsets is not [begin, end] of non-negative integers")
    begin, end = offsets
    if begin > end:
        return bad(f"data_offsets begin {begin} is after end {end}")
    return TensorEntry(name, dtype, tuple(shape), begin, end)


class SafetensorsAnalyzer(Analyzer):
    """safetensors files: header structure, tensor layout and hidden bytes."""

    name = "safetensors"
    formats = ("safetensors",)
    rules = R.SAFETENSORS_RULES
    kind = ArtifactKind.MODEL

    @classmethod
    def sniff(cls, head: bytes, name: str) -> str | None:
        """Claim ``*.safetensors`` files the content detection rejected (bad length prefix)."""
        if name.lower().endswith(".safetensors") and head and not head.startswith(_LFS):
            return "safetensors"
        return None

    def analyze(self, blob: Blob, ctx: AnalysisContext) -> None:
        """Parse the header, check every entry and the layout of the data area."""
        size = blob_size(blob, ctx.limits.max_file_bytes)
        out = CappedReporter(ctx)
        try:
            header = parse_header(blob, size)
        except HeaderUnreadable as exc:
            _emit(ctx, out, exc.problem)
            out.close()
            return
        for problem in header.problems:
            _emit(ctx, out, problem)
        extents: list[Extent] = []
        for index, tensor in enumerate(header.tensors):
            if index % 4096 == 0:
                ctx.deadline.check()
            _check_tensor(ctx, out, header, tensor)
            extents.append(Extent(tensor.name, tensor.begin, tensor.end))
        _check_data_area(blob, ctx, out, header, extents)
        out.close()


def _emit(ctx: AnalysisContext, out: CappedReporter, problem: Problem) -> None:
    out.report(
        problem.rule.finding(
            ctx.location(offset=problem.offset),
            f"{ctx.name}: {problem.message}.",
            evidence=problem.evidence,
        )
    )


def _check_tensor(
    ctx: AnalysisContext, out: CappedReporter, header: Header, tensor: TensorEntry
) -> None:
    where = ctx.location(offset=header.data_start + tensor.begin)
    label = f"tensor {tensor.name!r}"
    if tensor.end > header.data_size:
        out.report(
            R.TENSOR_RANGE.finding(
                where,
                f"{ctx.name}: {label} ends at byte {tensor.end} of a "
                f"{header.data_size}-byte data area.",
                evidence=f"{tensor.name}: end beyond data area",
            )
        )
    bits = tensor.expected_bits
    expected = bits // 8
    claimed = tensor.end - tensor.begin
    if expected - header.data_size > max(header.data_size, HUGE_EXCESS):
        out.report(
            R.TENSOR_ALLOCATION.finding(
                where,
                f"{ctx.name}: {label} ({tensor.dtype}, shape {list(tensor.shape)}) needs "
                f"{expected} bytes, far more than the {header.data_size}-byte data area.",
                evidence=f"{tensor.name}: {tensor.dtype} {list(tensor.shape)}",
            )
        )
    elif bits % 8 or expected != claimed:
        why = (
            f"{bits} bits do not fill whole bytes"
            if bits % 8
            else f"needs {expected} bytes but data_offsets give {claimed}"
        )
        out.report(
            R.TENSOR_SIZE.finding(
                where,
                f"{ctx.name}: {label} ({tensor.dtype}, shape {list(tensor.shape)}) {why}.",
                evidence=f"{tensor.name}: {tensor.dtype} {list(tensor.shape)} != {claimed}",
            )
        )


def _check_data_area(
    blob: Blob,
    ctx: AnalysisContext,
    out: CappedReporter,
    header: Header,
    extents: list[Extent],
) -> None:
    layout = check_layout(extents, header.data_size)
    start = header.data_start
    for first, second in layout.overlaps:
        out.report(
            R.TENSOR_OVERLAP.finding(
                ctx.location(offset=start + second.begin),
                f"{ctx.name}: tensor {second.name!r} [{second.begin}, {second.end}) overlaps "
                f"tensor {first.name!r} [{first.begin}, {first.end}).",
                evidence=f"{first.name} overlaps {second.name}",
            )
        )
    for begin, end in layout.gaps:
        hidden = inspect_hidden_bytes(blob, ctx, start + begin, start + end, f"gap@{begin}")
        what = f"; they hold {hidden[0]} data (analyzed)" if hidden else ""
        out.report(
            R.TENSOR_GAP.finding(
                ctx.location(offset=start + begin),
                f"{ctx.name}: bytes [{begin}, {end}) of the data area belong to no tensor{what}.",
                evidence=f"gap of {end - begin} bytes" + (f" ({hidden[0]})" if hidden else ""),
            )
        )
    out.add_unlisted(R.TENSOR_OVERLAP.id, layout.overlap_count - len(layout.overlaps))
    out.add_unlisted(R.TENSOR_GAP.id, layout.gap_count - len(layout.gaps))
    if layout.trailing is not None:
        begin, end = layout.trailing
        hidden = inspect_hidden_bytes(blob, ctx, start + begin, start + end, "trailing-data")
        what = f"; they hold {hidden[0]} data (analyzed)" if hidden else ""
        out.report(
            R.TRAILING_DATA.finding(
                ctx.location(offset=start + begin),
                f"{ctx.name}: {end - begin} bytes follow the last tensor{what}.",
                evidence="trailing data" + (f" ({hidden[0]})" if hidden else ""),
            )
        )
