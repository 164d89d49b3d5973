"""The pickle analyzer: every pickle in a stream, judged allowlist-first, reported precisely.

:func:`analyze_pickle` is also what the PyTorch, joblib, NumPy and archive analyzers call for the
pickles they find inside their containers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO

from bastion.core import SkipReason
from bastion.errors import AnalysisLimitError
from bastion.scan.blob import Blob, skip_bytes
from bastion.scan.formats.pickle.follow import Followed, InlineArrays, StopFollowing
from bastion.scan.formats.pickle.gadgets import valid_dotted
from bastion.scan.formats.pickle.machine import Observations, PickleMachine, RunResult
from bastion.scan.formats.pickle.probe import probe_pickle
from bastion.scan.formats.pickle.reader import ByteReader
from bastion.scan.formats.pickle.report import Mode, report
from bastion.scan.formats.pickle.rules import PICKLE_RULES
from bastion.scan.interface import AnalysisContext, Analyzer

_TORCH_LEGACY_PICKLES = 5


class PickleAnalyzer(Analyzer):
    """Pickle streams of every protocol, including legacy PyTorch files."""

    name = "pickle"
    formats = ("pickle", "pytorch-legacy")
    rules = PICKLE_RULES

    def analyze(self, blob: Blob, ctx: AnalysisContext) -> None:
        """Analyze every pickle in the blob."""
        mode = Mode.TORCH_LEGACY if ctx.format == "pytorch-legacy" else Mode.GENERIC
        analyze_pickle(blob, ctx, mode=mode)


def analyze_pickle(
    blob: Blob,
    ctx: AnalysisContext,
    *,
    mode: Mode = Mode.GENERIC,
    start: int = 0,
    inline_arrays: bool | None = None,
) -> Observations:
    """Run the machine over every pickle in ``blob`` and report what it saw.

    ``inline_arrays`` says whether joblib may be the loader (its inline NumPy arrays are then
    followed, and what a plain unpickler would run from the same bytes is analyzed too); by
    default it is for generic streams, not for PyTorch files or NumPy object arrays, which are
    always unpickled plainly. A bound reached half-way still reports everything seen before it.
    """
    joblib = mode is Mode.GENERIC if inline_arrays is None else inline_arrays
    obs = Observations()
    followed = Followed()
    runs: list[RunResult] = []
    limit: Exception | None = None
    with blob.open() as stream:
        if start:
            skip_bytes(stream, start)
        reader = ByteReader(stream, base=start, limit=ctx.limits.max_pickle_bytes)
        hook = (
            InlineArrays(
                ctx.limits,
                ctx.deadline,
                obs,
                followed,
                reopen=_reopener(blob),
                note=lambda detail: ctx.skip(SkipReason.LIMIT, f"pickle: {detail}"),
            )
            if joblib
            else None
        )
        machine = PickleMachine(reader, ctx.limits, ctx.deadline, obs, hook)
        try:
            _run_all(machine, reader, runs, followed, mode)
        except (AnalysisLimitError, RecursionError, MemoryError) as exc:
            limit = exc
    report(obs, runs, followed, ctx, mode, blob)
    if limit is not None:
        what = "nesting too deep" if isinstance(limit, RecursionError) else str(limit) or "memory"
        ctx.skip(SkipReason.LIMIT, f"pickle: stopped at offset {reader.pos}: {what}")
    return obs


def _run_all(
    machine: PickleMachine,
    reader: ByteReader,
    runs: list[RunResult],
    followed: Followed,
    mode: Mode,
) -> None:
    """Run consecutive pickles the way the stream's loaders read them."""
    while True:
        run_start = reader.pos
        try:
            result = machine.run()
        except StopFollowing:
            runs.append(
                RunResult(
                    run_start,
                    reader.pos,
                    False,
                    error=followed.reason,
                    error_pos=followed.unfollowable_at,
                )
            )
            return
        runs.append(result)
        if not result.stopped or followed.unfollowable_at is not None:
            return
        if mode is Mode.TORCH_LEGACY:
            if len(runs) >= _TORCH_LEGACY_PICKLES:
                return  # the rest is raw storage data
            continue
        if reader.at_eof():
            return
        if _another_pickle_follows(reader.peek(4096)) or _speculative_pickle(machine, runs):
            continue
        return


def _speculative_pickle(machine: PickleMachine, runs: list[RunResult]) -> bool:
    """Try the bytes after a STOP as another pickle whose start no probe window shows.

    Kept when it reaches STOP or imports a validly named global (a payload can break the
    stream after it ran); trailing garbage is dropped. Returns whether to go on reading.
    """
    main = machine.obs
    trial = Observations()
    machine.obs = trial
    try:
        result = machine.run()
    except StopFollowing:
        result = None
    finally:
        machine.obs = main
    if result is None or not (result.stopped or any(valid_dotted(g.qualname) for g in trial.globs)):
        return False
    _merge(main, trial)
    runs.append(result)
    return result.stopped


def _merge(into: Observations, other: Observations) -> None:
    into.globs += other.globs
    into.dynamic += other.dynamic
    into.build_on_global += other.build_on_global
    into.nested += other.nested
    into.dynamic_calls += other.dynamic_calls
    into.protocols += other.protocols
    into.alternatives += other.alternatives
    into.persistent_ids += other.persistent_ids
    into.ops += other.ops


def _reopen_at(blob: Blob, pos: int) -> BinaryIO:
    stream = blob.open()
    skip_bytes(stream, pos)
    return stream


def _reopener(blob: Blob) -> Callable[[int], BinaryIO]:
    return lambda pos: _reopen_at(blob, pos)


def _another_pickle_follows(head: bytes) -> bool:
    if len(head) >= 2 and head[0] == 0x80 and 1 <= head[1] <= 5:
        return True
    verdict = probe_pickle(head)
    return verdict.complete or verdict.imports_valid_global
