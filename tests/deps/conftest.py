"""Fixtures for the dependency tests: the real OSV records, an isolated user cache, scan helpers."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bastion.core import Finding, ScanResult
from bastion.scan.deps import vulndb
from bastion.scan.engine import ScanOptions, scan
from bastion.scan.interface import ScanSettings

OSV_DIR = Path(__file__).parent / "osv"
PROJECTS_DIR = Path(__file__).parent / "projects"


@pytest.fixture(autouse=True)
def isolated_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """A private user cache (no 'bastion db update' data) and no database loaded in-process."""
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    vulndb._LOADED.clear()
    yield cache
    vulndb._LOADED.clear()


@pytest.fixture
def osv_dir() -> Path:
    """The directory of real OSV records (one JSON file each)."""
    return OSV_DIR


@pytest.fixture
def osv_zip(tmp_path: Path) -> Path:
    """The same records as OSV publishes them: one JSON file per advisory in a zip."""
    target = tmp_path / "all.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for record in sorted(OSV_DIR.glob("*.json")):
            archive.write(record, record.name)
    return target


def scan_dir(root: Path, vuln_db: Path | None = None) -> ScanResult:
    """Scan a directory in process, with an optional vulnerability database."""
    settings = ScanSettings(vuln_db=str(vuln_db) if vuln_db else None)
    return scan(root, ScanOptions(settings=settings, workers=1))


def dep_findings(result: ScanResult, prefix: str = "BST-DEP") -> list[Finding]:
    """The findings of a rule family."""
    return [f for f in result.findings if f.rule_id.startswith(prefix)]


def ids(result: ScanResult, prefix: str = "BST-DEP") -> list[tuple[str, str, int | None]]:
    """(rule id, path, line) of a family's findings, in report order."""
    return [(f.rule_id, f.location.path, f.location.line) for f in dep_findings(result, prefix)]
