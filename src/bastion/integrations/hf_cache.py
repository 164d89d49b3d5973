"""Hugging Face caches: every cached snapshot scanned as ``<repo id>@<revision>/<file>``.

>>> from bastion.integrations.hf_cache import open_cache
>>> cache = open_cache(None)               # HF_HUB_CACHE, HF_HOME/hub or ~/.cache/huggingface/hub
>>> [s.label for s in cache.snapshots]      # doctest: +SKIP
['bert-base-uncased@86b5e0934494bd15c9632b12f734a8a67f723594']

``huggingface_hub`` stores a repository as ``models--org--name/`` (``datasets--``, ``spaces--``)
with ``blobs/<hash>`` (the contents), ``snapshots/<revision>/<path>`` (symbolic links into
``blobs/``) and ``refs/<name>`` (the revision a branch or tag pointed at when downloaded). A plain
walk would report each snapshot link as leaving the snapshot and analyze blobs under their hash,
without the file name detection relies on. Here every snapshot file is analyzed under its own
path, prefixed by repository and revision, through its link, and a link is followed only to a
regular file inside the cache folder being scanned (the repository folder when one repository is
named): anything else is reported as a link escape and not read. Nothing is downloaded.

A folder written by ``snapshot_download(local_dir=…)`` is a plain folder plus
``.cache/huggingface/download/<path>.metadata`` records; it is scanned as it is (the records
excluded) and its revisions are read from those records.
"""

from __future__ import annotations

import os
import re
import stat
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from bastion.core import ScanResult
from bastion.integrations.errors import IntegrationError
from bastion.scan.discover import Candidate, Event, Excluder, LinkEscape, WalkError, walk

_REPO_DIR = re.compile(r"^(models|datasets|spaces)--(.+)$")
_REVISION = re.compile(r"^[0-9a-f]{40}$|^[0-9a-f]{64}$")
_TYPE_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
#: ``snapshot_download(local_dir=…)`` bookkeeping, never part of the model.
LOCAL_DIR_METADATA = ".cache/huggingface/"
_MAX_DEPTH = 64
_MAX_REFS = 1000
_MAX_METADATA_FILES = 100_000


class CacheKind(str, Enum):
    """What a folder is, as far as the Hugging Face cache layout goes."""

    HOME = "home"  # HF_HOME: holds hub/
    HUB = "hub"  # HF_HUB_CACHE: holds models--*/ folders
    REPO = "repo"  # one models--org--name/ folder
    SNAPSHOT = "snapshot"  # one snapshots/<revision>/ folder inside a repository folder
    LOCAL_DIR = "local-dir"  # snapshot_download(local_dir=…)


@dataclass(frozen=True)
class Snapshot:
    """One cached revision of one repository."""

    repo_type: str
    repo_id: str
    revision: str
    refs: tuple[str, ...]
    path: Path

    @property
    def label(self) -> str:
        """``org/name@rev`` (``datasets/…``, ``spaces/…`` for other repository types)."""
        return f"{_TYPE_PREFIX.get(self.repo_type, '')}{self.repo_id}@{self.revision}"


@dataclass(frozen=True)
class HfCache:
    """A cache folder (or one repository or snapshot in it) and the snapshots found there."""

    root: Path
    kind: CacheKind
    boundary: Path
    snapshots: tuple[Snapshot, ...]
    #: For a ``local_dir`` download: revision -> number of files recorded at it.
    local_revisions: tuple[tuple[str, int], ...] = ()

    def events(self, exclude: tuple[str, ...]) -> Iterator[Event]:
        """Files to analyze, named ``<snapshot label>/<path>``; escapes and dead links.

        ``exclude`` patterns match those names (a ``local_dir`` folder: its own paths).
        """
        if self.kind is CacheKind.LOCAL_DIR:
            yield from walk(self.root, Excluder((*exclude, LOCAL_DIR_METADATA)))
            return
        excluder = Excluder(exclude)
        for snapshot in self.snapshots:
            yield from _walk_snapshot(snapshot, self.boundary, excluder)

    def summary(self, result: ScanResult) -> list[str]:
        """One line per repository revision: refs, files, findings by severity."""
        if self.kind is CacheKind.LOCAL_DIR:
            revisions = ", ".join(f"{rev[:12]} ({n} files)" for rev, n in self.local_revisions)
            return [f"{self.root.name}: downloaded revision(s) {revisions or 'not recorded'}"]
        lines = []
        for snapshot in self.snapshots:
            prefix = snapshot.label + "/"
            files = sum(1 for a in result.artifacts if a.path.startswith(prefix) and not a.member)
            found = [f for f in result.findings if f.location.path.startswith(prefix)]
            worst = max((f.severity for f in found), default=None)
            refs = f" [{', '.join(snapshot.refs)}]" if snapshot.refs else ""
            state = f"{len(found)} finding(s), worst {worst.label}" if worst else "no findings"
            lines.append(f"{snapshot.label}{refs}: {files} file(s), {state}")
        return lines


def default_cache_dir() -> Path:
    """Where ``huggingface_hub`` keeps its cache: ``HF_HUB_CACHE``, ``HF_HOME/hub``, XDG."""
    explicit = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    home = os.environ.get("HF_HOME")
    if home:
        return Path(home).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "huggingface" / "hub"


def classify(path: Path) -> CacheKind | None:
    """What ``path`` is in the cache layout (``None``: not a cache folder)."""
    path = path.absolute()  # "." inside a snapshot folder is one too; links are not resolved
    if not path.is_dir() or path.is_symlink():
        return None
    if _repo_parts(path.name) is not None and (path / "snapshots").is_dir():
        return CacheKind.REPO
    if (
        path.parent.name == "snapshots"
        and _repo_parts(path.parent.parent.name) is not None
        and _REVISION.match(path.name)
    ):
        return CacheKind.SNAPSHOT
    if _has_repos(path):
        return CacheKind.HUB
    if _has_repos(path / "hub"):
        return CacheKind.HOME
    if (path / LOCAL_DIR_METADATA / "download").is_dir():
        return CacheKind.LOCAL_DIR
    return None


def is_cache(path: Path) -> bool:
    """Whether a plain scan path should be scanned as a cache (hub, repository or snapshot)."""
    return classify(path) in {CacheKind.HUB, CacheKind.REPO, CacheKind.SNAPSHOT}


def open_cache(path: Path | None) -> HfCache:
    """Find the snapshots under ``path`` (``None``: the default cache location)."""
    root = (default_cache_dir() if path is None else path).absolute()
    kind = classify(root)
    if kind is None:
        raise IntegrationError(
            f"hf-cache://{root}",
            "not a Hugging Face cache (expected models--*/snapshots/ folders, a hub folder, "
            "a repository or snapshot folder in one, or a snapshot_download(local_dir=…) folder)",
        )
    if kind is CacheKind.LOCAL_DIR:
        return HfCache(root, kind, root, (), _local_revisions(root))
    if kind is CacheKind.HOME:
        root = root / "hub"
        kind = CacheKind.HUB
    if kind is CacheKind.HUB:
        repos = sorted(p for p in _children(root) if _repo_parts(p.name) is not None)
        found = [s for repo in repos for s in _repo_snapshots(repo)]
        return HfCache(root, kind, root, tuple(found))
    if kind is CacheKind.REPO:
        return HfCache(root, kind, root, tuple(_repo_snapshots(root)))
    repo = root.parent.parent
    only = tuple(s for s in _repo_snapshots(repo) if s.path.name == root.name)
    return HfCache(root, kind, repo, only)


def _repo_parts(name: str) -> tuple[str, str] | None:
    match = _REPO_DIR.match(name)
    if match is None:
        return None
    return match.group(1), match.group(2).replace("--", "/")


def _children(path: Path) -> list[Path]:
    try:
        with os.scandir(path) as it:
            return [Path(e.path) for e in it if e.is_dir(follow_symlinks=False)]
    except OSError:
        return []


def _has_repos(path: Path) -> bool:
    return any(
        _repo_parts(child.name) is not None and (child / "snapshots").is_dir()
        for child in _children(path)
    )


def _repo_snapshots(repo: Path) -> list[Snapshot]:
    parts = _repo_parts(repo.name)
    if parts is None:
        return []
    repo_type, repo_id = parts
    refs = _refs(repo / "refs")
    snapshots = []
    for snap in sorted(_children(repo / "snapshots")):
        names = tuple(sorted(name for name, rev in refs.items() if rev == snap.name))
        snapshots.append(Snapshot(repo_type[:-1], repo_id, snap.name, names, snap))
    return snapshots


def _refs(folder: Path) -> dict[str, str]:
    """``refs/<name>`` files (``refs/pr/1`` nested) → the revision each names."""
    found: dict[str, str] = {}
    stack = [(folder, "")]
    while stack and len(found) < _MAX_REFS:
        directory, prefix = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            name = f"{prefix}{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                if prefix.count("/") < 4:
                    stack.append((Path(entry.path), f"{name}/"))
            elif entry.is_file(follow_symlinks=False):
                try:
                    with open(entry.path, "rb") as handle:
                        value = handle.read(128).decode("ascii", "replace").strip()
                except OSError:
                    continue
                if _REVISION.match(value):
                    found[name] = value
    return found


def _walk_snapshot(snapshot: Snapshot, boundary: Path, excluder: Excluder) -> Iterator[Event]:
    real_boundary = os.path.realpath(boundary)
    stack: list[tuple[str, str, int]] = [(str(snapshot.path), "", 0)]
    while stack:
        directory, rel_dir, depth = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            yield WalkError(_name(snapshot, rel_dir or "."), f"cannot list: {exc.strerror}")
            continue
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            name = _name(snapshot, rel)
            if entry.is_dir(follow_symlinks=False):
                if depth >= _MAX_DEPTH:
                    yield WalkError(name, f"deeper than {_MAX_DEPTH} folders; not scanned")
                elif not excluder.excludes_dir(name):
                    stack.append((entry.path, rel, depth + 1))
            elif not excluder.excludes_file(name):
                yield from _file_event(entry, name, real_boundary)


def _name(snapshot: Snapshot, rel: str) -> str:
    return f"{snapshot.label}/{rel}"


def _file_event(entry: os.DirEntry[str], name: str, real_boundary: str) -> Iterator[Event]:
    try:
        if not entry.is_symlink():
            if entry.is_file(follow_symlinks=False):
                yield Candidate(entry.path, name, entry.stat(follow_symlinks=False).st_size)
            return
        target = os.path.realpath(entry.path)
        if not target.startswith(real_boundary + os.sep):
            yield LinkEscape(name, os.readlink(entry.path))
            return
        try:
            info = os.lstat(target)
        except FileNotFoundError:
            yield WalkError(name, "links to a missing blob (incomplete download)")
            return
        if not stat.S_ISREG(info.st_mode):
            yield WalkError(name, "links to something that is not a regular file; not read")
            return
        yield Candidate(target, name, info.st_size)
    except OSError as exc:
        yield WalkError(name, f"cannot inspect: {exc.strerror or exc}")


def _local_revisions(root: Path) -> tuple[tuple[str, int], ...]:
    """Revisions recorded by ``snapshot_download(local_dir=…)``, with their file counts."""
    counts: Counter[str] = Counter()
    seen = 0
    for dirpath, _dirs, files in os.walk(root / LOCAL_DIR_METADATA / "download"):
        for file in files:
            if not file.endswith(".metadata"):
                continue
            seen += 1
            if seen > _MAX_METADATA_FILES:
                return tuple(sorted(counts.items()))
            try:
                with open(os.path.join(dirpath, file), "rb") as handle:
                    first = handle.read(128).split(b"\n", 1)[0].decode("ascii", "replace")
            except OSError:
                continue
            if _REVISION.match(first.strip()):
                counts[first.strip()] += 1
    return tuple(sorted(counts.items()))
