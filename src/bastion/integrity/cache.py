"""The manifest cache: reuse a file's digest while its size, mtime, inode and ctime are unchanged.

>>> from pathlib import Path
>>> from bastion.integrity.cache import ManifestCache
>>> cache = ManifestCache.for_model(Path("models/bert"))       # doctest: +SKIP
>>> # bastion.integrity.hashing.hash_model(..., options=HashOptions(cache=cache))

Re-verifying an unchanged 100 GB folder then costs one ``stat`` per file instead of reading 100
GB. **The trade-off**: a cached digest is trusted as long as the file's (size, mtime_ns, device,
inode, ctime_ns) are unchanged. Every write through the file system updates mtime and ctime, and
ordinary users cannot set ctime back (``utime`` and ``touch -d`` set it to *now*), so a byte flip
followed by restoring the mtime is still caught. It is not caught when someone with root rewrites
the disk under the file system, changes the system clock to forge ctime, or the storage corrupts
data silently; nor when the cache file itself is forged. The cache lives in the user's cache
directory, is written ``0600`` inside a ``0700`` folder, and is ignored (not read) when it belongs
to another user or is writable by group or others. Use ``--full`` (no cache) wherever storage may
be modified below the file system or by root, and for release-time checks.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from bastion.integrity._walk import LocalFile

CACHE_VERSION = 1
#: A cache file larger than this is not read (it would be forged or corrupt).
MAX_CACHE_BYTES = 512 * 1024 * 1024


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/bastion/manifests`` (or the platform's equivalent)."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("bastion")) / "manifests"


class ManifestCache:
    """Digests of files keyed by path and stat identity, persisted as one JSON file per model."""

    def __init__(self, path: Path, *, reuse: bool = True) -> None:
        self.path = path
        #: False: hash everything again (``--full``) but still refresh the cache file.
        self.reuse = reuse
        self._entries: dict[str, dict[str, Any]] = {}
        self._dirty = False
        self.hits = 0
        self.misses = 0
        self._load()

    @classmethod
    def for_model(
        cls, model: Path, directory: Path | None = None, *, reuse: bool = True
    ) -> ManifestCache:
        """The cache file of one model path (keyed by its resolved absolute path)."""
        key = hashlib.sha256(os.path.realpath(model).encode("utf-8", "surrogateescape"))
        path = (directory or default_cache_dir()) / f"{key.hexdigest()[:40]}.json"
        return cls(path, reuse=reuse)

    def _load(self) -> None:
        try:
            st = os.stat(self.path)
        except OSError:
            return
        trusted_owner = not hasattr(os, "getuid") or st.st_uid == os.getuid()
        if not trusted_owner or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return
        if st.st_size > MAX_CACHE_BYTES:
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            return
        if isinstance(data, dict) and data.get("version") == CACHE_VERSION:
            entries = data.get("entries")
            if isinstance(entries, dict):
                self._entries = {k: v for k, v in entries.items() if isinstance(v, dict)}

    def lookup(self, file: LocalFile, algorithm: str) -> list[str] | None:
        """Cached digests of ``file`` for ``algorithm`` if its stat identity is unchanged."""
        entry = self._entries.get(file.rel)
        if not self.reuse or entry is None or entry.get("stat") != list(file.stat_key):
            self.misses += 1
            return None
        digests = entry.get("digests", {}).get(algorithm)
        if not isinstance(digests, list) or not all(isinstance(d, str) for d in digests):
            self.misses += 1
            return None
        self.hits += 1
        return list(digests)

    def store(self, file: LocalFile, algorithm: str, digests: list[str]) -> None:
        """Remember the digests of ``file`` (other algorithms kept while the stat matches)."""
        entry = self._entries.get(file.rel)
        if entry is None or entry.get("stat") != list(file.stat_key):
            entry = {"stat": list(file.stat_key), "digests": {}}
            self._entries[file.rel] = entry
        entry["digests"][algorithm] = digests
        self._dirty = True

    def prune(self, keep: set[str]) -> None:
        """Forget files that are no longer in the folder."""
        for rel in [r for r in self._entries if r not in keep]:
            del self._entries[rel]
            self._dirty = True

    def save(self) -> None:
        """Write the cache atomically with private permissions (best effort: never fails)."""
        if not self._dirty:
            return
        tmp = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(prefix=".cache.", dir=self.path.parent)
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"version": CACHE_VERSION, "entries": self._entries}, handle)
            os.replace(tmp, self.path)
            self._dirty = False
        except OSError:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
