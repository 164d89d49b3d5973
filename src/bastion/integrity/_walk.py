"""Listing the files of a model or dataset folder for hashing, safely.

Never follows a directory link, never opens anything but a regular file, and never leaves the
folder: a symbolic link is reported unless the signature allows links, and even then only a link
to a regular file inside the folder is followed. Problems are values, not exceptions, so a
verifier can name every one of them.
"""

from __future__ import annotations

import functools
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from bastion.integrity.errors import ModelPathError
from bastion.integrity.manifest import ChangeKind, FileChange
from bastion.scan.discover import Excluder


@dataclass(frozen=True)
class LocalFile:
    """A regular file to hash: its name in the manifest and what to open."""

    rel: str
    path: str
    size: int
    dev: int
    ino: int
    mtime_ns: int
    ctime_ns: int

    @property
    def stat_key(self) -> tuple[int, int, int, int, int]:
        """What must be unchanged for a cached digest to be reused."""
        return (self.size, self.dev, self.ino, self.mtime_ns, self.ctime_ns)


@functools.lru_cache(maxsize=32)
def _excluder(patterns: tuple[str, ...]) -> Excluder:
    return Excluder(patterns)


@dataclass(frozen=True)
class IgnoreRules:
    """Paths ignored as prefixes (model_signing's rule) and gitignore-like patterns."""

    paths: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()

    def ignores(self, rel: str, *, is_dir: bool) -> bool:
        """Whether an entry (relative POSIX path) is left out of the manifest."""
        if any(rel == p or rel.startswith(p + "/") for p in self.paths):
            return True
        if not self.patterns:
            return False
        excluder = _excluder(self.patterns)
        return excluder.excludes_dir(rel) if is_dir else excluder.excludes_file(rel)


@dataclass(frozen=True)
class Listing:
    """The files to hash, the problems found, and the entries ignored (top-most only)."""

    root: Path
    name: str
    single_file: bool
    files: tuple[LocalFile, ...]
    problems: tuple[FileChange, ...]
    ignored: tuple[str, ...]


def model_name(path: Path) -> str:
    """The name model_signing records: the last component, or the resolved folder's name."""
    name = path.name
    if not name or name == "..":
        name = os.path.basename(os.path.realpath(path))
    return name


def list_files(path: Path, rules: IgnoreRules, *, allow_symlinks: bool) -> Listing:
    """List ``path`` (a file or a folder). The path itself may be a link; it is resolved."""
    if not os.path.lexists(path):
        raise ModelPathError(str(path), "no such file or directory")
    name = model_name(path)
    real = Path(os.path.realpath(path))
    try:
        st = os.stat(real)
    except OSError as exc:
        raise ModelPathError(str(path), f"cannot read: {exc.strerror or exc}") from exc
    if stat.S_ISREG(st.st_mode):
        return Listing(real, name, True, (_local(".", str(real), st),), (), ())
    if not stat.S_ISDIR(st.st_mode):
        raise ModelPathError(str(path), "not a regular file or a directory")
    files: list[LocalFile] = []
    problems: list[FileChange] = []
    ignored: list[str] = []
    real_root = str(real)
    stack: list[tuple[str, str]] = [(real_root, "")]
    while stack:
        directory, prefix = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            problems.append(
                FileChange(prefix or ".", ChangeKind.UNREADABLE, f"cannot list: {exc.strerror}")
            )
            continue
        subdirs: list[tuple[str, str]] = []
        for entry in entries:
            rel = f"{prefix}{entry.name}"
            try:
                lst = entry.stat(follow_symlinks=False)
            except OSError as exc:
                problems.append(FileChange(rel, ChangeKind.UNREADABLE, f"cannot stat: {exc}"))
                continue
            is_dir = stat.S_ISDIR(lst.st_mode)
            if rules.ignores(rel, is_dir=is_dir):
                ignored.append(rel)
                continue
            if stat.S_ISLNK(lst.st_mode):
                found = _follow(entry.path, rel, real_root, allow_symlinks)
                if isinstance(found, LocalFile):
                    files.append(found)
                else:
                    problems.append(found)
            elif is_dir:
                subdirs.append((entry.path, rel + "/"))
            elif stat.S_ISREG(lst.st_mode):
                files.append(_local(rel, entry.path, lst))
            else:
                problems.append(
                    FileChange(
                        rel,
                        ChangeKind.UNREADABLE,
                        "not a regular file (FIFO, socket or device): never opened",
                    )
                )
        stack.extend(reversed(subdirs))
    return Listing(real, name, False, tuple(files), tuple(problems), tuple(ignored))


def _local(rel: str, path: str, st: os.stat_result) -> LocalFile:
    return LocalFile(rel, path, st.st_size, st.st_dev, st.st_ino, st.st_mtime_ns, st.st_ctime_ns)


def _follow(path: str, rel: str, real_root: str, allow: bool) -> LocalFile | FileChange:
    try:
        target = os.readlink(path)
    except OSError as exc:
        return FileChange(rel, ChangeKind.UNREADABLE, f"cannot read link: {exc.strerror}")
    if not allow:
        return FileChange(
            rel,
            ChangeKind.SYMLINK,
            f"symbolic link to {target!r} where a regular file is expected "
            "(links are only followed when signed with --allow-symlinks)",
        )
    resolved = os.path.realpath(path)
    if not (resolved == real_root or resolved.startswith(real_root + os.sep)):
        return FileChange(rel, ChangeKind.SYMLINK, f"symbolic link escapes the folder: {target!r}")
    try:
        st = os.stat(resolved)
    except OSError as exc:
        return FileChange(rel, ChangeKind.SYMLINK, f"broken symbolic link: {exc.strerror}")
    if not stat.S_ISREG(st.st_mode):
        return FileChange(
            rel, ChangeKind.SYMLINK, "symbolic link to a directory or special file: not followed"
        )
    return _local(rel, resolved, st)
