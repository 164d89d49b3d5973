"""Payloads inside containers: PyTorch zips and their quirks, legacy files, joblib, NumPy,
compression, tar, 7z, nested archives, polyglots and disguised extensions."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import pickle
import tarfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from bastion.core import Severity
from bastion.scan.engine import scan
from tests.conftest import inert_command
from tests.formats.pickle import asm
from tests.formats.ziptricks import Member, build_zip


def _payload(marker_dir: Path) -> bytes:
    return asm.call("os", "system", inert_command(marker_dir), protocol=2)


def _blocking_globals(path: Path) -> set[str]:
    result = scan(path)
    return {
        str(f.properties.get("global"))
        for f in result.findings
        if f.severity >= Severity.HIGH and "global" in f.properties
    }


def _torch_members(pkl: bytes, archive: str = "archive") -> list[Member]:
    return [
        Member(f"{archive}/data.pkl", pkl),
        Member(f"{archive}/byteorder", b"little"),
        Member(f"{archive}/data/0", b"\x00" * 64),
        Member(f"{archive}/version", b"3\n"),
    ]


def test_torch_zip_with_malicious_data_pkl(tmp_path: Path, marker_dir: Path) -> None:
    path = tmp_path / "model.pt"
    path.write_bytes(build_zip(_torch_members(_payload(marker_dir), "any_name")))
    result = scan(path)
    [finding] = [f for f in result.findings if f.rule_id == "BST-PKL-001"]
    assert finding.location.member == "any_name/data.pkl"
    assert finding.location.offset is not None


def test_real_torch_save_of_a_reduce_payload(tmp_path: Path, marker_dir: Path) -> None:
    torch = pytest.importorskip("torch")
    import os

    class Payload:
        def __reduce__(self) -> tuple[object, ...]:
            return (os.system, (inert_command(marker_dir),))

    torch.save({"w": torch.ones(2), "p": Payload()}, tmp_path / "m.pth")
    assert _blocking_globals(tmp_path / "m.pth") & {"posix.system", "os.system"}


def test_pickle_under_an_unexpected_member_name(tmp_path: Path, marker_dir: Path) -> None:
    members = _torch_members(pickle.dumps({"ok": 1}, protocol=2))
    members.append(Member("archive/data/1", _payload(marker_dir)))
    path = tmp_path / "model.pt"
    path.write_bytes(build_zip(members))
    assert "os.system" in _blocking_globals(path)


def test_corrupt_entry_before_data_pkl_does_not_hide_it(tmp_path: Path, marker_dir: Path) -> None:
    """ModelScan #354: a broken member placed first must not stop the scan."""
    members = [Member("archive/junk", b"x" * 100, crc=0xDEADBEEF, deflate=True)]
    members += _torch_members(_payload(marker_dir))
    path = tmp_path / "model.pt"
    path.write_bytes(build_zip(members))
    result = scan(path)
    assert any(f.properties.get("global") == "os.system" for f in result.findings)
    assert "BST-ARC-005" in {f.rule_id for f in result.findings}


def test_encryption_flag_bit_does_not_hide_plaintext(tmp_path: Path, marker_dir: Path) -> None:
    """Flag-bit tricks (ModelScan #263): the flag says encrypted, the data is plain."""
    members = _torch_members(_payload(marker_dir))
    members[0].flags = 0x1
    path = tmp_path / "model.pt"
    path.write_bytes(build_zip(members))
    assert "os.system" in _blocking_globals(path)


def test_local_and_central_names_differ(tmp_path: Path, marker_dir: Path) -> None:
    members = _torch_members(_payload(marker_dir))
    members[0].local_name = "archive/innocent.txt"
    path = tmp_path / "model.pt"
    path.write_bytes(build_zip(members))
    result = scan(path)
    assert "os.system" in _blocking_globals(path)
    assert any(f.rule_id == "BST-ARC-001" and "name mismatch" in f.message for f in result.findings)


def test_entry_hidden_from_the_central_directory(tmp_path: Path, marker_dir: Path) -> None:
    members = [Member("payload.pkl", _payload(marker_dir), in_central=False)]
    members += _torch_members(pickle.dumps({"ok": 1}, protocol=2))
    path = tmp_path / "model.pt"
    path.write_bytes(build_zip(members))
    result = scan(path)
    assert "os.system" in _blocking_globals(path)
    assert any("hidden entry" in f.message for f in result.findings)


def test_pickle_with_zip_appended_is_both(tmp_path: Path, marker_dir: Path) -> None:
    """A polyglot: PyTorch's legacy loader reads the pickle at the start, zip tools the archive."""
    benign_zip = build_zip(_torch_members(pickle.dumps({"ok": 1}, protocol=2)))
    path = tmp_path / "model.bin"
    path.write_bytes(_payload(marker_dir) + benign_zip)
    assert "os.system" in _blocking_globals(path)


def test_zip_member_path_traversal(tmp_path: Path) -> None:
    path = tmp_path / "bundle.zip"
    path.write_bytes(build_zip([Member("../../.bashrc", b"echo hi\n")]))
    result = scan(path)
    assert any(f.rule_id == "BST-ARC-002" for f in result.findings)


def test_torch_legacy_format_payload_in_main_pickle(tmp_path: Path, marker_dir: Path) -> None:
    magic = pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)
    version = pickle.dumps(1001, protocol=2)
    sys_info = pickle.dumps({"protocol_version": 1001, "little_endian": True}, protocol=2)
    keys = pickle.dumps(["0"], protocol=2)
    storage = (16).to_bytes(8, "little") + b"\x00" * 64
    path = tmp_path / "legacy.pt"
    path.write_bytes(magic + version + sys_info + _payload(marker_dir) + keys + storage)
    result = scan(path)
    assert any(f.properties.get("global") == "os.system" for f in result.findings)
    assert not any(f.rule_id == "BST-PKL-006" for f in result.findings)


def test_joblib_payload_after_inline_arrays(tmp_path: Path, marker_dir: Path) -> None:
    import joblib

    buffer = io.BytesIO()
    joblib.dump({"a": np.arange(50.0), "b": np.ones((4, 4))}, buffer)
    data = buffer.getvalue()
    assert data.endswith(b".")
    # Replace the final STOP with a payload call whose result is discarded, then STOP.
    payload = _payload(marker_dir)[2:-1]  # drop PROTO and STOP
    path = tmp_path / "model.joblib"
    path.write_bytes(data[:-1] + asm.POP + payload + asm.POP + asm.NONE + asm.STOP)
    assert "os.system" in _blocking_globals(path)


@pytest.mark.parametrize("kind", ["gzip", "bz2", "xz", "zlib"])
def test_compressed_pickles(tmp_path: Path, marker_dir: Path, kind: str) -> None:
    raw = _payload(marker_dir)
    compressors = {
        "gzip": gzip.compress,
        "bz2": bz2.compress,
        "xz": lzma.compress,
        "zlib": zlib.compress,
    }
    path = tmp_path / f"model.pkl.{'z' if kind == 'zlib' else kind}"
    path.write_bytes(compressors[kind](raw))
    assert "os.system" in _blocking_globals(path)


@pytest.mark.parametrize("kind", ["lz4", "zstd"])
def test_lz4_and_zstd_compressed_pickles(tmp_path: Path, marker_dir: Path, kind: str) -> None:
    """joblib writes lz4 frames; zstd wraps models on hubs: both are analyzed, not skipped."""
    raw = _payload(marker_dir)
    if kind == "lz4":
        import lz4.frame

        data, name = lz4.frame.compress(raw), "model.joblib"
    else:
        from backports import zstd

        data, name = zstd.compress(raw), "model.pkl.zst"
    (tmp_path / name).write_bytes(data)
    assert "os.system" in _blocking_globals(tmp_path / name)


def test_numpy_object_array_payload(tmp_path: Path, marker_dir: Path) -> None:
    header = "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    header = header + " " * (63 - (10 + len(header)) % 64) + "\n"
    npy = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode()
    npy += _payload(marker_dir)
    (tmp_path / "obj.npy").write_bytes(npy)
    result = scan(tmp_path / "obj.npy")
    assert {"BST-NPY-001", "BST-PKL-001"} <= {f.rule_id for f in result.findings}
    (tmp_path / "arrays.npz").write_bytes(build_zip([Member("obj.npy", npy, deflate=True)]))
    assert "os.system" in _blocking_globals(tmp_path / "arrays.npz")


def test_tar_and_nested_zip(tmp_path: Path, marker_dir: Path) -> None:
    inner = build_zip([Member("deep/model.pkl", _payload(marker_dir))])
    outer = build_zip([Member("inner.zip", inner, deflate=True)])
    tar_buffer = io.BytesIO()
    with tarfile.open(fileobj=tar_buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("bundle/outer.zip")
        info.size = len(outer)
        tar.addfile(info, io.BytesIO(outer))
    path = tmp_path / "bundle.tar.gz"
    path.write_bytes(tar_buffer.getvalue())
    result = scan(path)
    [finding] = [f for f in result.findings if f.rule_id == "BST-PKL-001"]
    assert finding.location.member is not None and "deep/model.pkl" in finding.location.member


def test_seven_zip(tmp_path: Path, marker_dir: Path) -> None:
    py7zr = pytest.importorskip("py7zr")
    path = tmp_path / "model.7z"
    with py7zr.SevenZipFile(path, "w") as archive:
        archive.writestr(_payload(marker_dir), "model.pkl")
    assert "os.system" in _blocking_globals(path)


def test_pickle_disguised_as_safetensors(tmp_path: Path, marker_dir: Path) -> None:
    path = tmp_path / "model.safetensors"
    path.write_bytes(_payload(marker_dir))
    result = scan(path)
    assert {"BST-SCN-002", "BST-PKL-001"} <= {f.rule_id for f in result.findings}


def test_unknown_binary_with_model_extension_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "weights.bin"
    path.write_bytes(bytes(range(256)) * 4)
    result = scan(path)
    assert "BST-SCN-001" in {f.rule_id for f in result.findings}
    assert result.skipped


def test_compressed_stream_is_read_lazily(tmp_path: Path) -> None:
    """200 MB of zeros behind gzip: detection reads the head only; the content is reported."""
    path = tmp_path / "zeros.pkl.gz"
    with gzip.open(path, "wb", compresslevel=9) as handle:
        chunk = b"\x00" * (1 << 20)
        for _ in range(200):
            handle.write(chunk)
    result = scan(path)
    assert any(s.reason.value == "unsupported" for s in result.skipped)


def test_zip_member_declaring_a_bomb_ratio(tmp_path: Path) -> None:
    path = tmp_path / "bomb.zip"
    member = Member("huge.bin", b"\x00" * 1024, deflate=True, declared_size=4_000_000_000)
    path.write_bytes(build_zip([member]))
    result = scan(path)
    assert any(f.rule_id == "BST-ARC-003" for f in result.findings)
    assert any(s.reason.value == "limit-reached" for s in result.skipped)


def test_symlink_out_of_root(tmp_path: Path) -> None:
    outside = tmp_path / "outside.pkl"
    outside.write_bytes(pickle.dumps(1))
    root = tmp_path / "root"
    root.mkdir()
    (root / "link.pkl").symlink_to(outside)
    result = scan(root)
    assert "BST-SCN-003" in {f.rule_id for f in result.findings}


def test_real_zipfile_module_archive_is_clean(tmp_path: Path) -> None:
    path = tmp_path / "data.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.pkl", pickle.dumps({"x": 1}))
        archive.writestr("notes.txt", "hello")
    result = scan(path)
    assert not result.findings
