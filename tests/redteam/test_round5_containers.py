"""Red team round 5: pickles whose first bytes do not show they are pickles.

``pickle.load`` (and ``torch.load``'s legacy path, ``joblib.load``) needs no ``PROTO`` opcode and
reads any opcode first, so a stream can open with a literal longer than any detection window, or
with thousands of harmless opcodes, before it imports anything. Every sample here reaches a call
of the inert marker command; none is ever loaded.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import inert_command
from tests.redteam import pk
from tests.redteam.harness import assert_blocked, assert_passes, scan_sample
from tests.redteam.zipforge import Member, simple


def _call(marker_dir: Path) -> bytes:
    """A protocol-0/1 pickle body: no PROTO, GLOBAL os.system called with the marker command."""
    command = pk.u(inert_command(marker_dir))
    return pk.glob("os", "system") + pk.MARK + command + pk.TUPLE + pk.REDUCE + pk.STOP


def _long_literal(marker_dir: Path) -> bytes:
    """A BINUNICODE longer than the 4 KiB head, popped, then the payload."""
    text = b"a" * 8000
    return b"X" + struct.pack("<I", len(text)) + text + pk.POP + _call(marker_dir)


def _huge_literal(marker_dir: Path) -> bytes:
    """A literal past the reader's inline size (skipped, not kept), then the payload."""
    data = b"\x00" * (2 << 20)
    return b"B" + struct.pack("<I", len(data)) + data + pk.POP + _call(marker_dir)


def _padding(marker_dir: Path) -> bytes:
    """More NONE/POP pairs than the head probe decodes, then the payload."""
    return (pk.NONE + pk.POP) * 300 + _call(marker_dir)


_STREAMS: dict[str, Callable[[Path], bytes]] = {
    "long-literal": _long_literal,
    "huge-literal": _huge_literal,
    "padding": _padding,
}


@pytest.mark.parametrize("shape", sorted(_STREAMS))
@pytest.mark.parametrize("name", ["model.pkl", "model.bin", "model", "weights.v2"])
def test_pickle_that_hides_its_start_from_the_probe(
    tmp_path: Path, marker_dir: Path, shape: str, name: str
) -> None:
    """``torch.load``/``pickle.load`` run these whatever the file is called."""
    data = _STREAMS[shape](marker_dir)
    assert_blocked(scan_sample(tmp_path, name, data), "BST-PKL-001")


@pytest.mark.parametrize("member", ["archive/DATA.PKL", "archive/data.pkl", "archive/extra/blob"])
def test_torch_zip_member_with_a_long_literal_first(
    tmp_path: Path, marker_dir: Path, member: str
) -> None:
    """miniz finds ``data.pkl`` case-insensitively (``archive/DATA.PKL``), so the member is
    loaded although its name does not end in ``.pkl``; any other member is analyzed too."""
    members = [Member(member, _long_literal(marker_dir)), Member("archive/version", b"3\n")]
    assert_blocked(scan_sample(tmp_path, "model.pt", simple(members)), "BST-PKL-001")


_WRAPPERS: dict[str, Callable[[bytes], bytes]] = {
    "zlib": zlib.compress,
    "gzip": gzip.compress,
    "bz2": bz2.compress,
    "xz": lzma.compress,
    "lzma-alone": lambda data: lzma.compress(data, format=lzma.FORMAT_ALONE),
}


@pytest.mark.parametrize("codec", sorted(_WRAPPERS))
def test_compressed_pickle_with_a_long_literal_first(
    tmp_path: Path, marker_dir: Path, codec: str
) -> None:
    """joblib detects its codecs by their first bytes, whatever the file is called; the first
    decompressed bytes are a literal that runs past any small inflate window."""
    data = _WRAPPERS[codec](_long_literal(marker_dir))
    assert_blocked(scan_sample(tmp_path, "model.sav", data), "BST-PKL-001")


def test_lzma_alone_with_a_known_size_and_a_long_literal(tmp_path: Path, marker_dir: Path) -> None:
    """An 'alone' header that declares the real size is recognized by its content only."""
    payload = _long_literal(marker_dir)
    data = bytearray(lzma.compress(payload, format=lzma.FORMAT_ALONE))
    data[5:13] = struct.pack("<Q", len(payload))
    assert_blocked(scan_sample(tmp_path, "model.bin", bytes(data)), "BST-PKL-001")


def test_binary_data_opening_like_a_long_literal_passes(tmp_path: Path) -> None:
    """A non-pickle binary whose first byte reads as a long literal is not a pickle."""
    data = b"X" + struct.pack("<I", 6000) + bytes(range(256)) * 40
    assert_passes(scan_sample(tmp_path, "blob.dat", data))
