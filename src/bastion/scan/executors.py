"""Where the engine's per-file analysis runs: this machine's process pool, or a Ray cluster.

>>> from bastion.scan.engine import ScanOptions, scan
>>> from bastion.scan.executors import RayExecutor
>>> result = scan("models/", ScanOptions(executor=RayExecutor("auto")))  # doctest: +SKIP

An :class:`Executor` receives the candidate files and yields one outcome per file, in any order
(the engine sorts the result). Both executors keep the engine's crash isolation: a file that kills
the process analyzing it is re-run alone, and if it kills that process too it costs one
``analyzer-error`` skip, not the scan.

Ray: files go out in chunks, one task each, submitted with ``max_retries=0`` (a crash is handled
here, file by file, instead of re-running the same chunk blindly); at most ``max_in_flight`` tasks
are outstanding, and results are taken as they finish with ``ray.wait``, so the driver holds a
bounded number of object references whatever the number of files. Workers open the files by
path: on a cluster of several nodes the scan root must be mounted at the same path on every node
(a shared file system or volume), and the same bastion version installed there; only the results
travel back. Workers use the default analyzer registry (built-ins and entry-point plugins), as the
local pool's workers do. A Ray instance started here has usage statistics off
(``RAY_USAGE_STATS_ENABLED=0``); a cluster keeps its own setting.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from types import ModuleType
from typing import Any, Protocol

from bastion.errors import BastionError, MissingDependencyError
from bastion.registry import Registry
from bastion.scan import engine
from bastion.scan.discover import Candidate
from bastion.scan.engine import FileOutcome, ProgressSink
from bastion.scan.interface import ScanSettings

#: Object store of a Ray instance started for one scan: results are small, the files stay on disk.
_LOCAL_OBJECT_STORE = 128 << 20
#: Names in ``ray.exceptions`` that mean the process (or node) running a task went away.
_CRASH_ERRORS = ("WorkerCrashedError", "OutOfMemoryError", "NodeDiedError", "ObjectLostError")

ChunkTask = Callable[[list[Candidate], ScanSettings], list[FileOutcome]]


class ExecutorKind(str, Enum):
    """The ``--executor`` choices."""

    LOCAL = "local"
    RAY = "ray"


class ExecutorError(BastionError):
    """The executor could not start or reach its workers (names the address and the cause)."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


class Executor(Protocol):
    """Runs the analysis of candidate files and yields their outcomes as they are ready."""

    def run(
        self,
        candidates: Sequence[Candidate],
        settings: ScanSettings,
        registry: Registry,
        progress: ProgressSink | None,
    ) -> Iterable[FileOutcome]:
        """One :class:`~bastion.scan.engine.FileOutcome` per candidate, in any order."""


def analyze_chunk(chunk: list[Candidate], settings: ScanSettings) -> list[FileOutcome]:
    """The work of one Ray task: analyze each file with the worker's default registry."""
    return [engine.analyze_file(candidate, settings) for candidate in chunk]


@dataclass(frozen=True)
class LocalPoolExecutor:
    """This machine: in process for one worker, else a process pool (the engine's default)."""

    workers: int | None = None

    def run(
        self,
        candidates: Sequence[Candidate],
        settings: ScanSettings,
        registry: Registry,
        progress: ProgressSink | None,
    ) -> list[FileOutcome]:
        """Analyze with ``workers`` processes (``None``: one for few files, else the CPUs)."""
        workers = engine.pool_size(self.workers, len(candidates), sum(c.size for c in candidates))
        return engine.run_local(candidates, settings, workers, registry, progress)


@dataclass(frozen=True)
class RayExecutor:
    """A Ray cluster: ``address`` as ``ray.init`` takes it.

    ``None`` or ``"local"`` starts a Ray instance on this machine for the scan (``num_cpus``
    workers, default all CPUs) and stops it afterwards; ``"auto"`` joins the cluster this machine
    is part of; ``"ray://head:10001"`` connects through Ray Client. A Ray session the calling
    program already opened is used as it is and left running. ``task`` is the module-level
    function each task runs (importable on the workers).
    """

    address: str | None = None
    num_cpus: int | None = None
    chunk_files: int = 8
    max_in_flight: int | None = None
    task: ChunkTask = analyze_chunk

    def run(
        self,
        candidates: Sequence[Candidate],
        settings: ScanSettings,
        registry: Registry,
        progress: ProgressSink | None,
    ) -> Iterator[FileOutcome]:
        """Stream the outcomes back from the cluster as its tasks finish."""
        ray = _import_ray()
        started = _connect(ray, self.address, self.num_cpus)
        try:
            yield from self._stream(ray, candidates, settings, progress)
        finally:
            if started:
                ray.shutdown()

    def _stream(
        self,
        ray: Any,
        candidates: Sequence[Candidate],
        settings: ScanSettings,
        progress: ProgressSink | None,
    ) -> Iterator[FileOutcome]:
        crashes = _crash_errors(ray)
        remote = ray.remote(max_retries=0)(self.task)
        shared = ray.put(settings)
        size = max(1, self.chunk_files)
        # (files, alone): a chunk that crashed comes back as one single-file task per file.
        queue: deque[tuple[list[Candidate], bool]] = deque(
            (list(candidates[i : i + size]), False) for i in range(0, len(candidates), size)
        )
        limit = self.max_in_flight or _default_in_flight(ray)
        pending: dict[Any, tuple[list[Candidate], bool]] = {}
        while queue or pending:
            while queue and len(pending) < limit:
                chunk, alone = queue.popleft()
                pending[remote.remote(chunk, shared)] = (chunk, alone)
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                chunk, alone = pending.pop(ref)
                try:
                    outcomes: list[FileOutcome] = ray.get(ref)
                except crashes:
                    if not alone:
                        queue.extend(([candidate], True) for candidate in chunk)
                        continue
                    outcomes = [engine.crashed_outcome(chunk[0])]
                yield from outcomes
                if progress is not None:
                    progress.advance(len(chunk))


def make_executor(
    kind: ExecutorKind, *, workers: int | None = None, ray_address: str | None = None
) -> Executor | None:
    """The executor a command line asked for (``None``: the engine's default local pool)."""
    if kind is ExecutorKind.RAY:
        return RayExecutor(address=ray_address, num_cpus=workers)
    if ray_address is not None:
        raise ExecutorError("--ray-address", "only meaningful with --executor ray")
    return None


def _import_ray() -> ModuleType:
    try:
        import ray
    except ImportError:
        raise MissingDependencyError("ray", "ray", "scanning on a Ray cluster") from None
    return ray


def _connect(ray: Any, address: str | None, num_cpus: int | None) -> bool:
    """Open the Ray session; ``True`` when this call started it (and must shut it down)."""
    if ray.is_initialized():
        return False
    local = address in (None, "", "local")
    quiet: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.ERROR}
    try:
        if local:
            # NOTE: a Ray instance reports usage statistics unless this is 0; ours never does.
            os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
            ray.init(
                num_cpus=num_cpus,
                include_dashboard=False,
                object_store_memory=_LOCAL_OBJECT_STORE,
                **quiet,
            )
        else:
            ray.init(address=address, **quiet)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        where = "local Ray instance" if local else f"Ray cluster at {address}"
        raise ExecutorError(where, f"cannot start or connect: {exc}") from exc
    return True


def _crash_errors(ray: Any) -> tuple[type[BaseException], ...]:
    found = (getattr(ray.exceptions, name, None) for name in _CRASH_ERRORS)
    return tuple(cls for cls in found if isinstance(cls, type) and issubclass(cls, BaseException))


def _default_in_flight(ray: Any) -> int:
    """Two tasks per CPU keeps every worker busy while results are collected."""
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1))
    except (AttributeError, TypeError, ValueError):
        cpus = 1
    return max(2, 2 * cpus)
