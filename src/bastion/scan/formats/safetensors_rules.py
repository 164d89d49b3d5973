"""The ``BST-ST`` rules: structure, integrity and resource checks of safetensors files.

A safetensors file is an 8-byte little-endian header length, a JSON header, and a data area
the header indexes into. It cannot run code, so every rule here is about integrity (loaders
that would read the file differently) or denial of service (sizes that make a loader allocate
or read more than the file holds). The reference loader rejects every file these rules flag;
other loaders (ports in other languages, hand-written readers, converters) often do not,
which is what makes the irregularities useful to an attacker.
"""

from __future__ import annotations

from bastion.core import Confidence, Severity
from bastion.rules import Rule
from bastion.scan.formats.tensor_rules import (
    EXCESSIVE_ALLOCATION,
    INTERPRETATION_CONFLICT,
    UNACCOUNTED_BYTES,
)

HEADER_LENGTH = Rule(
    "BST-ST-001",
    "safetensors header length is out of bounds",
    Severity.HIGH,
    "models",
    doc="""
    The 8-byte length prefix declares a header that is larger than the file, larger than the
    100,000,000 bytes the reference loader accepts, or too small to hold a JSON object. A loader
    that trusts the prefix allocates or reads the declared size before it notices (a header
    bomb); the file is not a valid safetensors file and nothing else in it was checked.
    """,
    remediation="Reject the file; re-export the weights with the safetensors library.",
    references=EXCESSIVE_ALLOCATION,
)

HEADER_SYNTAX = Rule(
    "BST-ST-002",
    "safetensors header is not a valid JSON object",
    Severity.MEDIUM,
    "models",
    doc="""
    The header is not UTF-8, not JSON, not a JSON object, does not start with ``{``, uses
    non-standard constants (``NaN``, ``Infinity``), integers too long to be sizes, or nests
    deeper than a parser's recursion allows. The reference loader refuses such a header;
    lenient parsers may accept it and see different tensors.
    """,
    remediation="Reject the file; re-export the weights with the safetensors library.",
    references=INTERPRETATION_CONFLICT,
)

DUPLICATE_KEY = Rule(
    "BST-ST-003",
    "safetensors header repeats a key",
    Severity.MEDIUM,
    "models",
    doc="""
    A JSON object in the header names the same key twice (two tensors with one name, two
    ``__metadata__`` blocks, a repeated ``dtype``…). JSON parsers disagree on which copy wins
    (first, last, or an error), so two loaders can load different weights from one file: a
    classic way to pass a review with one tensor and ship another.
    """,
    remediation="Reject the file; re-export it so every key appears once.",
    references=INTERPRETATION_CONFLICT,
)

METADATA_SHAPE = Rule(
    "BST-ST-004",
    "safetensors __metadata__ is not a map of strings",
    Severity.MEDIUM,
    "models",
    doc="""
    ``__metadata__`` must be a JSON object whose values are all strings. Other shapes (numbers,
    nested objects, lists) are rejected by the reference loader and handed as arbitrary objects
    to code that reads metadata from lenient parsers.
    """,
    remediation="Store metadata as string values only.",
    references=INTERPRETATION_CONFLICT,
)

METADATA_SIZE = Rule(
    "BST-ST-005",
    "safetensors __metadata__ is unusually large",
    Severity.LOW,
    "models",
    doc="""
    The free-form metadata holds more than 1 MiB of text. Real files store a few short strings
    (format, framework, a config hash). Large metadata is a way to hide data in a file reviewers
    treat as weights only, and costs every loader memory when the header is parsed.
    """,
    remediation="Check what the metadata holds; keep model documentation outside the weights.",
    references=UNACCOUNTED_BYTES,
    confidence=Confidence.MEDIUM,
)

TENSOR_ENTRY = Rule(
    "BST-ST-006",
    "safetensors tensor entry is invalid",
    Severity.MEDIUM,
    "models",
    doc="""
    A tensor entry is not an object with a known ``dtype``, a ``shape`` list of non-negative
    integers and ``data_offsets`` ``[begin, end]`` with ``begin <= end``. Loaders that do not
    validate the entry compute sizes and offsets from garbage.
    """,
    remediation="Reject the file; re-export the weights with the safetensors library.",
    references=INTERPRETATION_CONFLICT,
)

TENSOR_SIZE = Rule(
    "BST-ST-007",
    "safetensors tensor size does not match its shape and dtype",
    Severity.MEDIUM,
    "models",
    doc="""
    ``end - begin`` of a tensor's ``data_offsets`` differs from ``prod(shape) * dtype size`` (or
    a sub-byte dtype does not fill whole bytes). A loader that reads by offsets and one that
    reads by shape see different data; the spare bytes can carry anything.
    """,
    remediation="Reject the file; re-export the weights with the safetensors library.",
    references=INTERPRETATION_CONFLICT,
)

TENSOR_RANGE = Rule(
    "BST-ST-008",
    "safetensors tensor data lies outside the file",
    Severity.HIGH,
    "models",
    doc="""
    A tensor's ``data_offsets`` end beyond the data area. Loaders that map the file and slice it
    by offsets read out of bounds or fail late; loaders that allocate by the declared size
    allocate memory the file never backs.
    """,
    remediation="Reject the file.",
    references=EXCESSIVE_ALLOCATION,
)

TENSOR_ALLOCATION = Rule(
    "BST-ST-009",
    "safetensors tensor declares a huge allocation",
    Severity.HIGH,
    "models",
    doc="""
    ``prod(shape) * dtype size`` of a tensor exceeds the whole data area of the file by more than
    the data area itself (and by more than 64 MiB). A loader that allocates by shape before
    checking offsets (common in converters and ports) tries to allocate that much memory: a
    denial of service from a few bytes of header. Smaller mismatches are ``BST-ST-007``.
    """,
    remediation="Reject the file.",
    references=EXCESSIVE_ALLOCATION,
)

TENSOR_OVERLAP = Rule(
    "BST-ST-010",
    "safetensors tensors overlap",
    Severity.MEDIUM,
    "models",
    doc="""
    Two tensors claim some of the same bytes. The reference loader requires tensors to be laid
    out back to back; overlapping views mean one write or one review covers two tensors, and
    lenient loaders accept the file.
    """,
    remediation="Reject the file; re-export the weights with the safetensors library.",
    references=INTERPRETATION_CONFLICT,
)

TENSOR_GAP = Rule(
    "BST-ST-011",
    "safetensors data area has bytes no tensor claims",
    Severity.MEDIUM,
    "models",
    doc="""
    Bytes between tensors belong to no tensor. The reference loader rejects such files; other
    loaders skip the bytes silently, which makes the gap a hiding place. The bytes are handed
    to format detection: a payload in a known format is analyzed and reported on its own.
    """,
    remediation="Reject the file; find out what the unclaimed bytes hold.",
    references=UNACCOUNTED_BYTES,
)

TRAILING_DATA = Rule(
    "BST-ST-012",
    "safetensors file has data after the last tensor",
    Severity.MEDIUM,
    "models",
    doc="""
    The file continues after the last byte any tensor claims. The reference loader requires the
    tensors to cover the data area exactly; tools that read by offsets never look at the tail,
    so a pickle or archive appended there (a polyglot file) goes unnoticed. The trailing bytes
    are handed to format detection and analyzed when they are a known format.
    """,
    remediation="Reject the file; find out what the trailing bytes hold.",
    references=UNACCOUNTED_BYTES,
)

SAFETENSORS_RULES = (
    HEADER_LENGTH,
    HEADER_SYNTAX,
    DUPLICATE_KEY,
    METADATA_SHAPE,
    METADATA_SIZE,
    TENSOR_ENTRY,
    TENSOR_SIZE,
    TENSOR_RANGE,
    TENSOR_ALLOCATION,
    TENSOR_OVERLAP,
    TENSOR_GAP,
    TRAILING_DATA,
)
