"""A cheap structural probe: could these bytes be a (protocol 0 or 1) pickle?

Protocol 2+ pickles announce themselves with ``PROTO``; older ones are text-like and share their
first bytes with many text files. The probe decodes a few opcodes from the head and says whether
the bytes reached ``STOP``, imported a global with a valid dotted name, or at least parsed.
"""

from __future__ import annotations

import io
import pickletools
from dataclasses import dataclass
from typing import BinaryIO, cast

from bastion.errors import AnalysisLimitError
from bastion.scan.formats.pickle.reader import (
    ByteReader,
    InvalidOpcodeError,
    TruncatedError,
    read_op,
)

_IMPORTS = frozenset({"GLOBAL", "INST", "STACK_GLOBAL"})
#: Opcodes the unpickler refuses as the first of a stream: they pop or read the stack, need a
#: mark, or read the memo, all empty at the start. Bytes opening with one are not a pickle (random
#: tensor bytes such as ``0l.`` would otherwise parse to STOP).
_FAILS_FIRST = frozenset(op.name for op in pickletools.opcodes if op.stack_before) | frozenset(
    {"PUT", "BINPUT", "LONG_BINPUT", "GET", "BINGET", "LONG_BINGET"}
)


@dataclass(frozen=True)
class ProbeVerdict:
    """What the probe learned from the head."""

    complete: bool
    imports_valid_global: bool
    plausible: bool
    ops: int
    #: The bytes ended inside an opcode (in a head: possibly only where the head was cut).
    truncated: bool = False
    #: ``max_ops`` (or the byte bound) was reached without an error: the decoding could go on.
    exhausted: bool = False


def _valid_name(text: str) -> bool:
    return bool(text) and all(part.isidentifier() for part in text.split("."))


def probe_pickle(head: bytes, max_ops: int = 256) -> ProbeVerdict:
    """Decode up to ``max_ops`` opcodes of ``head``."""
    return _probe(ByteReader(io.BytesIO(head)), max_ops)


def probe_pickle_stream(stream: BinaryIO, max_ops: int, max_bytes: int) -> ProbeVerdict:
    """Decode up to ``max_ops`` opcodes from ``stream``, past any head window.

    Literal arguments are read (or, when large, skipped) like the unpickler consumes them, so a
    long string before the first import does not hide it; at most ``max_bytes`` of opcodes and
    inline arguments are parsed.
    """
    return _probe(ByteReader(stream, limit=max_bytes, chunk=1 << 16), max_ops)


def _probe(reader: ByteReader, max_ops: int) -> ProbeVerdict:
    ops = 0
    imports = False
    try:
        while ops < max_ops:
            op = read_op(reader)
            if op is None:
                break
            ops += 1
            if ops == 1 and op.name in _FAILS_FIRST:
                return ProbeVerdict(False, False, False, ops)
            if op.name in ("GLOBAL", "INST"):
                module, name = cast("tuple[str, str]", op.arg)
                if not (_valid_name(module) and _valid_name(name)):
                    return ProbeVerdict(False, False, False, ops)
                imports = True
            if op.name == "STOP":
                return ProbeVerdict(ops > 1, imports, True, ops)
    except TruncatedError:
        return ProbeVerdict(False, imports, ops >= 3 and imports, ops, truncated=True)
    except (InvalidOpcodeError, ValueError):
        return ProbeVerdict(False, imports, ops >= 3 and imports, ops)
    except AnalysisLimitError:
        return ProbeVerdict(False, imports, ops >= 8, ops, exhausted=True)
    return ProbeVerdict(False, imports, ops >= 8, ops, exhausted=ops >= max_ops)
