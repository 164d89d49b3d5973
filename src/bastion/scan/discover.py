"""Walking a scan target: files in a stable order, exclusions, and links that leave the root.

Links are never followed: a link to a file inside the root is scanned at its real path, a link
that leaves the root is reported (its target was not scanned), and directory loops cannot occur.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

#: Directories no one wants scanned by default (VCS metadata, caches, virtual environments).
DEFAULT_EXCLUDES: tuple[str, ...] = (
    ".git/",
    ".hg/",
    ".svn/",
    "__pycache__/",
    ".mypy_cache/",
    ".ruff_cache/",
    ".pytest_cache/",
    ".tox/",
    ".nox/",
    ".venv/",
    "venv/",
    "node_modules/",
    ".ipynb_checkpoints/",
    ".hypothesis/",
    "*.egg-info/",
    ".eggs/",
)


@dataclass(frozen=True)
class Candidate:
    """A regular file to analyze: absolute path and path relative to the scan root."""

    path: str
    rel: str
    size: int


@dataclass(frozen=True)
class LinkEscape:
    """A symbolic link inside the root whose target lies outside it."""

    rel: str
    target: str


@dataclass(frozen=True)
class WalkError:
    """A directory or file that could not be listed or inspected."""

    rel: str
    detail: str


Event = Candidate | LinkEscape | WalkError


class Excluder:
    """gitignore-like patterns: ``dir/`` prunes directories, others match paths or names."""

    def __init__(self, patterns: tuple[str, ...]) -> None:
        self.dir_patterns = tuple(p.rstrip("/") for p in patterns if p.endswith("/"))
        self.file_patterns = tuple(p for p in patterns if not p.endswith("/"))

    def _match(self, rel: str, patterns: tuple[str, ...]) -> bool:
        name = rel.rsplit("/", 1)[-1]
        return any(
            fnmatch.fnmatchcase(rel, p)
            or fnmatch.fnmatchcase(name, p)
            or (p.startswith("**/") and fnmatch.fnmatchcase(rel, p[3:]))
            for p in patterns
        )

    def excludes_dir(self, rel: str) -> bool:
        """Whether a directory (relative path) is pruned."""
        return self._match(rel, self.dir_patterns) or self._match(rel, self.file_patterns)

    def excludes_file(self, rel: str) -> bool:
        """Whether a file (relative path) is skipped."""
        parts = rel.split("/")
        for i in range(1, len(parts)):
            if self._match("/".join(parts[:i]), self.dir_patterns):
                return True
        return self._match(rel, self.file_patterns)


def walk(root: Path, excluder: Excluder, only: Sequence[str] | None = None) -> Iterator[Event]:
    """Yield the files under ``root`` (or ``root`` itself) in sorted, stable order.

    ``only`` restricts the walk to these paths relative to ``root`` (files or directories), as
    a pre-commit hook passes the changed files; paths stay relative to ``root`` in results.
    """
    root = root.absolute()
    if only is not None:
        yield from _walk_only(root, excluder, only)
        return
    if root.is_file() or not root.is_dir():
        try:
            size = root.stat().st_size
        except OSError as exc:
            yield WalkError(root.name, f"cannot stat: {exc.strerror or exc}")
            return
        yield Candidate(str(root), root.name, size)
        return
    real_root = os.path.realpath(root)
    yield from _walk_dir(str(root), "", real_root, excluder)


def _walk_only(root: Path, excluder: Excluder, only: Sequence[str]) -> Iterator[Event]:
    real_root = os.path.realpath(root)
    for rel in sorted(dict.fromkeys(p.replace(os.sep, "/").strip("/") for p in only)):
        path = root / rel
        if path.is_symlink():
            target = os.path.realpath(path)
            if not (target == real_root or target.startswith(real_root + os.sep)):
                yield LinkEscape(rel, os.readlink(path))
            continue
        if path.is_dir():
            if not excluder.excludes_dir(rel):
                yield from _walk_dir(str(path), rel, real_root, excluder)
            continue
        if excluder.excludes_file(rel):
            continue
        try:
            yield Candidate(str(path), rel, path.stat().st_size)
        except OSError as exc:
            yield WalkError(rel, f"cannot stat: {exc.strerror or exc}")


def _walk_dir(path: str, rel: str, real_root: str, excluder: Excluder) -> Iterator[Event]:
    try:
        with os.scandir(path) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        yield WalkError(rel or ".", f"cannot list directory: {exc.strerror or exc}")
        return
    for entry in entries:
        child_rel = f"{rel}/{entry.name}" if rel else entry.name
        try:
            if entry.is_symlink():
                target = os.path.realpath(entry.path)
                inside = target == real_root or target.startswith(real_root + os.sep)
                if not inside and not excluder.excludes_file(child_rel):
                    yield LinkEscape(child_rel, os.readlink(entry.path))
                continue
            if entry.is_dir(follow_symlinks=False):
                if not excluder.excludes_dir(child_rel):
                    yield from _walk_dir(entry.path, child_rel, real_root, excluder)
                continue
            if not entry.is_file(follow_symlinks=False):
                continue  # sockets, FIFOs, devices: nothing to read
            if excluder.excludes_file(child_rel):
                continue
            yield Candidate(entry.path, child_rel, entry.stat(follow_symlinks=False).st_size)
        except OSError as exc:
            yield WalkError(child_rel, f"cannot inspect: {exc.strerror or exc}")
