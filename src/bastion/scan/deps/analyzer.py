"""Analyzers for dependency files (``requirements``, ``pyproject``, ``lockfile``, ``conda-env``)
and pip configuration files (``pip-config``).

The lock-file readers need a real path (``-r`` includes are relative to it): files are read in
place, and a dependency file found inside an archive is copied to a private temporary folder
first (its includes then cannot resolve, which is reported). Problems reading a file are skips
naming the file and line; findings in included files carry the included file's path.
"""

from __future__ import annotations

import posixpath
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bastion.core import ArtifactKind, Location, SkipReason
from bastion.errors import MissingDependencyError
from bastion.scan.blob import Blob, FileBlob
from bastion.scan.code.source import read_text
from bastion.scan.deps.checks import ParsedFile, check_file
from bastion.scan.deps.indexes import pip_config_settings, setting_issues
from bastion.scan.deps.issues import DepIssue
from bastion.scan.deps.lockfiles import LockfileError, detect_format, parse_lockfile
from bastion.scan.deps.lockfiles._model import MAX_LOCKFILE_BYTES
from bastion.scan.deps.lockfiles._model import read_text as read_manifest
from bastion.scan.deps.rules import DEP_RULES, VULN_DB_USED
from bastion.scan.deps.vulndb import resolve_database
from bastion.scan.detect import text_format
from bastion.scan.interface import AnalysisContext, Analyzer

#: Findings of one rule reported per file before the rest are summarized as a skip.
MAX_PER_RULE = 100


@contextmanager
def _on_disk(blob: Blob, ctx: AnalysisContext) -> Iterator[Path]:
    if isinstance(blob, FileBlob):
        yield Path(blob.path)
        return
    with tempfile.TemporaryDirectory(prefix="bastion-deps-") as folder:
        path = Path(folder, ctx.name)
        path.write_bytes(blob.read_at(0, MAX_LOCKFILE_BYTES + 1))
        yield path


def _reader_format(fmt: str, path: Path) -> str | None:
    if fmt == "requirements":
        return "requirements"
    if fmt == "pyproject":
        return "pyproject"
    if fmt == "conda-env":
        return "environment.yml"
    named = detect_format(path)
    return named if named in ("poetry.lock", "uv.lock", "Pipfile.lock", "pylock.toml") else None


class _Locator:
    """Maps the parsed files' paths back to paths relative to the scan root."""

    def __init__(self, ctx: AnalysisContext, path: Path) -> None:
        self.ctx = ctx
        self.path = str(path)
        real = Path(path).resolve().as_posix()
        rel = ctx.path if ctx.member is None else ""
        self.root = real[: -len(rel)].rstrip("/") if rel and real.endswith(rel) else None

    def relative(self, source: str) -> str | None:
        """The scan-relative path of a parsed file, or ``None`` outside the scanned tree."""
        if source == self.path:
            return self.ctx.path
        if self.root is None:
            return None
        real = Path(source).resolve().as_posix()
        return real[len(self.root) + 1 :] if real.startswith(self.root + "/") else None

    def scanned_elsewhere(self, source: str) -> bool:
        """An included file inside the tree whose name makes it a requirements file."""
        if source == self.path:
            return False
        rel = self.relative(source)
        name = posixpath.basename(source).lower()
        return rel is not None and text_format(name, b"") == "requirements"


def _report(ctx: AnalysisContext, issues: list[DepIssue], locator: _Locator | None) -> None:
    counts: dict[str, int] = {}
    for issue in issues:
        if issue.rule is VULN_DB_USED:
            ctx.note(f"{posixpath.basename(issue.source)}: {issue.message}")
            continue
        counts[issue.rule.id] = counts.get(issue.rule.id, 0) + 1
        if counts[issue.rule.id] > MAX_PER_RULE:
            continue
        rel = locator.relative(issue.source) if locator is not None else ctx.path
        if rel is None or rel == ctx.path:
            location = ctx.location(line=issue.line)
            message = issue.message
            if locator is not None and issue.source != locator.path and rel is None:
                message += f" (in {posixpath.basename(issue.source)}, included from here)"
                location = ctx.location()
        else:
            location = Location(rel, None, line=issue.line)
            message = issue.message
        ctx.report(
            issue.rule.finding(
                location,
                message,
                evidence=issue.evidence,
                severity=issue.severity,
                confidence=issue.confidence,
                remediation=issue.remediation,
                properties=issue.properties,
            )
        )
    for rule_id, count in counts.items():
        if count > MAX_PER_RULE:
            ctx.skip(
                SkipReason.LIMIT,
                f"{count - MAX_PER_RULE} more {rule_id} findings in this file were not reported",
            )


class DependencyAnalyzer(Analyzer):
    """Vulnerabilities, malicious packages, typosquats, pins, hashes, URLs and indexes of the
    dependencies a manifest or lock file declares.
    """

    name = "dependencies"
    formats = ("requirements", "pyproject", "lockfile", "conda-env")
    rules = DEP_RULES
    kind = ArtifactKind.DEPENDENCIES

    def analyze(self, blob: Blob, ctx: AnalysisContext) -> None:
        """Parse the file with the lock-file readers and run every check."""
        with _on_disk(blob, ctx) as path:
            fmt = _reader_format(ctx.format, path)
            if fmt is None:
                ctx.skip(SkipReason.UNSUPPORTED, f"{ctx.name}: no reader for this lock format")
                return
            locator = _Locator(ctx, path)
            try:
                lock = parse_lockfile(path, fmt)
                text = read_manifest(path)
            except LockfileError as exc:
                detail = str(exc).replace(str(path), ctx.path)
                ctx.skip(SkipReason.MALFORMED, f"dependencies not checked: {detail}")
                return
            except MissingDependencyError as exc:
                ctx.skip(SkipReason.MISSING_DEPENDENCY, str(exc))
                return
            parsed = ParsedFile(path, fmt, lock, text, locator.scanned_elsewhere)
            choice = resolve_database(getattr(ctx.settings, "vuln_db", None))
            if choice.problem and choice.configured:
                ctx.skip(SkipReason.UNREADABLE, f"vulnerability data: {choice.problem}")
            _report(ctx, check_file(parsed, choice), locator)


class PipConfigAnalyzer(Analyzer):
    """``pip.conf`` / ``pip.ini``: extra indexes, plain-HTTP indexes, trusted hosts."""

    name = "pip-config"
    formats = ("pip-config",)
    rules = DEP_RULES
    kind = ArtifactKind.CONFIG

    def analyze(self, blob: Blob, ctx: AnalysisContext) -> None:
        """Read the INI text (bounded) and check its index settings."""
        source = read_text(blob, ctx.limits.max_text_bytes)
        settings = pip_config_settings(source.text)
        issues = setting_issues(settings, ctx.path, hashes_everywhere=False)
        _report(ctx, issues, None)
