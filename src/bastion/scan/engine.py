"""The scan engine: walk a target, detect every file by content, analyze it, collect one result.

>>> from bastion.scan.engine import scan
>>> result = scan("examples/models")            # doctest: +SKIP
>>> [f.rule_id for f in result.findings]        # doctest: +SKIP
['BST-PKL-001']

Files are analyzed in a process pool when there are many (a crashed worker costs one skipped
file, not the scan), in process otherwise, or by the executor named in :class:`ScanOptions`
(a Ray cluster, :mod:`bastion.scan.executors`). Output order is deterministic whatever the pool
did. The engine does no printing and no formatting: progress goes to an optional sink.
"""

from __future__ import annotations

import multiprocessing
import os
import posixpath
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from bastion.core import (
    Artifact,
    ArtifactKind,
    Finding,
    ScanResult,
    Severity,
    Skipped,
    SkipReason,
)
from bastion.registry import Registry, default_registry
from bastion.scan.blob import Blob, FileBlob
from bastion.scan.detect import MODEL_EXTENSIONS, detect, extension
from bastion.scan.discover import (
    DEFAULT_EXCLUDES,
    Candidate,
    Event,
    Excluder,
    LinkEscape,
    WalkError,
    walk,
)
from bastion.scan.formats.general import (
    CODE_CARRYING_FORMATS,
    DISGUISED_FORMAT,
    SAFE_FORMAT_EXTENSIONS,
    SYMLINK_ESCAPE,
    UNREADABLE_FILE,
    UNRECOGNIZED_MODEL,
    sensitive_link_target,
)
from bastion.scan.interface import AnalysisContext, ScanSettings, _Sink

if TYPE_CHECKING:
    from bastion.scan.executors import Executor

#: Below this many files the pool's start-up costs more than it saves.
_POOL_MIN_FILES = 24
#: A pool pays off only when there is enough work: many files, or many bytes to parse.
_POOL_SMALL_TREE = (400, 256 * 1024 * 1024)
_CHUNK_FILES = 8


class ProgressSink(Protocol):
    """Receives progress; the CLI attaches a progress bar, library callers usually nothing."""

    def start(self, total: int) -> None:
        """The number of files about to be analyzed."""

    def advance(self, count: int) -> None:
        """``count`` more files are done."""

    def finish(self) -> None:
        """The scan is over."""


@dataclass(frozen=True)
class ScanOptions:
    """How to scan: analyzer settings, exclusions and parallelism.

    ``executor`` runs the analysis elsewhere (``None``: the local process pool of ``workers``).
    """

    settings: ScanSettings = field(default_factory=ScanSettings)
    exclude: tuple[str, ...] = ()
    default_excludes: bool = True
    workers: int | None = None
    executor: Executor | None = None


@dataclass
class FileOutcome:
    """Everything one top-level file produced (sent back from a worker)."""

    findings: list[Finding] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    artifacts: list[Artifact] = field(default_factory=list)
    not_applicable: int = 0
    notes: list[str] = field(default_factory=list)


def analyze_file(
    candidate: Candidate, settings: ScanSettings, registry: Registry | None = None
) -> FileOutcome:
    """Detect and analyze one file; never raises for anything the file contains."""
    registry = registry or default_registry()
    sink = _Sink()
    rel = candidate.rel
    try:
        blob = FileBlob(candidate.path)
    except OSError as exc:
        return _unreadable(rel, exc)
    detector = _detector(settings, registry)
    ctx = AnalysisContext(rel, registry, settings, sink=sink, detector=detector)
    try:
        try:
            formats = detector(blob, rel)
        except OSError as exc:
            return _unreadable(rel, exc)
        _engine_checks(ctx, formats, rel)
        ctx.run(blob, formats)
    finally:
        blob.close()
    return FileOutcome(sink.findings, sink.skipped, sink.artifacts, sink.not_applicable, sink.notes)


def _detector(settings: ScanSettings, registry: Registry) -> Callable[[Blob, str], tuple[str, ...]]:
    def run(blob: Blob, name: str) -> tuple[str, ...]:
        formats = detect(blob, name, settings.limits)
        if formats == ("unknown",) or formats[-1] == "text":
            claimed = registry.sniff(blob.head(4096), name)
            if claimed:
                # A claimed text file stays text too: secrets are looked for in every one.
                return (claimed, *(f for f in formats if f != "unknown"))
        return formats

    return run


def _unreadable(rel: str, exc: OSError) -> FileOutcome:
    from bastion.core import Location

    detail = f"cannot read: {exc.strerror or exc}"
    return FileOutcome(
        findings=[UNREADABLE_FILE.finding(Location(rel), f"{rel}: {detail}.", evidence=detail)],
        skipped=[Skipped(rel, SkipReason.UNREADABLE, detail)],
    )


def _engine_checks(ctx: AnalysisContext, formats: tuple[str, ...], rel: str) -> None:
    ext = extension(rel)
    last_ext = posixpath.splitext(rel)[1].lower()
    if last_ext in SAFE_FORMAT_EXTENSIONS and formats[0] in CODE_CARRYING_FORMATS:
        ctx.report(
            DISGUISED_FORMAT.finding(
                ctx.location(),
                f"{rel} is named like {last_ext} but its content is {formats[0]}; "
                "it is analyzed as what it is.",
                evidence=f"{last_ext}->{formats[0]}",
            )
        )
    if formats == ("unknown",) and ext in MODEL_EXTENSIONS:
        ctx.report(
            UNRECOGNIZED_MODEL.finding(
                ctx.location(),
                f"{rel} has a model extension ({ext}) but matches no known format.",
                evidence=ext,
            )
        )


def scan(
    target: str | os.PathLike[str],
    options: ScanOptions | None = None,
    *,
    registry: Registry | None = None,
    progress: ProgressSink | None = None,
    only: Sequence[str] | None = None,
) -> ScanResult:
    """Scan a file or directory and return everything found, skipped and seen.

    ``only`` limits a directory scan to these relative paths (files or directories).
    """
    options = options or ScanOptions()
    root = Path(target)
    patterns = (DEFAULT_EXCLUDES if options.default_excludes else ()) + options.exclude
    events = walk(root, Excluder(patterns), only)
    return scan_events(str(root), events, options, registry=registry, progress=progress)


def _resolved(root: str, rel: str) -> str:
    """Where a link below ``root`` ends up ("" when that cannot be worked out)."""
    try:
        base = root if os.path.isdir(root) else os.path.dirname(root)
        return os.path.realpath(os.path.join(base, rel))
    except (OSError, ValueError):
        return ""


def scan_events(
    root: str,
    events: Iterable[Event],
    options: ScanOptions | None = None,
    *,
    registry: Registry | None = None,
    progress: ProgressSink | None = None,
) -> ScanResult:
    """Analyze the files a walk produced; ``root`` is what the result names as scanned.

    Other sources of files (a model cache whose snapshot links point into a blob store) give
    their own :class:`~bastion.scan.discover.Candidate` paths and relative names here.
    """
    options = options or ScanOptions()
    registry = registry or default_registry()
    started = datetime.now(timezone.utc)
    candidates: list[Candidate] = []
    pre = FileOutcome()
    for event in events:
        if isinstance(event, Candidate):
            candidates.append(event)
        elif isinstance(event, LinkEscape):
            from bastion.core import Location

            sensitive = sensitive_link_target(event.target, _resolved(root, event.rel))
            pre.findings.append(
                SYMLINK_ESCAPE.finding(
                    Location(event.rel),
                    f"{event.rel} links to {event.target}, outside the scanned directory; "
                    + (
                        "a system or credential location that a loader would read as data."
                        if sensitive
                        else "the target was not scanned."
                    ),
                    evidence=event.target,
                    severity=Severity.HIGH if sensitive else None,
                )
            )
            pre.skipped.append(
                Skipped(event.rel, SkipReason.UNSUPPORTED, "symlink leaves the root")
            )
        elif isinstance(event, WalkError):
            pre.skipped.append(Skipped(event.rel, SkipReason.UNREADABLE, event.detail))
    if progress is not None:
        progress.start(len(candidates))
    result = _collect(root, started, chain([pre], _run(candidates, options, registry, progress)))
    if progress is not None:
        progress.finish()
    return result


def _collect(root: str, started: datetime, outcomes: Iterable[FileOutcome]) -> ScanResult:
    findings: list[Finding] = []
    skipped: list[Skipped] = []
    artifacts: list[Artifact] = []
    not_applicable = 0
    notes: dict[str, None] = {}
    for outcome in outcomes:
        findings.extend(outcome.findings)
        skipped.extend(outcome.skipped)
        artifacts.extend(outcome.artifacts)
        not_applicable += outcome.not_applicable
        notes.update(dict.fromkeys(outcome.notes))
    findings.sort(key=Finding.sort_key)
    skipped.sort(key=lambda s: (s.path, s.member or "", s.reason.value, s.detail))
    artifacts.sort(key=lambda a: (a.path, a.member or ""))
    return ScanResult(
        root=root,
        started=started,
        finished=datetime.now(timezone.utc),
        artifacts=tuple(artifacts),
        findings=tuple(findings),
        skipped=tuple(skipped),
        not_applicable=not_applicable,
        notes=tuple(sorted(notes)),
    )


def pool_size(workers: int | None, count: int, total_bytes: int = 0) -> int:
    """Worker processes for ``count`` files: as asked, else one for a small job, else the CPUs.

    Most model files cost milliseconds to check (only their metadata is read), so a pool's
    start-up and transfers outweigh its gain until there are hundreds of files or a lot of
    bytes to parse.
    """
    if workers is not None:
        return max(1, workers)
    small_count, small_bytes = _POOL_SMALL_TREE
    if count < _POOL_MIN_FILES or (count < small_count and total_bytes < small_bytes):
        return 1
    return max(1, min(os.cpu_count() or 1, 8))


def _run(
    candidates: Sequence[Candidate],
    options: ScanOptions,
    registry: Registry,
    progress: ProgressSink | None,
) -> Iterable[FileOutcome]:
    if options.executor is not None:
        return options.executor.run(candidates, options.settings, registry, progress)
    workers = pool_size(options.workers, len(candidates), sum(c.size for c in candidates))
    return run_local(candidates, options.settings, workers, registry, progress)


def run_local(
    candidates: Sequence[Candidate],
    settings: ScanSettings,
    workers: int,
    registry: Registry,
    progress: ProgressSink | None,
) -> list[FileOutcome]:
    """Analyze on this machine: in process with one worker, else in a process pool."""
    if workers == 1 or len(candidates) <= 1:
        isolate = registry is default_registry()
        results = []
        native: list[Candidate] = []
        for candidate in candidates:
            if isolate and _native(candidate):
                # NOTE: h5py runs the HDF5 C library; a crafted file must cost one skipped
                # file, not the whole scan, even when the scan runs in process.
                native.append(candidate)
                continue
            results.append(analyze_file(candidate, settings, registry))
            if progress is not None:
                progress.advance(1)
        if native:
            with _Sandbox(settings) as sandbox:
                results.extend(sandbox.run_all(native, progress))
        return results
    return _run_pool(candidates, settings, workers, progress)


_NATIVE_EXTENSIONS = (".h5", ".hdf5", ".hdf", ".keras", ".he5", ".nc")
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def _native(candidate: Candidate) -> bool:
    """Files parsed by a native library (HDF5), which run in a child process."""
    if candidate.rel.lower().endswith(_NATIVE_EXTENSIONS):
        return True
    try:
        with open(candidate.path, "rb") as handle:
            return handle.read(8) == _HDF5_MAGIC
    except OSError:
        return False


def _context() -> multiprocessing.context.BaseContext:
    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _analyze_chunk(chunk: list[Candidate], settings: ScanSettings) -> list[FileOutcome]:
    return [analyze_file(c, settings) for c in chunk]


def _run_pool(
    candidates: Sequence[Candidate],
    settings: ScanSettings,
    workers: int,
    progress: ProgressSink | None,
) -> list[FileOutcome]:
    chunks = [
        list(candidates[i : i + _CHUNK_FILES]) for i in range(0, len(candidates), _CHUNK_FILES)
    ]
    results: list[FileOutcome] = []
    pending: list[list[Candidate]] = []
    with ProcessPoolExecutor(max_workers=workers, mp_context=_context()) as pool:
        futures: list[tuple[Future[list[FileOutcome]], list[Candidate]]] = [
            (pool.submit(_analyze_chunk, chunk, settings), chunk) for chunk in chunks
        ]
        for future, chunk in futures:
            try:
                results.extend(future.result())
            except BrokenProcessPool:
                pending.append(chunk)
            if progress is not None:
                progress.advance(len(chunk))
    results.extend(_isolated(c, settings) for chunk in pending for c in chunk)
    return results


class _Sandbox:
    """One child process that analyzes native-parser files in turn, replaced after a crash."""

    def __init__(self, settings: ScanSettings) -> None:
        self._settings = settings
        self._pool: ProcessPoolExecutor | None = None
        # NOTE: chosen before our own pool starts its management thread, and kept.
        self._context = _context()

    def __enter__(self) -> _Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def run_all(
        self, candidates: Sequence[Candidate], progress: ProgressSink | None
    ) -> list[FileOutcome]:
        """Analyze files in the child a chunk at a time; a crash re-runs that chunk per file."""
        results: list[FileOutcome] = []
        step = _CHUNK_FILES
        for start in range(0, len(candidates), step):
            chunk = list(candidates[start : start + step])
            if self._pool is None:
                self._pool = ProcessPoolExecutor(max_workers=1, mp_context=self._context)
            try:
                results.extend(self._pool.submit(_analyze_chunk, chunk, self._settings).result())
            except BrokenProcessPool:
                self._pool.shutdown(wait=True)
                self._pool = None
                results.extend(self.run(c) for c in chunk)
            if progress is not None:
                progress.advance(len(chunk))
        return results

    def run(self, candidate: Candidate) -> FileOutcome:
        """Analyze one file in the child; a crash retries it alone, then skips it."""
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=self._context)
        try:
            return self._pool.submit(_analyze_chunk, [candidate], self._settings).result()[0]
        except BrokenProcessPool:
            self._pool.shutdown(wait=True)
            self._pool = None
            return _isolated(candidate, self._settings, self._context)


def _isolated(
    candidate: Candidate,
    settings: ScanSettings,
    context: multiprocessing.context.BaseContext | None = None,
) -> FileOutcome:
    """Re-run one file alone after a worker died; if it kills its worker again, skip it."""
    with ProcessPoolExecutor(max_workers=1, mp_context=context or _context()) as pool:
        try:
            return pool.submit(_analyze_chunk, [candidate], settings).result()[0]
        except BrokenProcessPool:
            return crashed_outcome(candidate)


def crashed_outcome(candidate: Candidate) -> FileOutcome:
    """What a file that killed its analyzer process twice leaves in the result: one skip."""
    return FileOutcome(
        skipped=[
            Skipped(
                candidate.rel,
                SkipReason.ERROR,
                "the analyzer process died on this file (crash in a native parser)",
            )
        ],
        artifacts=[Artifact(candidate.rel, "unknown", ArtifactKind.OTHER, candidate.size)],
    )
