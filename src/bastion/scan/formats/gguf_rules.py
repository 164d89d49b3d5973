"""The ``BST-GGUF`` rules: structure, integrity and resource checks of GGUF files.

GGUF (llama.cpp, ollama, LM Studio…) stores a header, typed key/value metadata, tensor
descriptors and aligned tensor data. Its tensors cannot run code; the risks are parser bugs in
native loaders (several memory-corruption CVEs in GGUF readers came from unchecked counts,
string lengths and dimensions), denial of service from declared sizes, and loaders that
disagree about the content. The chat template a GGUF file carries is checked by the
``BST-TPL`` rules.
"""

from __future__ import annotations

from bastion.core import Severity
from bastion.rules import Rule
from bastion.scan.formats.tensor_rules import (
    EXCESSIVE_ALLOCATION,
    INTERPRETATION_CONFLICT,
    UNACCOUNTED_BYTES,
)

HEADER = Rule(
    "BST-GGUF-001",
    "GGUF header is invalid or truncated",
    Severity.MEDIUM,
    "models",
    doc="""
    The file starts with the GGUF magic but its version is not 1, 2 or 3, or the file ends in
    the middle of the header, the metadata or the tensor descriptors. Loaders reject it or read
    past the end; nothing after the break was checked.
    """,
    remediation="Reject the file; download or convert the model again.",
    references=INTERPRETATION_CONFLICT,
)

COUNTS = Rule(
    "BST-GGUF-002",
    "GGUF declares more entries than the file can hold",
    Severity.HIGH,
    "models",
    doc="""
    The header's tensor count or metadata count is larger than the number of entries the rest of
    the file could possibly contain. Readers that size arrays from these counts before reading
    allocate enormous buffers or overflow the size computation (the pattern behind heap
    overflows reported in native GGUF readers).
    """,
    remediation="Reject the file.",
    references=EXCESSIVE_ALLOCATION,
)

LENGTH = Rule(
    "BST-GGUF-003",
    "GGUF string or array length exceeds the file",
    Severity.HIGH,
    "models",
    doc="""
    A string length or array element count runs past the end of the file, or a key is longer
    than the 65,535 bytes the specification allows. A reader that allocates by the declared
    length before reading exhausts memory or reads out of bounds.
    """,
    remediation="Reject the file.",
    references=EXCESSIVE_ALLOCATION,
)

VALUE = Rule(
    "BST-GGUF-004",
    "GGUF metadata value is invalid",
    Severity.MEDIUM,
    "models",
    doc="""
    A metadata entry has a value type the specification does not define, a boolean other than
    0 or 1, a key or string that is not UTF-8, or a well-known key (``general.alignment``) with
    the wrong type or an impossible value. Readers disagree on such entries, and an unknown type
    makes the rest of the file unreadable.
    """,
    remediation="Reject the file; convert the model again with a current gguf writer.",
    references=INTERPRETATION_CONFLICT,
)

NESTING = Rule(
    "BST-GGUF-005",
    "GGUF metadata arrays are nested",
    Severity.MEDIUM,
    "models",
    doc="""
    An array holds arrays. The format allows it but no model metadata uses it and llama.cpp
    refuses it; deep nesting exhausts recursive readers (reported as high when it passes the
    depth bastion follows).
    """,
    remediation="Reject the file unless the producer is known to write nested arrays.",
    references=EXCESSIVE_ALLOCATION,
)

DUPLICATE = Rule(
    "BST-GGUF-006",
    "GGUF repeats a metadata key or tensor name",
    Severity.MEDIUM,
    "models",
    doc="""
    Two metadata entries share a key, or two tensors share a name. llama.cpp rejects the file;
    other readers keep the first or the last copy, so two tools see different metadata (a
    different chat template, say) or different weights in the same file.
    """,
    remediation="Reject the file.",
    references=INTERPRETATION_CONFLICT,
)

TENSOR = Rule(
    "BST-GGUF-007",
    "GGUF tensor descriptor is invalid",
    Severity.MEDIUM,
    "models",
    doc="""
    A tensor descriptor has an unknown or retired ggml type, no dimensions or more than the
    four ggml supports, a dimension that does not fit a signed 64-bit integer, an element count
    that overflows, a first dimension that is not a multiple of the type's block size, or a
    name longer than ggml's 63 bytes. Out-of-range dimensions and counts are reported as high:
    they are the inputs behind memory-corruption bugs in native readers.
    """,
    remediation="Reject the file.",
    references=EXCESSIVE_ALLOCATION,
)

ALIGNMENT = Rule(
    "BST-GGUF-008",
    "GGUF tensor data is misaligned",
    Severity.MEDIUM,
    "models",
    doc="""
    A tensor's offset is not a multiple of the file's alignment (``general.alignment``, 32 by
    default), or the alignment itself is not a power of two. Memory-mapping loaders reject or
    misread such tensors; writers never produce them.
    """,
    remediation="Reject the file; convert the model again.",
    references=INTERPRETATION_CONFLICT,
)

RANGE = Rule(
    "BST-GGUF-009",
    "GGUF tensor data lies outside the file",
    Severity.HIGH,
    "models",
    doc="""
    A tensor's data (offset plus the size its type and dimensions imply) ends beyond the end of
    the file. Loaders that map the file and trust the descriptor read out of bounds.
    """,
    remediation="Reject the file.",
    references=EXCESSIVE_ALLOCATION,
)

OVERLAP = Rule(
    "BST-GGUF-010",
    "GGUF tensors overlap",
    Severity.MEDIUM,
    "models",
    doc="""
    Two tensors claim some of the same bytes of the data section. Writers lay tensors out one
    after another; overlapping views are a crafted file.
    """,
    remediation="Reject the file.",
    references=INTERPRETATION_CONFLICT,
)

UNACCOUNTED = Rule(
    "BST-GGUF-011",
    "GGUF data section has bytes no tensor claims",
    Severity.MEDIUM,
    "models",
    doc="""
    More than alignment padding lies between tensors or after the last one. Loaders never read
    those bytes, which makes them a hiding place; they are handed to format detection and a
    payload in a known format is analyzed and reported on its own.
    """,
    remediation="Reject the file; find out what the unclaimed bytes hold.",
    references=UNACCOUNTED_BYTES,
)

GGUF_RULES = (
    HEADER,
    COUNTS,
    LENGTH,
    VALUE,
    NESTING,
    DUPLICATE,
    TENSOR,
    ALIGNMENT,
    RANGE,
    OVERLAP,
    UNACCOUNTED,
)
