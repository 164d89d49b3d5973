"""Reading OSV exports (a directory of JSON files, one JSON file, or OSV's ``all.zip``), bounded,
into the index bastion matches against.

>>> index = build_index(iter_records(Path("PyPI-all.zip")))        # doctest: +SKIP
>>> index.stats.advisories, index.stats.newest                      # doctest: +SKIP
(17021, '2025-11-20T08:12:44Z')

Every bound is explicit (:class:`ExportLimits`): bytes per record, records, total bytes read,
decompression ratio. A record that breaks one, or is not JSON, is counted and skipped, never
fatal; a source that cannot be opened at all raises :class:`VulnDbError` naming it.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bastion.errors import BastionError
from bastion.scan.deps.osv import Advisory, advisory_from_osv

INDEX_FORMAT = "bastion-osv-index"
INDEX_VERSION = 2


class VulnDbError(BastionError):
    """Vulnerability data cannot be read, imported or downloaded (names the source and why)."""


@dataclass(frozen=True)
class ExportLimits:
    """Bounds on reading an export."""

    max_record_bytes: int = 16 * 1024 * 1024
    max_records: int = 2_000_000
    max_total_bytes: int = 8 * 1024**3
    max_file_bytes: int = 2 * 1024**3
    max_ratio: int = 1000


@dataclass
class ReadStats:
    """What reading an export saw."""

    records: int = 0
    skipped: int = 0
    problems: list[str] = field(default_factory=list)

    def skip(self, where: str, why: str) -> None:
        """Count a skipped record; keep the first few reasons."""
        self.skipped += 1
        if len(self.problems) < 20:
            self.problems.append(f"{where}: {why}")


def _decode(data: bytes, where: str, stats: ReadStats) -> list[dict[str, Any]]:
    try:
        value = json.loads(data)
    except (ValueError, RecursionError) as exc:
        stats.skip(where, f"not JSON ({type(exc).__name__})")
        return []
    if isinstance(value, dict) and isinstance(value.get("vulns"), list):
        value = value["vulns"]  # an OSV API response
    items = value if isinstance(value, list) else [value]
    records = [item for item in items if isinstance(item, dict)]
    if len(records) != len(items):
        stats.skip(where, "an entry is not a JSON object")
    return records


def _zip_records(path: Path, limits: ExportLimits, stats: ReadStats) -> Iterator[dict[str, Any]]:
    total = 0
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise VulnDbError(f"{path}: not a readable zip archive ({exc})") from exc
    with archive:
        for info in archive.infolist():
            if info.is_dir() or not info.filename.endswith(".json"):
                continue
            where = f"{path.name}!{info.filename}"
            if info.file_size > limits.max_record_bytes:
                stats.skip(where, f"declares {info.file_size} bytes")
                continue
            if info.compress_size and info.file_size > 1024 * 1024:
                if info.file_size / info.compress_size > limits.max_ratio:
                    stats.skip(where, "compression ratio of a decompression bomb")
                    continue
            try:
                with archive.open(info) as stream:
                    data = stream.read(limits.max_record_bytes + 1)
            except (OSError, zipfile.BadZipFile, EOFError, RuntimeError, ValueError) as exc:
                stats.skip(where, f"unreadable ({exc})")
                continue
            if len(data) > limits.max_record_bytes:
                stats.skip(where, "larger than its declared size")
                continue
            total += len(data)
            if total > limits.max_total_bytes:
                raise VulnDbError(f"{path}: more than {limits.max_total_bytes} bytes of records")
            yield from _counted(_decode(data, where, stats), limits, stats, path)


def _counted(
    records: list[dict[str, Any]], limits: ExportLimits, stats: ReadStats, path: Path
) -> Iterator[dict[str, Any]]:
    for record in records:
        stats.records += 1
        if stats.records > limits.max_records:
            raise VulnDbError(f"{path}: more than {limits.max_records} records")
        yield record


def _directory_records(
    path: Path, limits: ExportLimits, stats: ReadStats
) -> Iterator[dict[str, Any]]:
    total = 0
    for folder, dirs, files in os.walk(path, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            if not name.endswith(".json"):
                continue
            file = Path(folder, name)
            where = str(file.relative_to(path))
            try:
                if file.is_symlink() or file.stat().st_size > limits.max_record_bytes:
                    stats.skip(where, "symbolic link or too large")
                    continue
                data = file.read_bytes()
            except OSError as exc:
                stats.skip(where, f"unreadable ({exc.strerror or exc})")
                continue
            total += len(data)
            if total > limits.max_total_bytes:
                raise VulnDbError(f"{path}: more than {limits.max_total_bytes} bytes of records")
            yield from _counted(_decode(data, where, stats), limits, stats, path)


def iter_records(
    path: Path, limits: ExportLimits | None = None, stats: ReadStats | None = None
) -> Iterator[dict[str, Any]]:
    """Every OSV record of an export, bounded; malformed ones are counted in ``stats``."""
    limits = limits or ExportLimits()
    stats = stats if stats is not None else ReadStats()
    if path.is_dir():
        yield from _directory_records(path, limits, stats)
        return
    try:
        size = path.stat().st_size
        with path.open("rb") as stream:
            magic = stream.read(4)
    except OSError as exc:
        raise VulnDbError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if magic.startswith(b"PK\x03\x04") or magic.startswith(b"PK\x05\x06"):
        yield from _zip_records(path, limits, stats)
        return
    if size > limits.max_file_bytes:
        raise VulnDbError(f"{path}: larger than {limits.max_file_bytes} bytes")
    records = _decode(path.read_bytes(), path.name, stats)
    if not records:
        raise VulnDbError(f"{path}: no OSV record in it (expected JSON, a directory or a zip)")
    yield from _counted(records, limits, stats, path)


@dataclass(frozen=True)
class IndexStats:
    """What an index holds and where it came from."""

    source: str
    advisories: int
    packages: int
    records: int
    skipped: int
    newest: str | None
    imported: str | None = None


@dataclass(frozen=True)
class OsvIndex:
    """Advisories and, per normalized package name, which ones name it.

    Each advisory is kept as its own compact JSON text (:meth:`Advisory.to_json`), decoded only
    when its package is looked up: loading the index then parses one string per advisory
    instead of every version list, about five times faster for the whole PyPI export.
    """

    advisories: list[str]
    packages: dict[str, list[int]]
    stats: IndexStats

    def to_json(self) -> dict[str, Any]:
        """The index file's content."""
        return {
            "format": INDEX_FORMAT,
            "version": INDEX_VERSION,
            "stats": self.stats.__dict__,
            "packages": self.packages,
            "advisories": self.advisories,
        }

    @classmethod
    def from_json(cls, data: object, where: str) -> OsvIndex:
        """Validate and wrap an index file's content."""
        if not (
            isinstance(data, dict)
            and data.get("format") == INDEX_FORMAT
            and data.get("version") == INDEX_VERSION
            and isinstance(data.get("packages"), dict)
            and isinstance(data.get("advisories"), list)
            and all(isinstance(a, str) for a in data["advisories"][:1])
            and isinstance(data.get("stats"), dict)
        ):
            raise VulnDbError(
                f"{where}: not a bastion OSV index of version {INDEX_VERSION} "
                "(run 'bastion db update' again)"
            )
        try:
            stats = IndexStats(**data["stats"])
        except TypeError as exc:
            raise VulnDbError(f"{where}: damaged index statistics ({exc})") from None
        return cls(data["advisories"], data["packages"], stats)


def build_index(
    records: Iterator[dict[str, Any]], source: str, stats: ReadStats | None = None
) -> OsvIndex:
    """Index PyPI advisories by package; withdrawn records and other ecosystems are left out."""
    stats = stats if stats is not None else ReadStats()
    advisories: list[str] = []
    packages: dict[str, list[int]] = {}
    seen: set[str] = set()
    newest: str | None = None
    for record in records:
        modified = record.get("modified")
        if isinstance(modified, str) and (newest is None or modified > newest):
            newest = modified
        try:
            advisory: Advisory | None = advisory_from_osv(record)
        except (TypeError, ValueError, AttributeError) as exc:
            stats.skip(str(record.get("id", "?")), f"malformed record ({exc})")
            continue
        if advisory is None or advisory.id in seen:
            continue
        seen.add(advisory.id)
        position = len(advisories)
        advisories.append(json.dumps(advisory.to_json(), separators=(",", ":")))
        for name in dict.fromkeys(a.name for a in advisory.affected):
            packages.setdefault(name, []).append(position)
    return OsvIndex(
        advisories,
        packages,
        IndexStats(
            source=source,
            advisories=len(advisories),
            packages=len(packages),
            records=stats.records,
            skipped=stats.skipped,
            newest=newest,
        ),
    )
