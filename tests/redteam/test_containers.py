"""Red team: containers whose readers disagree, and compressed wrappers that end badly.

Every archive here is one a real loader opens (``torch.load`` through miniz, ``numpy.load``
and Keras through ``zipfile``, ``joblib.load``/``pickle.load`` through ``gzip``/``zlib``/``lzma``,
``torch.load`` on a legacy tar) and reaches a pickle that calls the inert marker command.
"""

from __future__ import annotations

import gzip
import io
import lzma
import pickle
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path

from tests.conftest import inert_command
from tests.redteam import pk
from tests.redteam.harness import assert_blocked, scan_sample
from tests.redteam.zipforge import Member, end_record, local_entries, zip64_end


def _evil(marker_dir: Path) -> bytes:
    return pk.wrap(pk.system_call(inert_command(marker_dir)))


def _archive(data_pkl: bytes) -> list[Member]:
    return [Member("archive/data.pkl", data_pkl), Member("archive/version", b"3\n")]


# -- zip directories ----------------------------------------------------------------------------


def test_directory_offset_read_literally_by_miniz(tmp_path: Path, marker_dir: Path) -> None:
    """Bytes before the archive: zipfile corrects offsets, miniz (torch.load) takes the
    directory offset literally, so a second archive in the prefix is what PyTorch loads."""
    hidden_body, hidden_dir, _ = local_entries(_archive(_evil(marker_dir)), 0)
    prefix = hidden_body + hidden_dir
    benign = _archive(pickle.dumps({"w": 1}, protocol=2))
    probe_body, _, _ = local_entries(benign, 0)
    delta = len(prefix) + len(probe_body) - len(hidden_body)
    body, directory, count = local_entries(benign, len(prefix) - delta)
    assert len(directory) == len(hidden_dir)
    data = prefix + body + directory + end_record(count, len(directory), len(hidden_body))
    assert_blocked(scan_sample(tmp_path, "model.pt", data), "BST-PKL")


def test_zip64_record_overrides_the_classic_end_record(tmp_path: Path, marker_dir: Path) -> None:
    """zipfile and miniz take the zip64 record's directory even when the classic record's
    fields are not saturated; the two can name different directories."""
    benign_body, benign_dir, benign_count = local_entries(
        _archive(pickle.dumps({"w": 1}, protocol=2)), 0
    )
    gap = b"\x00" * 16
    evil_body, evil_dir, evil_count = local_entries(
        _archive(_evil(marker_dir)), len(benign_body) + len(gap)
    )
    benign_cd = len(benign_body) + len(gap) + len(evil_body)
    evil_cd = benign_cd + len(benign_dir)
    record = evil_cd + len(evil_dir)
    data = (
        benign_body
        + gap
        + evil_body
        + benign_dir
        + evil_dir
        + zip64_end(evil_count, len(evil_dir), evil_cd, record)
        + end_record(benign_count, len(benign_dir), benign_cd)
    )
    assert_blocked(scan_sample(tmp_path, "model.pt", data), "BST-PKL")


def test_npz_member_corrupt_after_the_pickle(tmp_path: Path, marker_dir: Path) -> None:
    """``numpy.load`` streams a member through zipfile: the pickle runs before the bad
    deflate data after it is reached."""
    header = repr({"descr": "|O", "fortran_order": False, "shape": (1,)}).encode()
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    npy = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + _evil(marker_dir)
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    deflated = compressor.compress(npy + b"\x00" * (1 << 20)) + compressor.flush(zlib.Z_FULL_FLUSH)
    deflated += b"\xff" * 64  # not a valid deflate block
    name = b"arr.npy"
    local = struct.pack(
        "<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0x21, 0, len(deflated), len(npy) + (1 << 20),
        len(name), 0,
    ) + name + deflated  # fmt: skip
    central = struct.pack(
        "<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21, 0, len(deflated),
        len(npy) + (1 << 20), len(name), 0, 0, 0, 0, 0, 0,
    ) + name  # fmt: skip
    data = local + central + end_record(1, len(central), len(local))
    assert_blocked(scan_sample(tmp_path, "arrays.npz", data), "BST-PKL")


# -- compressed wrappers ------------------------------------------------------------------------


def test_gzip_with_trailing_garbage(tmp_path: Path, marker_dir: Path) -> None:
    """``pickle.load(gzip.open(f))`` returns at STOP, before gzip trips over what follows."""
    data = gzip.compress(_evil(marker_dir)) + b"not a gzip member" * 8
    assert_blocked(scan_sample(tmp_path, "model.pkl.gz", data), "BST-PKL-001")


def test_gzip_member_truncated_after_the_pickle(tmp_path: Path, marker_dir: Path) -> None:
    """A gzip member cut short after the pickle's STOP still runs the pickle."""
    whole = gzip.compress(_evil(marker_dir) + b"\x00" * 100_000)
    assert_blocked(scan_sample(tmp_path, "model.pkl.gz", whole[: len(whole) // 2]), "BST-PKL-001")


def test_joblib_zlib_under_any_name(tmp_path: Path, marker_dir: Path) -> None:
    """joblib detects zlib by its first byte whatever the file is called."""
    data = zlib.compress(_evil(marker_dir))
    assert_blocked(scan_sample(tmp_path, "model.sav", data), "BST-PKL-001")


def test_joblib_lzma_with_a_known_size(tmp_path: Path, marker_dir: Path) -> None:
    """joblib's lzma prefix is ``5d 00``; an 'alone' header may declare the real size."""
    payload = _evil(marker_dir)
    data = bytearray(lzma.compress(payload, format=lzma.FORMAT_ALONE))
    data[5:13] = struct.pack("<Q", len(payload))
    assert_blocked(scan_sample(tmp_path, "model.bin", bytes(data)), "BST-PKL-001")


def test_old_joblib_zfile_under_any_name(tmp_path: Path, marker_dir: Path) -> None:
    """joblib < 0.10 files start with ``ZF`` and a hex length; joblib.load reads any name."""
    payload = _evil(marker_dir)
    data = b"ZF" + f"{len(payload):#x}".ljust(19).encode() + zlib.compress(payload)
    assert_blocked(scan_sample(tmp_path, "model.dat", data), "BST-PKL-001")


# -- torch.load of a legacy tar ----------------------------------------------------------------


def _tar(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_torch_legacy_tar_second_storage_header(tmp_path: Path, marker_dir: Path) -> None:
    """``torch.load`` of a legacy tar reads ``storages`` as: count, then per storage a pickled
    header and raw bytes. The second header comes after raw data no probe recognizes."""
    storage_type = pk.glob("torch", "FloatStorage")
    first = pk.wrap(pk.tup(pk.u("0"), pk.u("cpu"), storage_type))
    second = pk.proto(2) + pk.system_call(inert_command(marker_dir)) + pk.POP
    second += pk.tup(pk.u("1"), pk.u("cpu"), storage_type) + pk.STOP
    raw = struct.pack("<q", 4) + b"\x00" * 16  # four float32 elements
    storages = pk.wrap(pk.i(2)) + first + raw + second + raw + pk.wrap(pk.EMPTY_LIST)
    members = {
        "sys_info": pk.wrap(pk.EMPTY_DICT),
        "storages": storages,
        "tensors": pk.wrap(pk.i(0)),
        "pickle": pk.wrap(pk.EMPTY_DICT),
    }
    assert_blocked(scan_sample(tmp_path, "model.pt", _tar(members)), "BST-PKL-001")


def test_torch_legacy_tar_tensor_headers(tmp_path: Path, marker_dir: Path) -> None:
    """The ``tensors`` member interleaves pickled headers with fixed-size binary records."""
    first = pk.wrap(pk.tup(pk.u("t0"), pk.u("0"), pk.glob("torch", "FloatTensor")))
    record = struct.pack("<ii", 1, 0) + struct.pack("<q", 4) + struct.pack("<q", 1)
    record += struct.pack("<q", 0)
    second = pk.proto(2) + pk.system_call(inert_command(marker_dir)) + pk.POP
    second += pk.tup(pk.u("t1"), pk.u("0"), pk.glob("torch", "FloatTensor")) + pk.STOP
    tensors = pk.wrap(pk.i(2)) + first + record + second + record
    members = {
        "sys_info": pk.wrap(pk.EMPTY_DICT),
        "storages": pk.wrap(pk.i(0)) + pk.wrap(pk.EMPTY_LIST),
        "tensors": tensors,
        "pickle": pk.wrap(pk.EMPTY_DICT),
    }
    assert_blocked(scan_sample(tmp_path, "model.pt", _tar(members)), "BST-PKL-001")


# -- nesting ------------------------------------------------------------------------------------


def test_archive_nested_past_the_depth_limit(tmp_path: Path, marker_dir: Path) -> None:
    """A payload nested deeper than bastion looks is not checked: that must not pass."""
    data = _evil(marker_dir)
    for level in range(12):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("model.pkl" if level == 0 else f"layer{level}.zip", data)
        data = buffer.getvalue()
    assert_blocked(scan_sample(tmp_path, "bundle.zip", data))
