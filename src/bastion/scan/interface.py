"""The analyzer extension point and the context an analyzer reports through.

An :class:`Analyzer` handles one or more formats. The engine hands it a
:class:`~bastion.scan.blob.Blob` and an :class:`AnalysisContext`; the analyzer reads bytes,
reports findings and skips through the context, and hands archive members back with
:meth:`AnalysisContext.dispatch`, so every nested artifact is detected by content and analyzed
by the right analyzer.

Third-party analyzers are classes registered under the ``bastion.analyzers`` entry-point group::

    [project.entry-points."bastion.analyzers"]
    myformat = "my_package.bastion_plugin:MyFormatAnalyzer"
"""

from __future__ import annotations

import posixpath
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from bastion.core import Artifact, ArtifactKind, Finding, Location, Skipped, SkipReason
from bastion.errors import AnalysisLimitError, MalformedInputError
from bastion.rules import Rule
from bastion.scan.blob import Blob
from bastion.scan.formats.data_formats import DATA_ONLY_FORMATS
from bastion.scan.limits import ByteBudget, Deadline, Limits

if TYPE_CHECKING:
    from bastion.registry import Registry


class Analyzer(ABC):
    """Checks artifacts of the formats it names; reports only through the context."""

    #: Short unique name, shown in ``bastion rules`` and in errors.
    name: ClassVar[str]
    #: Format ids (as produced by detection) this analyzer handles.
    formats: ClassVar[tuple[str, ...]]
    #: Every rule this analyzer can raise.
    rules: ClassVar[tuple[Rule, ...]] = ()
    #: The artifact kind of the formats it handles.
    kind: ClassVar[ArtifactKind] = ArtifactKind.MODEL

    @classmethod
    def sniff(cls, head: bytes, name: str) -> str | None:
        """Claim a format the built-in detection does not know (for plugins); ``None`` passes."""
        return None

    @abstractmethod
    def analyze(self, blob: Blob, ctx: AnalysisContext) -> None:
        """Read ``blob``; report findings and skips through ``ctx``; never raise for bad input."""


@dataclass
class ScanSettings:
    """What analyzers may consult: limits, the project's extra allowed or denied globals, and
    the OSV vulnerability data to match dependencies against (``None``: the ``bastion db update``
    cache, if any)."""

    limits: Limits = field(default_factory=Limits)
    allow_globals: tuple[str, ...] = ()
    deny_globals: tuple[str, ...] = ()
    vuln_db: str | None = None


@dataclass
class _Sink:
    """Where one top-level artifact's results accumulate."""

    findings: list[Finding] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    artifacts: list[Artifact] = field(default_factory=list)
    not_applicable: int = 0
    notes: list[str] = field(default_factory=list)


class AnalysisContext:
    """The analyzer's view of the scan: where it is, what it may spend, where results go."""

    def __init__(
        self,
        path: str,
        registry: Registry,
        settings: ScanSettings,
        *,
        member: str | None = None,
        depth: int = 0,
        sink: _Sink | None = None,
        deadline: Deadline | None = None,
        budget: ByteBudget | None = None,
        detector: Callable[[Blob, str], tuple[str, ...]] | None = None,
    ) -> None:
        self.path = path
        self.member = member
        self.depth = depth
        self.registry = registry
        self.settings = settings
        self.sink = sink or _Sink()
        self.deadline = deadline or settings.limits.deadline()
        self.budget = budget or ByteBudget(settings.limits)
        self._detector = detector
        #: The format the running analyzer was chosen for.
        self.format: str = "unknown"

    @property
    def limits(self) -> Limits:
        """The bounds in force."""
        return self.settings.limits

    @property
    def name(self) -> str:
        """The base name of what is being analyzed (member name inside archives)."""
        return (
            posixpath.basename(self.member.rsplit("!", 1)[-1])
            if self.member
            else (posixpath.basename(self.path))
        )

    def location(
        self,
        *,
        offset: int | None = None,
        line: int | None = None,
        column: int | None = None,
        cell: int | None = None,
    ) -> Location:
        """A location inside the artifact being analyzed."""
        return Location(self.path, self.member, line=line, column=column, offset=offset, cell=cell)

    def report(self, finding: Finding) -> None:
        """Record a finding."""
        self.sink.findings.append(finding)

    def report_all(self, findings: Iterable[Finding]) -> None:
        """Record several findings."""
        self.sink.findings.extend(findings)

    def skip(self, reason: SkipReason, detail: str, *, format: str | None = None) -> None:
        """Record that this artifact (or a part of it) was not fully checked."""
        self.sink.skipped.append(Skipped(self.path, reason, detail, self.member, format))

    def record(self, format: str, kind: ArtifactKind, size: int | None) -> None:
        """Record the artifact itself (done by :meth:`dispatch`, and by the engine for files)."""
        self.sink.artifacts.append(
            Artifact(self.path, format, kind, size if size is not None else -1, self.member)
        )

    def note(self, text: str) -> None:
        """Record a fact about the scan itself (shown once in reports, never a finding)."""
        if text not in self.sink.notes:
            self.sink.notes.append(text)

    def not_applicable(self) -> None:
        """Count an artifact that no analyzer needs to check (text, images)."""
        self.sink.not_applicable += 1

    def child(self, member: str) -> AnalysisContext:
        """The context of a nested member (``member`` is its name inside this artifact)."""
        chain = f"{self.member}!{member}" if self.member else member
        return AnalysisContext(
            self.path,
            self.registry,
            self.settings,
            member=chain,
            depth=self.depth + 1,
            sink=self.sink,
            deadline=self.deadline,
            budget=self.budget,
            detector=self._detector,
        )

    def dispatch(
        self, blob: Blob, member: str, *, formats: tuple[str, ...] | None = None
    ) -> tuple[str, ...]:
        """Detect and analyze a nested member; returns the formats it was analyzed as.

        Bounds and analyzer failures become skips of that member; the caller carries on.
        """
        ctx = self.child(member)
        if ctx.depth > self.limits.max_depth:
            ctx.skip(SkipReason.LIMIT, f"nesting deeper than {self.limits.max_depth} levels")
            return ()
        if formats is None:
            if self._detector is None:
                raise RuntimeError("AnalysisContext has no detector")
            formats = self._detector(blob, ctx.name)
        ctx.run(blob, formats)
        return formats

    def run(self, blob: Blob, formats: tuple[str, ...]) -> None:
        """Run every analyzer registered for ``formats`` on ``blob``, isolating failures."""
        chosen = [(fmt, a) for fmt in formats for a in self.registry.analyzers_for(fmt)]
        analyzers = [a for _, a in chosen]
        kind = analyzers[0].kind if analyzers else _kind_of(formats)
        self.record(formats[0] if formats else "unknown", kind, blob.size)
        if not analyzers:
            fmt = formats[0] if formats else "unknown"
            if any(f in NOT_APPLICABLE_FORMATS for f in formats):
                self.not_applicable()
            elif fmt not in QUIET_FORMATS:
                self.skip(SkipReason.UNSUPPORTED, f"no analyzer for format {fmt!r}", format=fmt)
            return
        done: set[int] = set()
        for fmt, analyzer in chosen:
            if id(analyzer) in done:
                continue
            done.add(id(analyzer))
            self.format = fmt
            self.run_one(analyzer, blob)

    def nested(
        self,
        member: str,
        blob: Blob,
        fmt: str,
        fn: Callable[[Blob, AnalysisContext], object],
        kind: ArtifactKind = ArtifactKind.MODEL,
    ) -> None:
        """Analyze a member with a specific function (a container knows what its members are)."""
        ctx = self.child(member)
        if ctx.depth > self.limits.max_depth:
            ctx.skip(SkipReason.LIMIT, f"nesting deeper than {self.limits.max_depth} levels")
            return
        ctx.record(fmt, kind, blob.size)
        ctx.format = fmt
        ctx.guarded(fmt, lambda: fn(blob, ctx))

    def run_one(self, analyzer: Analyzer, blob: Blob) -> None:
        """Run one analyzer with the engine's failure isolation."""
        self.guarded(analyzer.name, lambda: analyzer.analyze(blob, self))

    def guarded(self, name: str, action: Callable[[], object]) -> None:
        """Run ``action``; bounds and failures become skips of this artifact."""
        fmt = self.format
        try:
            self.deadline.check()
            action()
        except AnalysisLimitError as exc:
            self.skip(SkipReason.LIMIT, f"{name}: {exc}", format=fmt)
        except MalformedInputError as exc:
            self.skip(SkipReason.MALFORMED, f"{name}: {exc}", format=fmt)
        except MemoryError:
            self.skip(SkipReason.LIMIT, f"{name}: out of memory", format=fmt)
        except RecursionError:
            self.skip(SkipReason.LIMIT, f"{name}: nesting too deep", format=fmt)
        except OSError as exc:
            self.skip(SkipReason.UNREADABLE, f"{name}: {exc}", format=fmt)
        except Exception as exc:
            self.skip(
                SkipReason.ERROR,
                f"{name} failed: {type(exc).__name__}: {exc}",
                format=fmt,
            )


#: Formats recognized as needing no security analysis (counted, not skipped).
NOT_APPLICABLE_FORMATS = frozenset({"text", "image", "document", "empty", "media", "markdown"})
#: Formats that are understood data with nothing to check (tensor bytes inside a container,
#: tokenizer models, boosting-library files, databases: :mod:`bastion.scan.formats.data_formats`).
QUIET_FORMATS = frozenset({"tensor-data"}) | DATA_ONLY_FORMATS


def _kind_of(formats: tuple[str, ...]) -> ArtifactKind:
    if not formats:
        return ArtifactKind.OTHER
    if formats[0] in {"zip", "tar", "7z", "gzip", "bzip2", "xz", "lzma", "zlib", "zstd", "lz4"}:
        return ArtifactKind.ARCHIVE
    if formats[0] in NOT_APPLICABLE_FORMATS:
        return ArtifactKind.DOCUMENT
    return ArtifactKind.OTHER
