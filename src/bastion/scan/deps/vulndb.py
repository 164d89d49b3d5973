"""The vulnerability database a scan matches against: where it comes from, loaded once per process.

>>> db = open_database(Path("~/.cache/bastion/osv").expanduser())   # doctest: +SKIP
>>> [a.id for a in db.advisories_for("torch")][:2]                   # doctest: +SKIP
['GHSA-47fc-vmwq-366v', 'PYSEC-2022-43015']

Sources, first found wins (:func:`resolve_database`): the scan's ``vuln_db`` setting
(``--vuln-db PATH`` or the policy's ``vuln_db``), then the data ``bastion db update`` stored in
the user cache directory (``<user cache>/bastion/osv/``). Without either, matching is not
performed and the scan says so. Nothing here touches the network.

A path may be a bastion index (the cache folder, or its ``index.json``) or a raw OSV export
(folder of JSON files, a JSON file, ``all.zip``). A raw export is indexed once and the index is
kept in ``<user cache>/bastion/osv/derived/`` keyed by the export's path, size and modification
time, so the worker processes of a scan (and later scans) only load a ready index. Loaded
databases are cached per process by the same key.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bastion.scan.deps.osv import Advisory
from bastion.scan.deps.osv_export import (
    IndexStats,
    OsvIndex,
    ReadStats,
    VulnDbError,
    build_index,
    iter_records,
)

INDEX_NAME = "index.json"
METADATA_NAME = "metadata.json"
#: Largest index file loaded (the whole PyPI export indexes to a few tens of MiB).
MAX_INDEX_BYTES = 1024 * 1024 * 1024


def cache_root() -> Path:
    """``<user cache>/bastion/osv``: where ``bastion db update`` keeps its data."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("bastion")) / "osv"


class VulnDatabase:
    """Advisories by normalized package name, decoded on first use."""

    def __init__(self, index: OsvIndex, location: str) -> None:
        self._index = index
        self._decoded: dict[int, Advisory] = {}
        #: Where the data was loaded from (for messages).
        self.location = location

    @property
    def stats(self) -> IndexStats:
        """Source, counts and dates of the data."""
        return self._index.stats

    def advisories_for(self, name: str) -> tuple[Advisory, ...]:
        """Every advisory that names the package (normalized name)."""
        found = []
        for position in self._index.packages.get(name, ()):
            advisory = self._decoded.get(position)
            if advisory is None:
                try:
                    advisory = Advisory.from_json(json.loads(self._index.advisories[position]))
                except (ValueError, TypeError, KeyError) as exc:
                    raise VulnDbError(f"{self.location}: damaged advisory entry ({exc})") from exc
                self._decoded[position] = advisory
            found.append(advisory)
        return tuple(found)

    def describe(self) -> str:
        """``OSV data as of 2025-11-20 (17021 PyPI advisories, imported 2025-11-21)``."""
        stats = self.stats
        newest = (stats.newest or "unknown date")[:10]
        imported = f", imported {stats.imported[:10]}" if stats.imported else ""
        return f"OSV data as of {newest} ({stats.advisories} PyPI advisories{imported})"


def _signature(path: Path) -> tuple[str, ...]:
    """What identifies the content of a source: path, sizes and modification times."""
    stat = path.stat()
    parts = [str(path.resolve()), str(stat.st_size), str(stat.st_mtime_ns)]
    if path.is_dir():
        for folder, dirs, files in os.walk(path, followlinks=False):
            dirs.sort()
            for name in sorted(files):
                if name.endswith(".json"):
                    item = Path(folder, name)
                    try:
                        st = item.lstat()
                    except OSError:
                        continue
                    parts.append(f"{item.relative_to(path)}:{st.st_size}:{st.st_mtime_ns}")
    return tuple(parts)


def read_index(path: Path) -> OsvIndex:
    """Load an index file, bounded and validated."""
    try:
        if path.stat().st_size > MAX_INDEX_BYTES:
            raise VulnDbError(f"{path}: larger than {MAX_INDEX_BYTES} bytes")
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise VulnDbError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except (ValueError, RecursionError) as exc:
        raise VulnDbError(f"{path}: damaged index ({type(exc).__name__}); update again") from exc
    return OsvIndex.from_json(data, str(path))


def write_json_atomic(path: Path, data: object) -> None:
    """Write JSON next to ``path`` and rename it into place (readers never see half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            json.dump(data, stream, separators=(",", ":"))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _is_index_file(path: Path) -> bool:
    if path.name != INDEX_NAME or not path.is_file():
        return False
    with path.open("rb") as stream:
        return b'"format":"bastion-osv-index"' in stream.read(256)


def index_export(path: Path) -> OsvIndex:
    """Index a raw OSV export (no caching)."""
    stats = ReadStats()
    index = build_index(iter_records(path, stats=stats), str(path), stats)
    if stats.records == 0:
        raise VulnDbError(f"{path}: no OSV record in it (expected JSON, a directory or a zip)")
    return index


def _derived_index(path: Path, signature: tuple[str, ...]) -> OsvIndex:
    key = hashlib.sha256("\x1f".join(signature).encode()).hexdigest()[:32]
    cached = cache_root() / "derived" / f"{key}.json"
    if cached.is_file():
        try:
            return read_index(cached)
        except VulnDbError:
            pass  # damaged or from another version: rebuilt below
    index = index_export(path)
    try:
        write_json_atomic(cached, index.to_json())
    except OSError:
        pass  # NOTE: a read-only cache only costs re-indexing in the next process
    return index


_LOADED: dict[tuple[str, ...], VulnDatabase] = {}


def open_database(path: Path) -> VulnDatabase:
    """Load vulnerability data from a bastion index or a raw OSV export, once per process."""
    if not path.exists():
        raise VulnDbError(f"{path}: no such file or directory")
    index_file = path / INDEX_NAME if path.is_dir() else path
    try:
        signature = _signature(index_file if _is_index_file(index_file) else path)
    except OSError as exc:
        raise VulnDbError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    loaded = _LOADED.get(signature)
    if loaded is not None:
        return loaded
    if _is_index_file(index_file):
        database = VulnDatabase(read_index(index_file), str(index_file))
    else:
        database = VulnDatabase(_derived_index(path, signature), str(path))
    _LOADED.clear()  # NOTE: one database per process; a stale one is dropped, not accumulated
    _LOADED[signature] = database
    return database


@dataclass(frozen=True)
class DatabaseChoice:
    """The outcome of looking for vulnerability data: a database, or why there is none."""

    database: VulnDatabase | None
    problem: str | None = None
    configured: str | None = None


def resolve_database(configured: str | None) -> DatabaseChoice:
    """The database for a scan: the configured path, else the ``db update`` cache, else none."""
    if configured:
        try:
            return DatabaseChoice(open_database(Path(configured)), configured=configured)
        except VulnDbError as exc:
            return DatabaseChoice(None, str(exc), configured)
    default = cache_root() / INDEX_NAME
    if not default.is_file():
        return DatabaseChoice(None)
    try:
        return DatabaseChoice(open_database(default))
    except VulnDbError as exc:
        return DatabaseChoice(None, str(exc))


def prepare_database(configured: str | None) -> None:
    """Build the index of a raw export before a scan's workers start (raises on errors)."""
    if configured:
        open_database(Path(configured))
