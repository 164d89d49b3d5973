"""NumPy ``.npy`` files (format versions 1–3); ``.npz`` archives go through the zip analyzer.

A plain array is inert. An array whose dtype holds Python objects is stored as a pickle after
the header, and ``numpy.load(allow_pickle=True)`` runs it: that pickle is analyzed like any other.
"""

from __future__ import annotations

import ast
import struct

from bastion.core import Confidence, Severity
from bastion.errors import MalformedInputError
from bastion.rules import MALFORMED_ARTIFACT, UNSAFE_ARTIFACT, Rule
from bastion.scan.blob import Blob
from bastion.scan.formats.pickle import analyze_pickle
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
_NUMPY_DEFAULT_MAX_HEADER = 10000


def parse_header(blob: Blob) -> tuple[dict[str, object], int]:
    """The header dict and the offset where the array data starts."""
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
    if length > _MAX_HEADER:
        raise MalformedInputError(f"header of {length} bytes")
    raw = blob.read_at(start, length)
    if len(raw) < length:
        raise MalformedInputError("truncated NumPy header")
    text = raw.decode("utf-8" if major == 3 else "latin-1", "replace")
    try:
        header = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
        raise MalformedInputError(f"header is not a literal dict: {exc}") from exc
    if not isinstance(header, dict):
        raise MalformedInputError("header is not a dict")
    return header, start + length


def descr_has_object(descr: object, depth: int = 0) -> bool:
    """Whether an array-interface ``descr`` contains the object type anywhere."""
    if depth > 32:
        return True
    if isinstance(descr, str):
        return descr.lstrip("<>|=").startswith("O")
    if isinstance(descr, list | tuple):
        return any(descr_has_object(item, depth + 1) for item in descr)
    return False


class NumpyAnalyzer(Analyzer):
    """``.npy`` arrays: the header is parsed; object arrays' pickles are analyzed."""

    name = "numpy"
    formats = ("numpy",)
    rules = (OBJECT_ARRAY, BAD_HEADER)

    def analyze(self, blob: Blob, ctx: AnalysisContext) -> None:
        """Check the header; analyze the pickle behind an object dtype."""
        try:
            header, data_offset = parse_header(blob)
        except MalformedInputError as exc:
            ctx.report(
                BAD_HEADER.finding(
                    ctx.location(), f"Unreadable .npy header: {exc}.", evidence=str(exc)
                )
            )
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
