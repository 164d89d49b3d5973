"""Hashing a model or dataset folder into a :class:`~bastion.integrity.manifest.Manifest`.

>>> from pathlib import Path
>>> from bastion.integrity.hashing import hash_model
>>> from bastion.integrity.manifest import Serialization
>>> local = hash_model(Path("models/bert"), Serialization())        # doctest: +SKIP
>>> local.manifest.root_digest                                      # doctest: +SKIP
'5c1f…'

Files are hashed in parallel threads (see ``_engine``); in ``shards`` serialization the shards
of one large file are hashed in parallel too. With a :class:`~bastion.integrity.cache.ManifestCache`
unchanged files are not read at all. What cannot be hashed (a link, an unreadable or special file)
is returned in :attr:`LocalManifest.problems`, never silently left out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bastion.integrity import _engine
from bastion.integrity._walk import IgnoreRules, Listing, LocalFile, list_files
from bastion.integrity.cache import ManifestCache
from bastion.integrity.manifest import (
    GIT_PATHS,
    ChangeKind,
    FileChange,
    Manifest,
    Resource,
    Serialization,
)

#: Default shard size of model_signing's ``shards`` serialization (1 GB, decimal).
DEFAULT_SHARD_SIZE = 1_000_000_000


@dataclass(frozen=True)
class HashOptions:
    """How to hash: threads, an optional digest cache, and a progress callback (bytes read)."""

    workers: int | None = None
    cache: ManifestCache | None = None
    progress: Callable[[int], None] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class LocalManifest:
    """The manifest of what is on disk now, what could not be hashed, and what was ignored."""

    manifest: Manifest
    problems: tuple[FileChange, ...]
    ignored: tuple[str, ...]
    files: int
    bytes_total: int
    bytes_read: int
    single_file: bool


def hash_model(
    path: Path,
    serialization: Serialization,
    *,
    ignore_patterns: tuple[str, ...] = (),
    extra_ignore_paths: tuple[str, ...] = (),
    options: HashOptions | None = None,
) -> LocalManifest:
    """Hash ``path`` the way ``serialization`` says (its ignore paths, links, method, hash)."""
    options = options or HashOptions()
    rules = IgnoreRules(
        paths=tuple(dict.fromkeys(serialization.ignore_paths + GIT_PATHS + extra_ignore_paths)),
        patterns=ignore_patterns,
    )
    listing = list_files(path, rules, allow_symlinks=serialization.allow_symlinks)
    return hash_listing(listing, serialization, ignore_patterns, options)


def hash_listing(
    listing: Listing,
    serialization: Serialization,
    ignore_patterns: tuple[str, ...],
    options: HashOptions,
) -> LocalManifest:
    """Hash the files of a listing (cache first, then the engine for the rest)."""
    algorithm = serialization.algorithm
    cache = options.cache
    jobs: list[_engine.Job] = []
    owners: list[int] = []
    digests: list[list[str] | None] = [None] * len(listing.files)
    for index, file in enumerate(listing.files):
        cached = cache.lookup(file, algorithm) if cache is not None else None
        spans = _spans(file, serialization)
        if cached is not None and len(cached) == len(spans):
            digests[index] = cached
            continue
        for start, end in spans:
            jobs.append(_engine.Job(file, start, end))
            owners.append(index)
    results = _engine.run(
        jobs, serialization.hash_type, workers=options.workers, progress=options.progress
    )
    partial: dict[int, list[str]] = {}
    failed: dict[int, _engine.HashError] = {}
    for owner, result in zip(owners, results, strict=True):
        if isinstance(result, _engine.HashError):
            failed.setdefault(owner, result)
        else:
            partial.setdefault(owner, []).append(result)
    problems = list(listing.problems)
    resources: list[Resource] = []
    sizes: dict[str, int] = {}
    bytes_read = 0
    for index, file in enumerate(listing.files):
        if index in failed:
            problems.append(FileChange(file.rel, ChangeKind.UNREADABLE, failed[index].detail))
            continue
        values = digests[index]
        if values is None:
            values = partial.get(index, [])
            bytes_read += file.size
            if cache is not None:
                cache.store(file, algorithm, values)
        sizes[file.rel] = file.size
        resources.extend(_resources(file, serialization, values))
    if cache is not None:
        cache.prune({f.rel for f in listing.files})
        cache.save()
    manifest = Manifest(listing.name, serialization, tuple(resources), sizes, ignore_patterns)
    return LocalManifest(
        manifest=manifest,
        problems=tuple(problems),
        ignored=listing.ignored,
        files=len(listing.files),
        bytes_total=sum(f.size for f in listing.files),
        bytes_read=bytes_read,
        single_file=listing.single_file,
    )


def _spans(file: LocalFile, serialization: Serialization) -> list[tuple[int, int]]:
    if serialization.method == "files":
        return [(0, file.size)]
    size, step = file.size, serialization.shard_size or DEFAULT_SHARD_SIZE
    return [(start, min(start + step, size)) for start in range(0, size, step)]


def _resources(file: LocalFile, serialization: Serialization, values: list[str]) -> list[Resource]:
    algorithm = serialization.algorithm
    if serialization.method == "files":
        return [Resource(file.rel, algorithm, values[0])]
    return [
        Resource(f"{file.rel}:{start}:{end}", algorithm, value)
        for (start, end), value in zip(_spans(file, serialization), values, strict=True)
    ]
