"""Vulnerability data: exports from a folder, a file or a zip, bounds, `bastion db`, scans."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import ClassVar

import pytest
from typer.testing import CliRunner

from bastion.cli.app import app
from bastion.core import Severity
from bastion.scan.deps import vulndb, vulndb_update
from bastion.scan.deps.osv_export import ExportLimits, ReadStats, VulnDbError, iter_records
from bastion.scan.deps.vulndb import cache_root, open_database, resolve_database

from .conftest import OSV_DIR, dep_findings, ids, scan_dir

runner = CliRunner()

VULNERABLE = """\
torch==1.12.1
pillow==9.1.1
numpy==1.26.4
fastapi==0.136.3
pytorchh==0.0.1
transformers==4.37.0
"""


def _project(tmp_path: Path, text: str = VULNERABLE) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "requirements.txt").write_text(text)
    return root


class TestSources:
    def test_folder_file_and_zip_give_the_same_index(self, tmp_path: Path, osv_zip: Path) -> None:
        single = tmp_path / "records.json"
        single.write_text(json.dumps([json.loads(p.read_text()) for p in OSV_DIR.glob("*.json")]))
        api = tmp_path / "api.json"
        api.write_text(json.dumps({"vulns": [json.loads((OSV_DIR / "GHSA-47fc-vmwq-366v.json")
                                                        .read_text())]}))  # fmt: skip
        counts = {p.name: open_database(p).stats.advisories for p in (OSV_DIR, single, osv_zip)}
        assert set(counts.values()) == {14}
        assert open_database(api).stats.advisories == 1
        for source in (OSV_DIR, single, osv_zip):
            assert [a.id for a in open_database(source).advisories_for("torch")] == [
                "GHSA-47fc-vmwq-366v", "PYSEC-2022-43015"
            ]  # fmt: skip

    def test_raw_export_is_indexed_once_into_the_cache(
        self, osv_zip: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        open_database(osv_zip)
        derived = list((cache_root() / "derived").glob("*.json"))
        assert len(derived) == 1
        vulndb._LOADED.clear()

        def fail(*args: object, **kwargs: object) -> None:
            raise AssertionError("re-indexed although the derived index is there")

        with monkeypatch.context() as patch:
            patch.setattr(vulndb, "iter_records", fail)
            assert open_database(osv_zip).stats.advisories == 14  # from the derived index
        vulndb._LOADED.clear()
        osv_zip.write_bytes(b"PK\x05\x06" + b"\x00" * 18)  # replaced: a new key, not stale data
        with pytest.raises(VulnDbError, match="no OSV record"):
            open_database(osv_zip)

    def test_bad_records_are_counted_not_fatal(self, tmp_path: Path) -> None:
        folder = tmp_path / "export"
        folder.mkdir()
        (folder / "good.json").write_text((OSV_DIR / "GHSA-47fc-vmwq-366v.json").read_text())
        (folder / "broken.json").write_text("{not json")
        (folder / "deep.json").write_text("[" * 3000 + "]" * 3000)
        (folder / "list.json").write_text("[1, 2]")
        (folder / "huge.json").write_text(" " * 9000)
        stats = ReadStats()
        records = list(iter_records(folder, ExportLimits(max_record_bytes=8192), stats))
        assert [r["id"] for r in records] == ["GHSA-47fc-vmwq-366v"]
        assert stats.skipped == 4

    def test_zip_bounds(self, tmp_path: Path) -> None:
        archive = tmp_path / "bomb.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("bomb.json", b" " * (4 * 1024 * 1024))
            zf.writestr("ok.json", (OSV_DIR / "MAL-2023-2133.json").read_bytes())
            zf.writestr("notes.txt", b"ignored")
        stats = ReadStats()
        records = list(iter_records(archive, ExportLimits(), stats))
        assert [r["id"] for r in records] == ["MAL-2023-2133"]
        assert stats.skipped == 1 and "ratio" in stats.problems[0]
        with pytest.raises(VulnDbError, match="records"):
            list(iter_records(archive, ExportLimits(max_records=0)))

    def test_unusable_sources(self, tmp_path: Path) -> None:
        with pytest.raises(VulnDbError, match="no such file"):
            open_database(tmp_path / "missing.zip")
        text = tmp_path / "notes.json"
        text.write_text("just words")
        with pytest.raises(VulnDbError, match="no OSV record"):
            open_database(text)
        choice = resolve_database(str(tmp_path / "missing"))
        assert choice.database is None and choice.problem and choice.configured


class TestDbCommand:
    def test_update_from_file_then_status_then_scan(self, tmp_path: Path, osv_zip: Path) -> None:
        result = runner.invoke(app, ["db", "update", "--from", str(osv_zip)])
        assert result.exit_code == 0, result.output
        assert (cache_root() / "index.json").is_file()
        meta = json.loads((cache_root() / "metadata.json").read_text())
        assert meta["advisories"] == 14 and meta["newest"] == "2026-05-26T13:04:03Z"
        assert (cache_root() / "export.zip").is_file()
        status = runner.invoke(app, ["db", "status", "--json"])
        assert json.loads(status.output)["database"]["advisories"] == 14
        scanned = scan_dir(_project(tmp_path))  # no --vuln-db: the cache is used
        assert "BST-DEP-001" in {f.rule_id for f in scanned.findings}

    def test_update_from_folder_into_a_chosen_dir(self, tmp_path: Path) -> None:
        target = tmp_path / "ci-osv"
        result = runner.invoke(app, ["db", "update", "--from", str(OSV_DIR), "--dir", str(target)])
        assert result.exit_code == 0, result.output
        assert "14 PyPI advisories" in result.output
        assert not (cache_root() / "index.json").exists()
        assert open_database(target).stats.advisories == 14

    def test_status_without_data(self) -> None:
        result = runner.invoke(app, ["db", "status"])
        assert result.exit_code == 1 and "bastion db update" in result.output

    def test_offline_update_fails_clearly_and_keeps_old_data(
        self, monkeypatch: pytest.MonkeyPatch, osv_zip: Path
    ) -> None:
        assert runner.invoke(app, ["db", "update", "--from", str(osv_zip)]).exit_code == 0

        def offline(*args: object, **kwargs: object) -> None:
            raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

        monkeypatch.setattr(urllib.request, "urlopen", offline)
        result = runner.invoke(app, ["db", "update"])
        assert result.exit_code == 2
        assert "cannot download" in result.output and "--from FILE" in result.output
        assert open_database(cache_root()).stats.advisories == 14
        assert not list(cache_root().glob(".download.*"))

    def test_download_is_bounded_and_https_only(
        self, monkeypatch: pytest.MonkeyPatch, osv_zip: Path, tmp_path: Path
    ) -> None:
        payload = osv_zip.read_bytes()

        class Response(io.BytesIO):
            headers: ClassVar[dict[str, str]] = {"Content-Length": str(len(payload))}

        calls: list[str] = []

        def fake(request: urllib.request.Request, timeout: float) -> Response:
            calls.append(request.full_url)
            assert timeout > 0
            return Response(payload)

        monkeypatch.setattr(urllib.request, "urlopen", fake)
        result = vulndb_update.update_from_network(folder=tmp_path / "db")
        assert calls == [vulndb_update.OSV_PYPI_URL]
        assert result.stats.advisories == 14 and result.stats.source == calls[0]
        monkeypatch.setattr(vulndb_update, "MAX_DOWNLOAD_BYTES", 10)
        with pytest.raises(VulnDbError, match="over the download limit"):
            vulndb_update.update_from_network(folder=tmp_path / "db2")
        with pytest.raises(VulnDbError, match="https"):
            vulndb_update.download_export("http://example.org/all.zip", tmp_path / "x")


class TestScan:
    def test_findings_with_ids_fixes_and_date(self, tmp_path: Path, osv_zip: Path) -> None:
        result = scan_dir(_project(tmp_path), osv_zip)
        vulns = [f for f in dep_findings(result) if f.rule_id in ("BST-DEP-001", "BST-DEP-002")]
        found = {(f.location.line, f.rule_id, f.evidence) for f in vulns}
        assert found == {
            (1, "BST-DEP-001", "torch==1.12.1 CVE-2022-45907"),
            (2, "BST-DEP-001", "pillow==9.1.1 CVE-2022-45198"),
            (2, "BST-DEP-001", "pillow==9.1.1 PYSEC-2023-175"),
            (5, "BST-DEP-002", "pytorchh==0.0.1 MAL-2023-2133"),
            (6, "BST-DEP-001", "transformers==4.37.0 CVE-2024-3568"),
        }
        torch = next(f for f in vulns if f.location.line == 1)
        assert torch.severity is Severity.CRITICAL
        assert "GHSA-47fc-vmwq-366v" in torch.message and "PYSEC-2022-43015" in torch.message
        assert "Fixed in 1.13.1" in torch.message and "1.13.1" in torch.remediation
        assert torch.references.cwe[0] == "CWE-1395"
        assert "ML06:2023" in torch.references.owasp and "LLM03:2025" in torch.references.owasp
        transformers = next(f for f in vulns if f.location.line == 6)
        assert transformers.severity is Severity.LOW
        (note,) = result.notes
        assert "as of 2026-05-26" in note and note.startswith("requirements.txt: ")
        assert "BST-DEP-014" not in {f.rule_id for f in result.findings}

    def test_without_data_one_info_finding(self, tmp_path: Path) -> None:
        result = scan_dir(_project(tmp_path))
        (note,) = [f for f in result.findings if f.rule_id == "BST-DEP-013"]
        assert note.severity is Severity.INFO and "bastion db update" in note.message
        assert not [f for f in result.findings if f.rule_id == "BST-DEP-001"]
        assert not result.notes

    def test_broken_configured_database_is_a_skip(self, tmp_path: Path) -> None:
        bad = tmp_path / "bad.zip"
        bad.write_bytes(b"PK\x03\x04 not really")
        result = scan_dir(_project(tmp_path), bad)
        assert any("vulnerability data" in s.detail for s in result.skipped)
        assert [r for r, _, _ in ids(result) if r == "BST-DEP-013"] == ["BST-DEP-013"]

    def test_ranges_are_not_matched(self, tmp_path: Path) -> None:
        result = scan_dir(_project(tmp_path, "torch>=1.0,<1.13\npillow~=9.1\n"), OSV_DIR)
        rules = {r for r, _, _ in ids(result)}
        assert "BST-DEP-001" not in rules and "BST-DEP-003" in rules

    def test_constraint_pins_are_matched(self, tmp_path: Path) -> None:
        root = _project(tmp_path, "-c pins.txt\ntorch\n")
        (root / "pins.txt").write_text("torch==1.12.1\n")
        result = scan_dir(root, OSV_DIR)
        assert {(r, line) for r, _, line in ids(result)} == {("BST-DEP-001", 2)}
        assert len(result.notes) == 1

    def test_lockfile_transitive_entries(self, tmp_path: Path) -> None:
        root = tmp_path / "proj"
        root.mkdir()
        (root / "poetry.lock").write_text(
            '[[package]]\nname = "py"\nversion = "1.11.0"\n'
            'files = [{file = "py-1.11.0.tar.gz", hash = "sha256:aa"}]\n\n'
            '[[package]]\nname = "tensorflow-cpu"\nversion = "2.8.0"\n'
            'files = [{file = "tf.whl", hash = "sha256:bb"}]\n'
        )
        result = scan_dir(root, OSV_DIR)
        vulns = [f for f in result.findings if f.rule_id == "BST-DEP-001"]
        assert [(f.location.line, f.severity.label) for f in vulns] == [(1, "medium"),
                                                                       (6, "medium")]  # fmt: skip
        assert all("transitive" in f.message for f in vulns)
        assert "No fixed version" in vulns[0].message and "2.8.1" in vulns[1].message

    def test_cli_vuln_db_option(self, tmp_path: Path) -> None:
        root = _project(tmp_path)
        out = tmp_path / "report.json"
        result = runner.invoke(
            app, ["scan", str(root), "--vuln-db", str(OSV_DIR), "-f", "json", "-o", str(out), "-q"]
        )
        assert result.exit_code == 1, result.output  # critical findings fail the gate
        report = json.loads(out.read_text())
        assert "BST-DEP-002" in {f["rule_id"] for f in report["findings"]}
        missing = runner.invoke(app, ["scan", str(root), "--vuln-db", str(tmp_path / "nope")])
        assert missing.exit_code == 2 and "no such file" in missing.output

    def test_policy_vuln_db_is_relative_to_the_policy(self, tmp_path: Path) -> None:
        root = _project(tmp_path)
        (root / "bastion.toml").write_text('vuln_db = "../osv"\n')
        (tmp_path / "osv").mkdir()
        for record in OSV_DIR.glob("*.json"):
            (tmp_path / "osv" / record.name).write_bytes(record.read_bytes())
        out = tmp_path / "r.json"
        result = runner.invoke(app, ["scan", str(root), "-f", "json", "-o", str(out), "-q"])
        assert result.exit_code == 1, result.output
        notes = json.loads(out.read_text())["notes"]
        assert len(notes) == 1 and "checked against" in notes[0]
