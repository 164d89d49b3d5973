"""``bastion db update`` and ``bastion db status``: importing OSV data into the user cache.

>>> result = import_export(Path("PyPI-all.zip"))          # doctest: +SKIP
>>> result.stats.advisories                                # doctest: +SKIP
17021

:func:`download_export` is the only network access in bastion, and only this explicit command
makes it: an HTTPS GET of OSV's PyPI export with a timeout and a size limit, written to a
temporary file in the cache folder. The download (or a local ``--from`` file) is indexed before
anything in the cache changes; the index, the export copy and ``metadata.json`` are then renamed
into place, so an interrupted or failed update leaves the previous data untouched.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from bastion.scan.deps.osv_export import IndexStats, OsvIndex, VulnDbError
from bastion.scan.deps.vulndb import (
    INDEX_NAME,
    METADATA_NAME,
    cache_root,
    index_export,
    read_index,
    write_json_atomic,
)

#: OSV's export of every PyPI record (one JSON file per advisory in a zip).
OSV_PYPI_URL = "https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip"
DOWNLOAD_TIMEOUT_S = 60.0
MAX_DOWNLOAD_BYTES = 1024 * 1024 * 1024
EXPORT_NAME = "export"


@dataclass(frozen=True)
class UpdateResult:
    """Where the data now is and what it holds."""

    folder: Path
    stats: IndexStats


def download_export(url: str, target: Path, *, timeout: float = DOWNLOAD_TIMEOUT_S) -> None:
    """Fetch ``url`` (https only) into ``target``, at most :data:`MAX_DOWNLOAD_BYTES`."""
    if not url.startswith("https://"):
        raise VulnDbError(f"{url}: only https:// URLs are downloaded")
    request = urllib.request.Request(url, headers={"User-Agent": "bastion-db-update"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > MAX_DOWNLOAD_BYTES:
                raise VulnDbError(f"{url}: {declared} bytes is over the download limit")
            written = 0
            with target.open("wb") as out:
                while chunk := response.read(1 << 20):
                    written += len(chunk)
                    if written > MAX_DOWNLOAD_BYTES:
                        raise VulnDbError(f"{url}: more than {MAX_DOWNLOAD_BYTES} bytes")
                    out.write(chunk)
    except urllib.error.HTTPError as exc:
        raise VulnDbError(f"{url}: the server answered HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise VulnDbError(
            f"cannot download {url}: {reason}. Offline? Copy the export onto this machine "
            "and run 'bastion db update --from FILE'."
        ) from exc


def _install(folder: Path, index: OsvIndex, export: Path | None) -> IndexStats:
    imported = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    stats = replace(index.stats, imported=imported)
    final = OsvIndex(index.advisories, index.packages, stats)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob(f"{EXPORT_NAME}.*"):
        if export is None or old.name != f"{EXPORT_NAME}{export.suffix}":
            old.unlink(missing_ok=True)
    if export is not None:
        os.replace(export, folder / f"{EXPORT_NAME}{export.suffix}")
    write_json_atomic(folder / INDEX_NAME, final.to_json())
    write_json_atomic(folder / METADATA_NAME, stats.__dict__)
    return stats


def import_export(source: Path, folder: Path | None = None) -> UpdateResult:
    """Index a local export (directory, JSON or zip) and make it the cached database."""
    folder = folder or cache_root()
    if not source.exists():
        raise VulnDbError(f"{source}: no such file or directory")
    index = index_export(source)
    if index.stats.advisories == 0:
        raise VulnDbError(f"{source}: holds no PyPI advisory (is it an OSV export?)")
    copy: Path | None = None
    if source.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".import.", suffix=source.suffix or ".json", dir=folder)
        os.close(fd)
        shutil.copyfile(source, tmp)
        copy = Path(tmp)
    try:
        return UpdateResult(folder, _install(folder, index, copy))
    finally:
        if copy is not None:
            copy.unlink(missing_ok=True)


def update_from_network(url: str = OSV_PYPI_URL, folder: Path | None = None) -> UpdateResult:
    """Download OSV's PyPI export and make it the cached database."""
    folder = folder or cache_root()
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".download.", suffix=".zip", dir=folder)
    os.close(fd)
    download = Path(tmp)
    try:
        download_export(url, download)
        index = index_export(download)
        if index.stats.advisories == 0:
            raise VulnDbError(f"{url}: the download holds no PyPI advisory")
        index = OsvIndex(index.advisories, index.packages, replace(index.stats, source=url))
        return UpdateResult(folder, _install(folder, index, download))
    finally:
        download.unlink(missing_ok=True)


def database_status(folder: Path | None = None) -> IndexStats | None:
    """What the cached database holds, or ``None`` when there is none."""
    folder = folder or cache_root()
    if not (folder / INDEX_NAME).is_file():
        return None
    return read_index(folder / INDEX_NAME).stats
