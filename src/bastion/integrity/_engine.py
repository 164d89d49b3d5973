"""The hashing engine: many files (or shards of a file) hashed in parallel threads.

OpenSSL's SHA-256 and file reads both release the GIL, so threads scale across cores without the
cost of processes. Jobs are started largest first (a long file does not start last and leave the
other cores idle), each thread reads into one preallocated buffer, and every file is re-checked
after hashing: a file replaced or modified while it was read is an error, not a digest of bytes
that never existed together.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from bastion.errors import MissingDependencyError
from bastion.integrity._walk import LocalFile

#: Read size per call; large reads keep the per-call overhead negligible.
CHUNK = 8 * 1024 * 1024
_O_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


class _Hasher(Protocol):
    def update(self, data: bytes | memoryview, /) -> object:
        """Feed bytes."""

    def hexdigest(self) -> str:
        """The digest as lower-case hex."""


@dataclass(frozen=True)
class Job:
    """Hash ``file`` from ``start`` to ``end`` (the whole file in ``files`` mode)."""

    file: LocalFile
    start: int
    end: int


class HashError(Exception):
    """A file could not be hashed (unreadable, replaced or modified while read)."""

    def __init__(self, rel: str, detail: str) -> None:
        super().__init__(f"{rel}: {detail}")
        self.rel = rel
        self.detail = detail


def default_workers() -> int:
    """Threads to use: the CPUs this process may run on."""
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        count = os.cpu_count() or 1
    return max(1, min(32, count))


def hasher_factory(hash_type: str) -> Callable[[], _Hasher]:
    """A constructor for the hash named in a serialization block."""
    if hash_type == "sha256":
        return hashlib.sha256
    if hash_type == "blake2":
        return hashlib.blake2b
    if hash_type == "blake3":
        try:
            import blake3  # type: ignore[import-not-found,unused-ignore]
        except ImportError as exc:
            raise MissingDependencyError("blake3", "sign", "Verifying a BLAKE3 manifest") from exc
        factory: Callable[[], _Hasher] = blake3.blake3
        return factory
    raise ValueError(f"unsupported hash type {hash_type!r}")


def run(
    jobs: Sequence[Job],
    hash_type: str,
    *,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[str | HashError]:
    """Hash every job; results in job order, a :class:`HashError` for each failure."""
    make = hasher_factory(hash_type)
    results: list[str | HashError] = [HashError("", "not hashed")] * len(jobs)
    if not jobs:
        return results
    order = sorted(range(len(jobs)), key=lambda i: jobs[i].end - jobs[i].start, reverse=True)
    count = min(workers or default_workers(), len(jobs))
    local = threading.local()

    def work(index: int) -> None:
        buffer = getattr(local, "buffer", None)
        if buffer is None:
            buffer = local.buffer = bytearray(CHUNK)
        try:
            results[index] = _hash_one(jobs[index], make, buffer, progress)
        except HashError as exc:
            results[index] = exc

    if count == 1:
        for index in order:
            work(index)
        return results
    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="bastion-hash") as pool:
        for future in [pool.submit(work, i) for i in order]:
            future.result()
    return results


def _hash_one(
    job: Job,
    make: Callable[[], _Hasher],
    buffer: bytearray,
    progress: Callable[[int], None] | None,
) -> str:
    file = job.file
    try:
        fd = os.open(file.path, _O_FLAGS)
    except OSError as exc:
        raise HashError(file.rel, f"cannot open: {exc.strerror or exc}") from exc
    try:
        before = os.fstat(fd)
        if not stat.S_ISREG(before.st_mode) or (before.st_dev, before.st_ino) != (
            file.dev,
            file.ino,
        ):
            raise HashError(file.rel, "was replaced while the folder was being hashed")
        if job.start == 0 and job.end == before.st_size and hasattr(os, "posix_fadvise"):
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        hasher = make()
        view = memoryview(buffer)
        offset, remaining = job.start, job.end - job.start
        while remaining > 0:
            want = min(remaining, len(buffer))
            got = os.preadv(fd, [view[:want]], offset) if want else 0
            if got <= 0:
                raise HashError(file.rel, "shrank while it was being hashed")
            hasher.update(view[:got])
            offset += got
            remaining -= got
            if progress is not None:
                progress(got)
        after = os.fstat(fd)
    except OSError as exc:
        raise HashError(file.rel, f"cannot read: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)
    if (after.st_size, after.st_mtime_ns) != (file.size, file.mtime_ns):
        raise HashError(file.rel, "was modified while it was being hashed")
    return hasher.hexdigest()
