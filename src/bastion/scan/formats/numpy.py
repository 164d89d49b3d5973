"""NumPy ``.npy`` files (format versions 1–3); ``.npz`` archives go through the zip analyzer.

A plain array is inert. An array whose dtype holds Python objects is stored as a pickle after
the header, and ``numpy.load(allow_pickle=True)`` runs it: that pickle is analyzed like any other.
"""

from __future__ import annotations

import ast
import re
import struct

from bastion.core import Confidence, Severity
from bastion.errors import MalformedInputError
from bastion.rules import MALFORMED_ARTIFACT, UNSAFE_ARTIFACT, Rule
from bastion.scan.blob import Blob
from bastion.scan.formats.pickle import analyze_pickle
from bastion.scan.formats.pickle.probe import probe_pickle
from bastion.scan.interface import AnalysisContext, Analyzer

OBJECT_ARRAY = Rule(
    "BST-NPY-001",
    "NumPy array stores pickled Python objects",
    Severity.LOW,
    "models",
    doc="""
    The ``.npy`` header declares an object dtype, so the data is a pickle that
    ``numpy.load(..., allow_pickle=True)`` executes. The embedded pickle is analyzed and its
    findings are reported separately; this finding records that loading needs ``allow_pickle``.
    """,
    remediation="Store numeric arrays only, or load with allow_pickle=False.",
    references=UNSAFE_ARTIFACT,
    confidence=Confidence.HIGH,
)

BAD_HEADER = Rule(
    "BST-NPY-002",
    "NumPy header is malformed",
    Severity.MEDIUM,
    "models",
    doc="""
    The ``.npy`` header cannot be parsed as the dictionary literal the format requires, is
    larger than NumPy accepts by default, or declares a shape or dtype that does not fit the
    file. Loaders disagree on such files; treat it as tampered.
    """,
    remediation="Re-export the array from its source.",
    references=MALFORMED_ARTIFACT,
)

_MAX_HEADER = 1 << 20
#: Headers up to this size are read to see whether they are a small dict plus padding.
_MAX_PADDED_HEADER = 64 << 20
_NUMPY_DEFAULT_MAX_HEADER = 10000


class HeaderError(MalformedInputError):
    """The header cannot be read; ``data_offset`` says where NumPy would start the data."""

    def __init__(self, message: str, data_offset: int | None) -> None:
        super().__init__(message)
        self.data_offset = data_offset


def parse_header(blob: Blob) -> tuple[dict[str, object], int]:
    """The header dict and the offset where the array data starts.

    Raises :class:`HeaderError` (with the data offset when the length field was readable).
    """
    head = blob.read_at(0, 12)
    if len(head) < 10 or not head.startswith(b"\x93NUMPY"):
        raise MalformedInputError("missing NumPy magic")
    major = head[6]
    if major == 1:
        (length,) = struct.unpack("<H", head[8:10])
        start = 10
    elif major in (2, 3):
        if len(head) < 12:
            raise MalformedInputError("truncated NumPy header")
        (length,) = struct.unpack("<I", head[8:12])
        start = 12
    else:
        raise MalformedInputError(f"unknown .npy format version {major}")
    data_offset = start + length
    if length > _MAX_PADDED_HEADER:
        raise HeaderError(f"header of {length} bytes", data_offset)
    raw = blob.read_at(start, length)
    if len(raw) < length:
        raise HeaderError("truncated NumPy header", None)
    text = raw.decode("utf-8" if major == 3 else "latin-1", "replace").strip()
    if len(text) > _MAX_HEADER:
        raise HeaderError(f"header of {len(text)} characters", data_offset)
    header = _simple_header(text)
    if header is None:
        try:
            header = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
            raise HeaderError(f"header is not a literal dict: {exc}", data_offset) from exc
    if not isinstance(header, dict):
        raise HeaderError("header is not a dict", data_offset)
    return header, data_offset


_SIMPLE = re.compile(
    r"^\{'descr': '([<>|=]?[A-Za-z?][0-9]*(?:\[[A-Za-z0-9]+\])?)', "
    r"'fortran_order': (True|False), 'shape': \(((?:\d+, ?)*\d*)\),? ?\}$"
)


def _simple_header(text: str) -> dict[str, object] | None:
    """The header NumPy itself writes for plain dtypes, without compiling Python (fast path).

    Anything else (structured dtypes, odd spacing) goes through ``ast.literal_eval``.
    """
    match = _SIMPLE.match(text)
    if match is None:
        return None
    descr, order, dims = match.groups()
    shape = tuple(int(d) for d in dims.replace(" ", "").split(",") if d)
    return {"descr": descr, "fortran_order": order == "True", "shape": shape}


def descr_has_object(descr: object, depth: int = 0) -> bool:
    """Whether ``descr`` may hold the object type anywhere, the way NumPy's loader reads it.

    ``numpy.lib.format.descr_to_dtype`` hands a string to ``numpy.dtype`` (type names such as
    ``'object'``, comma lists ``'i4,O'``, subarrays ``'(2,)O'``), reads a tuple as
    ``(type, shape)`` and iterates anything else into ``(name, type[, shape])`` fields, so a
    two-character string ``'aO'`` (a dict key, a list item) is a field ``a`` of type ``O``.
    """
    if depth > 32:
        return True
    if isinstance(descr, str):
        return _type_has_object(descr)
    if isinstance(descr, tuple):
        return bool(descr) and descr_has_object(descr[0], depth + 1)
    if isinstance(descr, dict | list | set | frozenset):
        return any(_field_has_object(field, depth + 1) for field in descr)
    return False


def _field_has_object(field: object, depth: int) -> bool:
    if isinstance(field, str):
        return _type_has_object(field[1:])  # unpacked character by character
    if isinstance(field, list | tuple):
        return len(field) >= 2 and descr_has_object(field[1], depth)
    return False


def _type_has_object(text: str) -> bool:
    return "O" in text or "object" in text.lower()


def _pickle_at(blob: Blob, offset: int) -> bool:
    head = blob.read_at(offset, 4096)
    if len(head) >= 2 and head[0] == 0x80 and 1 <= head[1] <= 5:
        return True
    verdict = probe_pickle(head)
    return verdict.complete or verdict.imports_valid_global


class NumpyAnalyzer(Analyzer):
    """``.npy`` arrays: the header is parsed; object arrays' pickles are analyzed."""

    name = "numpy"
    formats = ("numpy",)
    rules = (OBJECT_ARRAY, BAD_HEADER)

    def analyze(self, blob: Blob, ctx: AnalysisContext) -> None:
        """Check the header; analyze the pickle behind an object dtype."""
        try:
            header, data_offset = parse_header(blob)
        except HeaderError as exc:
            ctx.report(
                BAD_HEADER.finding(
                    ctx.location(), f"Unreadable .npy header: {exc}.", evidence=str(exc)
                )
            )
            # NOTE: numpy.load(allow_pickle=True) may still read what this parser could not
            # (it has no header size limit then): a pickle where the data starts is analyzed.
            if exc.data_offset is not None and _pickle_at(blob, exc.data_offset):
                analyze_pickle(blob, ctx, start=exc.data_offset, inline_arrays=False)
            return
        descr = header.get("descr")
        if data_offset - 10 > _NUMPY_DEFAULT_MAX_HEADER:
            ctx.report(
                BAD_HEADER.finding(
                    ctx.location(),
                    f"Header of {data_offset} bytes exceeds NumPy's default limit "
                    f"({_NUMPY_DEFAULT_MAX_HEADER}); only allow_pickle=True loads it.",
                    evidence="oversized header",
                    severity=Severity.LOW,
                )
            )
        if descr_has_object(descr):
            ctx.report(
                OBJECT_ARRAY.finding(
                    ctx.location(offset=data_offset),
                    f"Array dtype {descr!r} holds Python objects; the data at offset "
                    f"{data_offset} is a pickle (analyzed).",
                    evidence=str(descr),
                )
            )
            # numpy.load unpickles object arrays with pickle.load: no joblib array hook.
            analyze_pickle(blob, ctx, start=data_offset, inline_arrays=False)
