"""Red team: files whose first bytes make the scanner pick a format the loader does not use.

``torch.load`` tries a tar first and falls back to unpickling; ``pickle.load`` and
``numpy.load(allow_pickle=True)`` unpickle whatever they are given; a ``.npy`` header decides
by its ``descr`` whether a pickle follows. Each sample reaches the inert marker command.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from tests.conftest import inert_command
from tests.redteam import pk
from tests.redteam.harness import assert_blocked, scan_sample


def _evil_ops(marker_dir: Path) -> bytes:
    return pk.system_call(inert_command(marker_dir)) + pk.STOP


def test_pickle_with_a_tar_magic_at_257(tmp_path: Path, marker_dir: Path) -> None:
    """A string literal puts 'ustar' at offset 257: tarfile rejects the header checksum, so
    ``torch.load`` falls back to unpickling, while a magic-first detector sees only a tar."""
    filler = "A" * (257 - 7) + "ustar" + "A" * 40
    data = pk.proto(2) + pk.u(filler) + pk.POP + _evil_ops(marker_dir)
    assert data[257:262] == b"ustar"
    assert_blocked(scan_sample(tmp_path, "pytorch_model.bin", data), "BST-PKL-001")


def test_pickle_in_an_hdf5_user_block(tmp_path: Path, marker_dir: Path) -> None:
    """HDF5 allows a user block before its superblock; the block can be a pickle."""
    import h5py

    target = tmp_path / "plain.h5"
    with h5py.File(target, "w", userblock_size=512) as handle:
        handle.create_dataset("w", data=[1.0, 2.0])
    raw = bytearray(target.read_bytes())
    payload = pk.proto(2) + _evil_ops(marker_dir)
    raw[: len(payload)] = payload
    assert_blocked(scan_sample(tmp_path, "pytorch_model.bin", bytes(raw)), "BST-PKL-001")


def test_pickle_with_a_tflite_identifier(tmp_path: Path, marker_dir: Path) -> None:
    """Bytes 4–8 'TFL3' inside a bytes literal."""
    data = pk.proto(2) + pk.bb(b"TFL3") + pk.POP + _evil_ops(marker_dir)
    assert data[4:8] == b"TFL3"
    assert_blocked(scan_sample(tmp_path, "model.pkl", data), "BST-PKL-001")


def _npy(descr: object, body: bytes, *, pad: int = 0) -> bytes:
    header = repr({"descr": descr, "fortran_order": False, "shape": (1,)}).encode()
    header += b" " * pad
    header += b" " * (63 - (12 + len(header)) % 64) + b"\n"
    return b"\x93NUMPY\x02\x00" + struct.pack("<I", len(header)) + header + body


@pytest.mark.parametrize(
    "descr",
    ["object", "i4,O", "(2,)O", "int32,object", ["aO"], {"aO": 1}],
    ids=["object", "comma", "subarray", "names", "list-string", "dict"],
)
def test_npy_descr_that_numpy_reads_as_object(
    tmp_path: Path, marker_dir: Path, descr: object
) -> None:
    """``numpy.dtype`` accepts names, comma lists, subarrays, and iterates any container."""
    data = _npy(descr, pk.proto(2) + _evil_ops(marker_dir))
    assert_blocked(scan_sample(tmp_path, "array.npy", data), "BST-PKL-001")


def test_npy_header_larger_than_the_parser_bound(tmp_path: Path, marker_dir: Path) -> None:
    """``allow_pickle=True`` lifts NumPy's header size limit: pad it past 1 MiB."""
    data = _npy("|O", pk.proto(2) + _evil_ops(marker_dir), pad=2 << 20)
    assert_blocked(scan_sample(tmp_path, "array.npy", data), "BST-PKL-001")
