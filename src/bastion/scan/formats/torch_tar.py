"""PyTorch's legacy tar checkpoints, whose members interleave pickles with raw bytes.

``torch.load(weights_only=False)`` first tries a file as a tar (``legacy_load``) and reads its
``storages`` member as: a pickled count, then per storage a pickled ``(key, location, type)``
header, an int64 element count and the raw elements; ``tensors`` as a pickled count, then per
tensor a pickled header and a fixed binary record. Every pickle in them runs, so they are
followed exactly that way; stopping at the first raw bytes would leave later headers unread.
"""

from __future__ import annotations

import struct

from bastion.errors import AnalysisLimitError
from bastion.scan.blob import Blob
from bastion.scan.formats.pickle.follow import Followed
from bastion.scan.formats.pickle.machine import Observations, PickleMachine, RunResult
from bastion.scan.formats.pickle.reader import ByteReader, TruncatedError
from bastion.scan.formats.pickle.report import Mode, report
from bastion.scan.formats.pickle.values import Glob, Lit, Seq, Value
from bastion.scan.interface import AnalysisContext

#: Members ``legacy_load`` reads with interleaved raw data.
LEGACY_MEMBERS = frozenset({"storages", "tensors"})

#: Element sizes of the legacy storage classes (``torch.FloatStorage`` …, also ``torch.cuda``).
_ELEMENT_SIZES = {
    "DoubleStorage": 8,
    "FloatStorage": 4,
    "HalfStorage": 2,
    "BFloat16Storage": 2,
    "LongStorage": 8,
    "IntStorage": 4,
    "ShortStorage": 2,
    "CharStorage": 1,
    "ByteStorage": 1,
    "BoolStorage": 1,
    "ComplexDoubleStorage": 16,
    "ComplexFloatStorage": 8,
    "QInt8Storage": 1,
    "QUInt8Storage": 1,
    "QInt32Storage": 4,
    "QUInt4x2Storage": 1,
    "QUInt2x4Storage": 1,
}
_MAX_ITEMS = 1_000_000


def analyze_legacy_member(name: str, blob: Blob, ctx: AnalysisContext) -> None:
    """Follow ``storages`` or ``tensors`` of a legacy tar checkpoint; report every pickle."""
    obs = Observations()
    runs: list[RunResult] = []
    followed = Followed()
    with blob.open() as stream:
        reader = ByteReader(stream, limit=ctx.limits.max_pickle_bytes)
        machine = PickleMachine(reader, ctx.limits, ctx.deadline, obs)
        try:
            _follow(name, machine, reader, runs, followed)
        except TruncatedError as exc:
            runs.append(RunResult(exc.pos, reader.pos, False, error=str(exc), error_pos=exc.pos))
        except (AnalysisLimitError, RecursionError, MemoryError):
            report(obs, runs, followed, ctx, Mode.TORCH_LEGACY, blob)
            raise
    report(obs, runs, followed, ctx, Mode.TORCH_LEGACY, blob)


def _follow(
    name: str,
    machine: PickleMachine,
    reader: ByteReader,
    runs: list[RunResult],
    followed: Followed,
) -> None:
    count = _pickle(machine, runs)
    if count is None:
        return
    number = count.value if isinstance(count, Lit) else None
    if not isinstance(number, int) or isinstance(number, bool):
        _stop(followed, reader, f"{name}: the item count is not a literal integer")
        return
    for _ in range(min(max(number, 0), _MAX_ITEMS)):
        header = _pickle(machine, runs)
        if header is None:
            return
        if name == "storages":
            size = _element_size(header)
            if size is None:
                _stop(followed, reader, "storages: a header names no known storage type")
                return
            (numel,) = struct.unpack("<q", reader.read(8, "storage size"))
            if numel < 0:
                _stop(followed, reader, "storages: negative element count")
                return
            reader.skip(numel * size, "storage data")
        else:
            (ndim,) = struct.unpack("<i", reader.read(4, "tensor rank"))
            if ndim < 0:
                _stop(followed, reader, "tensors: negative rank")
                return
            reader.skip(4 + 16 * ndim + 8, "tensor record")
    if name == "storages":
        _pickle(machine, runs)  # the storage views


def _pickle(machine: PickleMachine, runs: list[RunResult]) -> Value | None:
    result = machine.run()
    runs.append(result)
    return result.result if result.stopped else None


def _element_size(header: Value) -> int | None:
    if not (isinstance(header, Seq) and len(header.items) == 3):
        return None
    storage_type = header.items[2]
    if not isinstance(storage_type, Glob):
        return None
    return _ELEMENT_SIZES.get(storage_type.qualname.rsplit(".", 1)[-1])


def _stop(followed: Followed, reader: ByteReader, reason: str) -> None:
    followed.unfollowable_at = reader.pos
    followed.reason = reason
