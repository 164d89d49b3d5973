"""Red team: make the scanner read a different stream than the loader executes.

joblib reads raw array bytes (or a nested pickle) where the scanner must skip them; the sizes
come from attributes and dtypes a hostile file controls. ``pickle.load`` on the same bytes
does not skip at all. A scan that stops early (limits) must still report what it saw.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from bastion.core import SkipReason
from bastion.scan.engine import ScanOptions, scan
from bastion.scan.interface import ScanSettings
from bastion.scan.limits import Limits
from tests.conftest import inert_command
from tests.redteam import joblibforge as jf
from tests.redteam import pk
from tests.redteam.harness import assert_blocked, describe, scan_sample


def _payload(marker_dir: Path) -> bytes:
    """``os.system('touch <marker>')``, its result dropped."""
    return pk.system_call(inert_command(marker_dir)) + pk.POP


# -- joblib's reading of inline arrays ---------------------------------------------------------


def test_alignment_attribute_none_means_no_padding(tmp_path: Path, marker_dir: Path) -> None:
    """joblib reads a padding byte only when the alignment attribute is not None."""
    payload = pk.POP + pk.system_call(inert_command(marker_dir)) + pk.STOP
    head = jf.wrapper(jf.attrs(jf.dtype("u1"), jf.shape(4), aligned=pk.NONE))
    data = bytes([len(payload) - 1]) + b"abc"  # joblib: 4 data bytes; a misreader: padding length
    sample = pk.proto(2) + head + data + payload + pk.STOP
    assert_blocked(scan_sample(tmp_path, "model.joblib", sample), "BST-PKL-001")


def test_state_elsize_of_a_fixed_size_dtype_is_ignored(tmp_path: Path, marker_dir: Path) -> None:
    """NumPy ignores the element size in the state of a fixed-size dtype (u1 stays 1 byte)."""
    payload = _payload(marker_dir) + pk.STOP
    head = jf.wrapper(jf.attrs(jf.dtype("u1", elsize=1 + len(payload)), jf.shape(1)))
    sample = pk.proto(2) + head + b"\x00" + payload + pk.STOP
    assert_blocked(scan_sample(tmp_path, "model.joblib", sample), "BST-PKL-001")


def test_dtype_flags_decide_hasobject(tmp_path: Path, marker_dir: Path) -> None:
    """``hasobject`` is the state's flags bit 0: a 'u1' dtype can make joblib read a pickle."""
    nested = pk.proto(2) + pk.system_call(inert_command(marker_dir)) + pk.STOP
    head = jf.wrapper(jf.attrs(jf.dtype("u1", flags=1), jf.shape(len(nested))))
    sample = pk.proto(2) + head + nested + pk.STOP
    assert_blocked(scan_sample(tmp_path, "model.joblib", sample), "BST-PKL-001")


def test_last_dtype_build_wins(tmp_path: Path, marker_dir: Path) -> None:
    """``dtype.__setstate__`` runs on every BUILD; the last state is the one joblib sees."""
    nested = pk.proto(2) + pk.system_call(inert_command(marker_dir)) + pk.STOP
    head = jf.wrapper(jf.attrs(jf.dtype("u1", builds=(1,)), jf.shape(len(nested))))
    sample = pk.proto(2) + head + nested + pk.STOP
    assert_blocked(scan_sample(tmp_path, "model.joblib", sample), "BST-PKL-001")


def test_named_dtype_is_sized_like_numpy(tmp_path: Path, marker_dir: Path) -> None:
    """``numpy.dtype('int8')`` is one byte, not four."""
    payload = _payload(marker_dir) + pk.STOP
    count = len(payload)
    head = jf.wrapper(jf.attrs(jf.dtype("int8"), jf.shape(count)))
    sample = pk.proto(2) + head + b"\x00" * count + payload + b"\x00" * (3 * count) + pk.STOP
    assert_blocked(scan_sample(tmp_path, "model.joblib", sample), "BST-PKL")


def test_shape_product_wraps_like_int64(tmp_path: Path, marker_dir: Path) -> None:
    """joblib multiplies int64 shape entries: 2**32 * 2**32 wraps to 0 bytes of data."""
    head = jf.wrapper(jf.attrs(jf.dtype("u1"), jf.shape(2**32, 2**32)))
    sample = pk.proto(2) + head + _payload(marker_dir) + pk.STOP
    assert_blocked(scan_sample(tmp_path, "model.joblib", sample), "BST-PKL-001")


def test_wrapper_built_by_its_constructor(tmp_path: Path, marker_dir: Path) -> None:
    """``NumpyArrayWrapper(subclass, shape, order, dtype)`` sets the attributes; BUILD adds none."""
    payload = _payload(marker_dir)
    ctor = pk.call(jf.WRAPPER, pk.glob("numpy", "ndarray"), jf.shape(3), pk.u("C"), jf.dtype("u1"))
    sample = pk.proto(2) + ctor + pk.EMPTY_DICT + pk.BUILD + b"\x00" + b"xyz" + payload + pk.STOP
    assert_blocked(scan_sample(tmp_path, "model.joblib", sample), "BST-PKL-001")


def test_wrapper_state_as_slot_tuple(tmp_path: Path, marker_dir: Path) -> None:
    """BUILD with ``(None, attrs)`` sets the same attributes through setattr."""
    payload = _payload(marker_dir)
    state = pk.tup(pk.NONE, pk.dict_of(jf.attrs(jf.dtype("u1"), jf.shape(2))))
    sample = pk.proto(2) + jf.WRAPPER + pk.EMPTY_TUPLE + pk.NEWOBJ + state + pk.BUILD
    sample += b"ab" + payload + pk.STOP
    assert_blocked(scan_sample(tmp_path, "model.joblib", sample), "BST-PKL-001")


def test_shape_computed_at_load_time(tmp_path: Path, marker_dir: Path) -> None:
    """A shape the scanner cannot size (``tuple([2])``) must not end the analysis quietly."""
    dims = pk.call(pk.glob("builtins", "tuple"), pk.EMPTY_LIST + pk.i(2) + pk.APPEND)
    head = jf.wrapper(jf.attrs(jf.dtype("u1"), dims))
    sample = pk.proto(2) + head + b"ab" + _payload(marker_dir) + pk.STOP
    assert_blocked(scan_sample(tmp_path, "model.joblib", sample), "BST-PKL")


def test_array_data_read_after_the_current_frame(tmp_path: Path, marker_dir: Path) -> None:
    """joblib's Python unpickler reads array bytes from the file *after* the current frame and
    keeps parsing opcodes from the frame: a frame that runs past the BUILD hides opcodes."""
    payload = _payload(marker_dir)
    head = jf.wrapper(jf.attrs(jf.dtype("u1"), jf.shape(len(payload))))
    body = head + payload
    sample = pk.proto(4) + pk.frame(body) + jf.noops(len(payload)) + pk.STOP
    assert_blocked(scan_sample(tmp_path, "model.joblib", sample), "BST-PKL-001")


def test_object_array_pickle_is_plain(tmp_path: Path, marker_dir: Path) -> None:
    """joblib reads an object array with a plain Unpickler: a wrapper inside it reads no data."""
    payload = _payload(marker_dir)
    inner_head = jf.wrapper(jf.attrs(jf.dtype("u1"), jf.shape(len(payload))))
    nested = pk.proto(2) + inner_head + payload + pk.STOP
    outer = jf.wrapper(jf.attrs(jf.dtype("O8", flags=63), jf.shape(1)))
    sample = pk.proto(2) + outer + nested + pk.STOP
    assert_blocked(scan_sample(tmp_path, "model.joblib", sample), "BST-PKL-001")


# -- the same bytes under pickle.load, numpy.load, torch.load ----------------------------------


def _hidden_behind_wrapper(marker_dir: Path) -> bytes:
    """A wrapper whose 'array data' is, for a plain unpickler, the payload's opcodes."""
    payload = _payload(marker_dir)
    return jf.wrapper(jf.attrs(jf.dtype("u1"), jf.shape(len(payload)))) + payload


def test_plain_pickle_load_runs_what_joblib_skips(tmp_path: Path, marker_dir: Path) -> None:
    """``pickle.load`` has no array hook: the 'data' after the BUILD are opcodes."""
    sample = pk.proto(2) + _hidden_behind_wrapper(marker_dir) + pk.STOP
    assert_blocked(scan_sample(tmp_path, "model.pkl", sample), "BST-PKL-001")


def test_numpy_object_array_pickle_is_plain(tmp_path: Path, marker_dir: Path) -> None:
    """``numpy.load(allow_pickle=True)`` unpickles an object array with ``pickle.load``."""
    header = repr({"descr": "|O", "fortran_order": False, "shape": (1,)}).encode()
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    npy = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header
    sample = npy + pk.proto(2) + _hidden_behind_wrapper(marker_dir) + pk.STOP
    assert_blocked(scan_sample(tmp_path, "array.npy", sample), "BST-PKL-001")


def test_torch_zip_pickle_is_plain(tmp_path: Path, marker_dir: Path) -> None:
    """``torch.load(weights_only=False)`` unpickles data.pkl with no joblib hook."""
    import zipfile

    archive = tmp_path / "model.pt"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("archive/data.pkl", pk.proto(2) + _hidden_behind_wrapper(marker_dir) + pk.STOP)
        zf.writestr("archive/version", "3\n")
    assert_blocked(scan_sample(tmp_path, "model.pt", archive.read_bytes()), "BST-PKL-001")


def test_second_pickle_behind_a_long_string(tmp_path: Path, marker_dir: Path) -> None:
    """Code that calls ``pickle.load`` twice runs the second pickle; its first opcode can be a
    string longer than any probe window."""
    first = pk.wrap(pk.NONE)
    second = pk.u("A" * 8192) + pk.POP + pk.system_call(inert_command(marker_dir)) + pk.STOP
    assert_blocked(scan_sample(tmp_path, "model.pkl", first + second), "BST-PKL-001")


# -- limits reached after the payload ----------------------------------------------------------


def _scan_limited(tmp_path: Path, data: bytes, **limits: int | float) -> object:
    target = tmp_path / "model.pkl"
    target.write_bytes(data)
    settings = ScanSettings(limits=Limits(**limits))  # type: ignore[arg-type]
    return scan(target, ScanOptions(settings=settings, workers=1))


@pytest.mark.parametrize(
    ("limits", "filler"),
    [
        ({"max_stack_items": 1000}, pk.NONE * 2000),
        ({"max_opcodes": 70_000}, b"N0" * 70_000),
        ({"max_stack_items": 1000}, b"N" + pk.put(1) + pk.POP + b"N\x94" * 1001),
    ],
    ids=["stack", "opcodes", "memo"],
)
def test_limit_after_payload_still_reports_it(
    tmp_path: Path, marker_dir: Path, limits: dict[str, int], filler: bytes
) -> None:
    """A bound reached after the payload ends the analysis, not the report."""
    data = pk.proto(4) + _payload(marker_dir) + filler + pk.STOP
    result = _scan_limited(tmp_path, data, **limits)
    assert_blocked(result, "BST-PKL-001")  # type: ignore[arg-type]
    assert any(s.reason is SkipReason.LIMIT for s in result.skipped), describe(result)  # type: ignore[attr-defined]


def test_deep_tuple_after_payload_still_reports_it(tmp_path: Path, marker_dir: Path) -> None:
    """Tuples nested 100,000 deep must not turn the scan into a recursion error."""
    deep = pk.NONE + pk.TUPLE1 * 100_000 + pk.u("x") + pk.STACK_GLOBAL
    data = pk.proto(4) + _payload(marker_dir) + deep + pk.STOP
    assert_blocked(scan_sample(tmp_path, "model.pkl", data), "BST-PKL-001")


def test_large_literal_before_the_payload(tmp_path: Path, marker_dir: Path) -> None:
    """Skipped literal bytes are not parsed: they must not use up the pickle size bound."""
    big = b"\x8e" + struct.pack("<Q", 3 << 20) + b"\x00" * (3 << 20)  # BINBYTES8
    data = pk.proto(4) + big + pk.POP + _payload(marker_dir) + pk.NONE + pk.STOP
    result = _scan_limited(tmp_path, data, max_pickle_bytes=1 << 20)
    assert_blocked(result, "BST-PKL-001")  # type: ignore[arg-type]
