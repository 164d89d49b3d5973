"""What follows a joblib array wrapper's BUILD, for each loader that may read the stream.

``joblib.load`` reads raw array bytes (or a nested pickle) there, from the file position of its
Python unpickler: after the current FRAME when the BUILD sits inside one. ``pickle.load`` (and
``torch.load``, ``numpy.load``) has no such hook and keeps parsing opcodes. A file can be built
so the two disagree, so :class:`InlineArrays` follows joblib's reading in the main pass and, in
contexts where a plain unpickler may load the same bytes, analyzes the plain continuation too
(a fork over copies of the stack and memo), whose calls are reported like any others.
"""

from __future__ import annotations

import io
import pickletools
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import BinaryIO, NoReturn

from bastion.errors import AnalysisLimitError
from bastion.scan.formats.pickle import joblib_arrays
from bastion.scan.formats.pickle.machine import Observations, PickleMachine, RunResult
from bastion.scan.formats.pickle.reader import ByteReader
from bastion.scan.formats.pickle.values import MARK, Call, Glob, Map, Seq, Unknown, Value, _Mark
from bastion.scan.limits import Deadline, Limits

#: Bytes of the plain continuation decoded from the reader's buffer before re-reading the file.
_WINDOW = 64 * 1024
#: Stack items a fork starts with, and how deep their values are copied.
_FORK_STACK = 256
_FORK_DEPTH = 16
_OPCODE_BYTES = frozenset(ord(op.code) for op in pickletools.opcodes)
#: Plain continuations longer than the window that are re-read from the file, per artifact
#: (each re-read of a compressed stream decompresses it up to that point again).
_REREADS = 8


class StopFollowing(Exception):
    """Raised through the machine when the stream cannot be followed further."""


@dataclass
class Followed:
    """Where following the stream stopped early, if it did."""

    unfollowable_at: int | None = None
    reason: str = ""


class InlineArrays:
    """The BUILD hook that reads joblib's inline arrays (and forks the plain reading)."""

    def __init__(
        self,
        limits: Limits,
        deadline: Deadline,
        obs: Observations,
        followed: Followed,
        *,
        reopen: Callable[[int], BinaryIO] | None,
        note: Callable[[str], None] | None = None,
    ) -> None:
        self._limits = limits
        self._deadline = deadline
        self._obs = obs
        self._followed = followed
        self._reopen = reopen
        self._note = note
        self._rereads = _REREADS
        self._fork_ops = limits.max_opcodes // 20  # plain readings share a twentieth
        self._attributes: dict[int, tuple[Call, dict[str, Value]]] = {}

    def __call__(self, obj: Value, state: Value, machine: PickleMachine) -> None:
        """BUILD hook: follow the array a wrapper announces."""
        if joblib_arrays.wrapper_class(obj) is None or not isinstance(obj, Call):
            return
        if self._reopen is not None:
            self._fork_plain(machine)
        try:
            entry = self._attributes.get(id(obj))
            if entry is None:
                entry = (obj, joblib_arrays.initial_attributes(obj))
                self._attributes[id(obj)] = entry
            joblib_arrays.apply_state(entry[1], state)
            layout = joblib_arrays.layout(entry[1])
        except joblib_arrays.UnknownLayoutError as exc:
            self._stop(machine.reader.pos, str(exc))
        machine.defer_read(lambda: self._read(layout, machine))

    def _stop(self, pos: int | None, reason: str) -> NoReturn:
        self._followed.unfollowable_at = pos
        self._followed.reason = reason
        raise StopFollowing

    def _read(self, layout: joblib_arrays.ArrayLayout, machine: PickleMachine) -> None:
        reader = machine.reader
        if layout.nested_pickle:
            # joblib unpickles object arrays with a fresh, plain Unpickler: no array hook.
            nested = PickleMachine(reader, self._limits, self._deadline, self._obs)
            result = nested.run()
            if not result.stopped:
                self._stop(result.error_pos, f"nested object-array pickle broke: {result.error}")
            return
        if layout.aligned:
            padding = reader.read_byte()
            if padding:
                reader.skip(padding, "joblib array padding")
        reader.skip(layout.nbytes, "joblib array data")

    # -- what pickle.load runs instead -----------------------------------------------------------

    def _fork_plain(self, machine: PickleMachine) -> None:
        reader = machine.reader
        window = reader.peek(_WINDOW)
        if not window or window[0] not in _OPCODE_BYTES:
            return  # the plain reading breaks at once (joblib's padding byte is no opcode)
        if self._fork_ops <= 0:
            if self._note is not None:
                self._note("the plain (pickle.load) readings after joblib arrays hit their budget")
                self._note = None  # said once
            return
        start = reader.pos
        alternative = Observations()
        result = self._fork(machine, io.BytesIO(window), start, alternative)
        if (
            not result.stopped
            and result.error_pos is not None
            and result.error_pos >= start + len(window)
            and len(window) == _WINDOW
            and self._reopen is not None
        ):
            if self._rereads <= 0:
                if self._rereads == 0 and self._note is not None:
                    self._note(
                        f"the plain (pickle.load) reading after joblib arrays was analyzed only "
                        f"{_WINDOW} bytes deep past the first {_REREADS} long ones"
                    )
                self._rereads = -1
            else:
                self._rereads -= 1
                alternative = Observations()
                with self._reopen(start) as stream:
                    self._fork(machine, stream, start, alternative)
        self._fork_ops -= max(alternative.ops, 1)
        if alternative.globs or alternative.nested or alternative.dynamic_calls:
            self._obs.alternatives.append(alternative)

    def _fork(
        self, machine: PickleMachine, stream: BinaryIO, start: int, alternative: Observations
    ) -> RunResult:
        budget = replace(self._limits, max_opcodes=max(self._fork_ops, 1))
        fork = PickleMachine(
            ByteReader(stream, base=start, limit=self._limits.max_pickle_bytes, chunk=_WINDOW),
            budget,
            self._deadline,
            alternative,
        )
        fork.stack = [_detach(v, alternative, 0) for v in machine.stack[-_FORK_STACK:]]
        fork.memo = _ForkMemo(machine.memo, alternative)
        try:
            return fork.resume()
        except AnalysisLimitError as exc:
            alternative.ops = max(alternative.ops, budget.max_opcodes)
            return RunResult(start, fork.reader.pos, False, error=str(exc))


class _ForkMemo(dict[int, Value]):
    """The parent's memo seen through copies, plus the fork's own entries."""

    def __init__(self, parent: dict[int, Value], obs: Observations) -> None:
        super().__init__()
        self._parent = parent
        self._obs = obs
        self._new_keys = 0  # keys the parent does not have (MEMOIZE numbers after them)

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or key in self._parent

    def __setitem__(self, key: int, value: Value) -> None:
        if not dict.__contains__(self, key) and key not in self._parent:
            self._new_keys += 1
        super().__setitem__(key, value)

    def __missing__(self, key: int) -> Value:
        value = _detach(self._parent[key], self._obs, 0)
        self[key] = value
        return value

    def __len__(self) -> int:
        return len(self._parent) + self._new_keys


def _detach(value: Value | _Mark, obs: Observations, depth: int) -> Value:
    """A copy whose globals record the fork's uses, not the main pass's."""
    if isinstance(value, _Mark):
        return MARK  # type: ignore[return-value]
    if isinstance(value, Glob):
        copy = Glob(value.qualname, value.pos, value.via, value.attributes)
        obs.globs.append(copy)
        return copy
    if depth >= _FORK_DEPTH:
        return Unknown("value nested too deep to copy")
    if isinstance(value, Call):
        state = None if value.state is None else _detach(value.state, obs, depth + 1)
        return Call(
            _detach(value.func, obs, depth + 1),
            _detach(value.args, obs, depth + 1),
            value.pos,
            value.op,
            state,
        )
    if isinstance(value, Seq):
        return Seq(value.kind, [_detach(v, obs, depth + 1) for v in value.items], value.dropped)
    if isinstance(value, Map):
        items = [(_detach(k, obs, depth + 1), _detach(v, obs, depth + 1)) for k, v in value.items]
        return Map(items, value.dropped)
    return value
