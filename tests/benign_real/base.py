"""The record every benign generator writes through, and how a group's files are scanned.

A generator gets a :class:`Recorder` rooted in its own directory, writes files there with the
real library (``save_pretrained``, ``joblib.dump``, ``torch.save``…) and records each file or
directory it wrote with the library and format it stands for. :func:`scan_group` scans the group
directory once with bastion's default settings and splits findings and skips by artifact.
Nothing written here is ever loaded by bastion; the libraries only write it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bastion.core import Finding, Severity, Skipped
from bastion.scan.engine import scan


@dataclass(frozen=True)
class Entry:
    """One artifact: a file (or every file of a directory) written by ``library`` as ``fmt``."""

    rel: str
    library: str
    fmt: str


@dataclass(frozen=True)
class Expected:
    """A finding below HIGH that is correct for a benign file, with the reason it is."""

    pattern: str
    rule_id: str
    why: str

    def matches(self, rel: str, finding: Finding) -> bool:
        """Whether ``finding`` in file ``rel`` is this expected one."""
        return finding.rule_id == self.rule_id and fnmatch.fnmatchcase(rel, self.pattern)


@dataclass
class Recorder:
    """Writes artifacts under ``root`` and records what each one is."""

    root: Path
    entries: list[Entry] = field(default_factory=list)
    expected: list[Expected] = field(default_factory=list)

    def path(self, rel: str) -> Path:
        """Absolute path of ``rel`` under the group root, parent directories created."""
        target = self.root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def add(self, rel: str, library: str, fmt: str) -> Path:
        """Record ``rel`` (already written: a file or a directory of files)."""
        target = self.root / rel
        if not target.exists():
            raise FileNotFoundError(f"{target}: the generator did not write it")
        self.entries.append(Entry(rel, library, fmt))
        return target

    def expect(self, pattern: str, rule_id: str, why: str) -> None:
        """Declare a finding below HIGH that a benign file here rightly gets."""
        self.expected.append(Expected(pattern, rule_id, why))


@dataclass(frozen=True)
class FileResult:
    """What bastion said about one file of a group."""

    rel: str
    entry: Entry
    findings: tuple[Finding, ...]
    skipped: tuple[Skipped, ...]

    @property
    def blocking(self) -> tuple[Finding, ...]:
        """Findings at or above HIGH: the default policy blocks the file."""
        return tuple(f for f in self.findings if f.severity >= Severity.HIGH)


@dataclass(frozen=True)
class GroupResult:
    """A scanned group: per-file results and the expectations its generator declared."""

    name: str
    root: Path
    files: tuple[FileResult, ...]
    expected: tuple[Expected, ...]
    entries: tuple[Entry, ...] = ()

    def unexpected(self) -> list[tuple[str, Finding]]:
        """Findings that are neither blocking nor declared as expected."""
        return [
            (r.rel, f)
            for r in self.files
            for f in r.findings
            if f.severity < Severity.HIGH and not any(e.matches(r.rel, f) for e in self.expected)
        ]

    def blocking(self) -> list[tuple[str, Finding]]:
        """Every finding at or above HIGH, with its file."""
        return [(r.rel, f) for r in self.files for f in r.blocking]

    def skips(self) -> list[Skipped]:
        """Every skip of the group."""
        return [s for r in self.files for s in r.skipped]


Generator = Callable[[Recorder], None]


def _entry_for(rel: str, entries: list[Entry]) -> Entry | None:
    best: Entry | None = None
    for entry in entries:
        if (rel == entry.rel or rel.startswith(entry.rel.rstrip("/") + "/")) and (
            best is None or len(entry.rel) > len(best.rel)
        ):
            best = entry
    return best


def scan_group(name: str, recorder: Recorder) -> GroupResult:
    """Scan the group's directory once and attribute findings and skips to its artifacts."""
    root = recorder.root
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    stray = [rel for rel in files if _entry_for(rel, recorder.entries) is None]
    if stray:
        raise AssertionError(f"{name}: files written but not recorded: {stray}")
    result = scan(root)
    out = []
    for rel in files:
        entry = _entry_for(rel, recorder.entries)
        assert entry is not None
        out.append(
            FileResult(
                rel,
                entry,
                tuple(f for f in result.findings if f.location.path == rel),
                tuple(s for s in result.skipped if s.path == rel),
            )
        )
    known = set(files)
    orphans = [f for f in result.findings if f.location.path not in known]
    if orphans:
        raise AssertionError(f"{name}: findings outside any file: {orphans}")
    return GroupResult(name, root, tuple(out), tuple(recorder.expected), tuple(recorder.entries))


def describe(rel: str, finding: Finding) -> str:
    """One line naming the file, rule, severity and message of a finding."""
    member = f"!{finding.location.member}" if finding.location.member else ""
    return f"{rel}{member}: {finding.rule_id} {finding.severity.label}: {finding.message}"
