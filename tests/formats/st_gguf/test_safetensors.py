"""safetensors: real files from both writers are clean; each corruption raises its rule."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from bastion.core import Severity
from bastion.scan.blob import BytesBlob
from bastion.scan.formats.safetensors import DTYPE_BITS, SafetensorsAnalyzer, parse_header
from tests.conftest import inert_command

from .helpers import analyze_bytes, rule_ids, safetensors_bytes, scan_bytes, tensor


def _clean(result: object) -> None:
    assert result.findings == (), [f.message for f in result.findings]  # type: ignore[attr-defined]
    assert result.skipped == ()  # type: ignore[attr-defined]


def test_numpy_writer_is_clean(tmp_path: Path) -> None:
    from safetensors.numpy import save_file

    arrays = {
        "f32": np.arange(12, dtype=np.float32).reshape(3, 4),
        "f16": np.ones((5,), np.float16),
        "f64": np.zeros((2, 2), np.float64),
        "i8": np.arange(7, dtype=np.int8),
        "u8": np.zeros((3, 1, 2), np.uint8),
        "i64": np.arange(3, dtype=np.int64),
        "bool": np.array([True, False]),
        "empty": np.zeros((0, 4), np.float32),
        "scalar": np.array(3.5, dtype=np.float32),
    }
    path = tmp_path / "model.safetensors"
    save_file(arrays, path, metadata={"format": "np", "note": "tiny"})
    from bastion.scan.engine import scan

    result = scan(path)
    _clean(result)
    assert [a.format for a in result.artifacts] == ["safetensors"]


@pytest.mark.slow
@pytest.mark.torch
def test_torch_writer_is_clean(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    tensors = {
        "bf16": torch.zeros(4, 3, dtype=torch.bfloat16),
        "f32": torch.randn(2, 5),
        "i32": torch.arange(6, dtype=torch.int32),
        "c64": torch.zeros(2, dtype=torch.complex64),
        "u16": torch.zeros(3, dtype=torch.uint16),
    }
    for name in ("float8_e4m3fn", "float8_e5m2", "float8_e8m0fnu", "float4_e2m1fn_x2"):
        if hasattr(torch, name):
            tensors[name] = torch.zeros(4, 6, dtype=torch.uint8).view(getattr(torch, name))
    path = tmp_path / "model.safetensors"
    save_file(tensors, path, metadata={"format": "pt"})
    from bastion.scan.engine import scan

    _clean(scan(path))


def test_every_known_dtype_is_accepted(tmp_path: Path) -> None:
    header: dict[str, object] = {}
    offset = 0
    for dtype, bits in sorted(DTYPE_BITS.items()):
        size = 8 * bits // 8  # eight elements fill whole bytes for every width
        header[f"t_{dtype}"] = tensor(dtype, [2, 4], offset, offset + size)
        offset += size
    result = scan_bytes(tmp_path, "all.safetensors", safetensors_bytes(header, bytes(offset)))
    _clean(result)


def test_header_only_is_read(tmp_path: Path) -> None:
    header = {"w": tensor("F32", [1024, 1024], 0, 4 << 20)}
    data = safetensors_bytes(header, bytes(4 << 20))
    reads: list[tuple[int, int]] = []

    class Recording(BytesBlob):
        def read_at(self, offset: int, length: int) -> bytes:
            reads.append((offset, length))
            return super().read_at(offset, length)

    from bastion.registry import default_registry
    from bastion.scan.interface import AnalysisContext, ScanSettings

    ctx = AnalysisContext("m.safetensors", default_registry(), ScanSettings())
    SafetensorsAnalyzer().analyze(Recording(data), ctx)
    assert ctx.sink.findings == []
    data_start = len(data) - (4 << 20)
    assert all(offset < data_start and offset + n <= data_start for offset, n in reads)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (struct.pack("<Q", 1 << 40) + b"{}", "exceeds"),
        (struct.pack("<Q", 200_000_000) + b"{" + b" " * 100, "maximum"),
        (struct.pack("<Q", 1) + b"{", "cannot hold"),
        (b"\x02\x00\x00", "8-byte"),
    ],
)
def test_bad_header_length(tmp_path: Path, data: bytes, why: str) -> None:
    result = scan_bytes(tmp_path, "model.safetensors", data)
    (finding,) = result.findings
    assert finding.rule_id == "BST-ST-001" and finding.severity is Severity.HIGH
    assert why in finding.message
    assert result.artifacts[0].format == "safetensors"


def test_header_bomb_is_not_read(tmp_path: Path) -> None:
    # Declares a 90 MB header in a 1 KB file: reported without allocating it.
    data = struct.pack("<Q", 90_000_000) + b"{" + b" " * 1000
    result = scan_bytes(tmp_path, "bomb.safetensors", data)
    assert rule_ids(result) == {"BST-ST-001"}


@pytest.mark.parametrize(
    "raw",
    [
        b'{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}',  # truncated JSON
        b'["not", "an", "object"]',
        b'{"w": {"dtype": "F32", "shape": [NaN], "data_offsets": [0, 4]}}',
        b'{"a": "\xff\xfe"}',
        b'{"w": {"shape": [' + b"9" * 60 + b"]}}",
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
def test_header_syntax(tmp_path: Path, raw: bytes) -> None:
    result = scan_bytes(tmp_path, "model.safetensors", safetensors_bytes(None, raw=raw))
    assert rule_ids(result) == {"BST-ST-002"}
    assert not result.skipped


def test_duplicate_keys(tmp_path: Path) -> None:
    entry = b'{"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}'
    raw = b'{"w": ' + entry + b', "w": ' + entry + b"}"
    result = scan_bytes(tmp_path, "model.safetensors", safetensors_bytes(None, bytes(4), raw=raw))
    assert rule_ids(result) == {"BST-ST-003"}


def test_metadata_must_map_strings(tmp_path: Path) -> None:
    header = {"__metadata__": {"format": "pt", "layers": 12, "cfg": {"a": 1}}}
    result = scan_bytes(tmp_path, "model.safetensors", safetensors_bytes(header))
    findings = [f for f in result.findings if f.rule_id == "BST-ST-004"]
    assert len(findings) == 2
    header = {"__metadata__": ["x"]}
    assert rule_ids(scan_bytes(tmp_path, "m.safetensors", safetensors_bytes(header))) == {
        "BST-ST-004"
    }


def test_oversized_metadata(tmp_path: Path) -> None:
    header = {"__metadata__": {"blob": "A" * (2 << 20)}}
    result = scan_bytes(tmp_path, "model.safetensors", safetensors_bytes(header))
    assert rule_ids(result) == {"BST-ST-005"}
    assert result.findings[0].severity is Severity.LOW


@pytest.mark.parametrize(
    "entry",
    [
        tensor("F128", [1], 0, 4),
        tensor("F32", [-1], 0, 4),
        tensor("F32", [True], 0, 4),
        tensor("F32", [1.0], 0, 4),
        tensor("F32", [1], 4, 0),
        {"dtype": "F32", "shape": [1], "data_offsets": [0]},
        {"dtype": "F32", "shape": [1]},
        "not an object",
    ],
)
def test_invalid_entries(tmp_path: Path, entry: object) -> None:
    result = scan_bytes(tmp_path, "model.safetensors", safetensors_bytes({"w": entry}, bytes(4)))
    assert "BST-ST-006" in rule_ids(result)


def test_size_must_match_shape(tmp_path: Path) -> None:
    header = {"w": tensor("F32", [2, 3], 0, 20)}
    result = scan_bytes(tmp_path, "model.safetensors", safetensors_bytes(header, bytes(20)))
    assert rule_ids(result) == {"BST-ST-007"}


def test_sub_byte_dtype_must_fill_bytes(tmp_path: Path) -> None:
    header = {"w": tensor("F4", [3], 0, 2)}
    result = scan_bytes(tmp_path, "model.safetensors", safetensors_bytes(header, bytes(2)))
    assert rule_ids(result) == {"BST-ST-007"}
    header = {"w": tensor("F6_E2M3", [4], 0, 3)}
    assert (
        rule_ids(scan_bytes(tmp_path, "m.safetensors", safetensors_bytes(header, bytes(3))))
        == set()
    )


def test_out_of_range(tmp_path: Path) -> None:
    header = {"w": tensor("F32", [4], 0, 16)}
    result = scan_bytes(tmp_path, "model.safetensors", safetensors_bytes(header, bytes(8)))
    assert "BST-ST-008" in rule_ids(result)
    assert all(f.severity is Severity.HIGH for f in result.findings if f.rule_id == "BST-ST-008")


def test_huge_allocation(tmp_path: Path) -> None:
    header = {"w": tensor("F32", [1 << 31, 1 << 31], 0, 4)}
    result = scan_bytes(tmp_path, "model.safetensors", safetensors_bytes(header, bytes(4)))
    assert rule_ids(result) == {"BST-ST-009"}


def test_overlapping_tensors(tmp_path: Path) -> None:
    header = {"a": tensor("F32", [4], 0, 16), "b": tensor("F32", [4], 8, 24)}
    result = scan_bytes(tmp_path, "model.safetensors", safetensors_bytes(header, bytes(24)))
    assert rule_ids(result) == {"BST-ST-010"}


def test_gap_between_tensors(tmp_path: Path) -> None:
    header = {"a": tensor("F32", [2], 0, 8), "b": tensor("F32", [2], 16, 24)}
    result = scan_bytes(tmp_path, "model.safetensors", safetensors_bytes(header, bytes(24)))
    assert rule_ids(result) == {"BST-ST-011"}


def test_trailing_data(tmp_path: Path) -> None:
    header = {"a": tensor("F32", [2], 0, 8)}
    result = scan_bytes(tmp_path, "model.safetensors", safetensors_bytes(header, bytes(8) + b"xyz"))
    assert rule_ids(result) == {"BST-ST-012"}


class _Payload:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return (os.system, (self.command,))


def test_pickle_hidden_after_the_tensors(marker_dir: Path, tmp_path: Path) -> None:
    payload = pickle.dumps(_Payload(inert_command(marker_dir)), protocol=4)
    header = {"a": tensor("F32", [2], 0, 8)}
    result = scan_bytes(
        tmp_path, "model.safetensors", safetensors_bytes(header, bytes(8) + payload)
    )
    ids = rule_ids(result)
    assert "BST-ST-012" in ids and "BST-PKL-001" in ids
    pkl = next(f for f in result.findings if f.rule_id == "BST-PKL-001")
    assert pkl.location.member == "trailing-data"
    assert "pickle" in next(f.message for f in result.findings if f.rule_id == "BST-ST-012")


def test_pickle_hidden_in_a_gap(marker_dir: Path, tmp_path: Path) -> None:
    payload = pickle.dumps(_Payload(inert_command(marker_dir)), protocol=2)
    n = len(payload)
    header = {"a": tensor("U8", [4], 0, 4), "b": tensor("U8", [4], 4 + n, 8 + n)}
    data = bytes(4) + payload + bytes(4)
    result = scan_bytes(tmp_path, "model.safetensors", safetensors_bytes(header, data))
    assert {"BST-ST-011", "BST-PKL-001"} <= rule_ids(result)


def test_many_broken_entries_are_capped() -> None:
    header = {f"t{i}": tensor("F32", [1], 0, 8) for i in range(200)}
    sink = analyze_bytes(safetensors_bytes(header, bytes(8)), "m.safetensors", "safetensors")
    assert len([f for f in sink.findings if f.rule_id == "BST-ST-007"]) == 25
    assert any("175 further BST-ST-007" in s.detail for s in sink.skipped)


def test_lfs_pointer_is_not_claimed(tmp_path: Path) -> None:
    pointer = b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n"
    result = scan_bytes(tmp_path, "model.safetensors", pointer)
    assert result.findings == ()
    assert [a.format for a in result.artifacts] == ["text"]


def test_parse_header_reports_entries() -> None:
    data = safetensors_bytes({"w": tensor("BF16", [2], 0, 4), "__metadata__": {"k": "v"}}, bytes(4))
    header = parse_header(BytesBlob(data), len(data))
    assert header.metadata == {"k": "v"}
    assert [(t.name, t.dtype, t.shape) for t in header.tensors] == [("w", "BF16", (2,))]
    assert header.problems == ()


def test_dtype_table_covers_the_writers() -> None:
    from safetensors import torch as st_torch

    written = set(getattr(st_torch, "_TYPES", {}))
    assert written <= set(DTYPE_BITS)


def test_inside_a_compressed_archive(marker_dir: Path, tmp_path: Path) -> None:
    import zipfile

    from safetensors.numpy import save

    from bastion.scan.engine import scan

    clean = save({"a": np.zeros((32, 32), np.float32)})
    payload = pickle.dumps(_Payload(inert_command(marker_dir)), protocol=4)
    path = tmp_path / "weights.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("clean.safetensors", clean)
        archive.writestr("evil.safetensors", clean + payload)
    result = scan(path)
    assert {(f.rule_id, f.location.member) for f in result.findings} == {
        ("BST-ST-012", "evil.safetensors"),
        ("BST-PKL-001", "evil.safetensors!trailing-data"),
    }
