"""GGUF: files written by the ``gguf`` package are clean; corruptions and templates are caught."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from bastion.core import Severity
from bastion.scan.blob import BytesBlob
from bastion.scan.formats.gguf_reader import GgufReader
from tests.conftest import inert_command

from .helpers import (
    ARRAY,
    STRING,
    UINT8,
    UINT32,
    GgufBuilder,
    analyze_bytes,
    crashes,
    rule_ids,
    scan_bytes,
)
from .templates import BENIGN, CHATML, hostile

gguf = pytest.importorskip("gguf")


def _write(path: Path, templates: dict[str, str], *, big_endian: bool = False) -> Path:
    """A small but realistic GGUF: llama metadata, a vocabulary, quantized and float tensors."""
    endian = gguf.GGUFEndian.BIG if big_endian else gguf.GGUFEndian.LITTLE
    w = gguf.GGUFWriter(path, "llama", endianess=endian)
    w.add_name("tiny-test")
    w.add_context_length(2048)
    w.add_embedding_length(64)
    w.add_block_count(2)
    w.add_head_count(4)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(7)
    w.add_tokenizer_model("llama")
    tokens = ["<unk>", "<s>", "</s>", *[f"tok{i}" for i in range(500)]]
    w.add_token_list(tokens)
    w.add_token_scores([0.0] * len(tokens))
    w.add_token_types([1] * len(tokens))
    w.add_token_merges(["t o", "to k"])
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_add_bos_token(True)
    w.add_array("test.nested.ok", [1, 2, 3])
    for name, text in templates.items():
        if name == "default":
            w.add_chat_template(text)
        else:
            w.add_string(f"tokenizer.chat_template.{name}", text)
    w.add_tensor("token_embd.weight", np.zeros((8, 64), np.float32))
    w.add_tensor("output_norm.weight", np.ones((64,), np.float16))
    q8 = np.zeros((4, 2 * 34), np.uint8)  # 4 rows of 64 Q8_0 values (2 blocks of 34 bytes)
    w.add_tensor("blk.0.attn_q.weight", q8, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


@pytest.mark.parametrize("name", sorted(BENIGN))
def test_benign_files_with_each_template_are_clean(tmp_path: Path, name: str) -> None:
    from bastion.scan.engine import scan

    result = scan(_write(tmp_path / "model.gguf", {"default": BENIGN[name]}))
    assert result.findings == (), [f.message for f in result.findings]
    assert result.skipped == ()
    assert {a.format for a in result.artifacts} == {"gguf", "chat-template"}


def test_big_endian_file_is_clean(tmp_path: Path) -> None:
    from bastion.scan.engine import scan

    path = _write(tmp_path / "be.gguf", {"default": CHATML}, big_endian=True)
    result = scan(path)
    assert result.findings == () and result.skipped == ()
    parsed = GgufReader(BytesBlob(path.read_bytes()), path.stat().st_size, lambda: None).read()
    assert parsed.big_endian and parsed.complete and len(parsed.tensors) == 3


def test_reader_sees_what_the_writer_wrote(tmp_path: Path) -> None:
    path = _write(tmp_path / "m.gguf", {"default": CHATML, "tool_use": BENIGN["qwen2.5-tools"]})
    data = path.read_bytes()
    parsed = GgufReader(BytesBlob(data), len(data), lambda: None).read()
    assert parsed.complete and parsed.problems == ()
    assert parsed.version == 3 and parsed.alignment == 32
    assert [t.key for t in parsed.templates] == [
        "tokenizer.chat_template",
        "tokenizer.chat_template.tool_use",
    ]
    assert parsed.templates[0].text == CHATML
    sizes = {t.name: t.nbytes for t in parsed.tensors}
    assert sizes == {
        "token_embd.weight": 8 * 64 * 4,
        "output_norm.weight": 64 * 2,
        "blk.0.attn_q.weight": 4 * 2 * 34,
    }


def test_llama_drama_gguf(marker_dir: Path, tmp_path: Path) -> None:
    template, expected = hostile(inert_command(marker_dir))["llama-drama"]
    from bastion.scan.engine import scan

    result = scan(_write(tmp_path / "evil.gguf", {"default": template}))
    assert expected <= rule_ids(result)
    worst = max(f.severity for f in result.findings)
    assert worst is Severity.CRITICAL
    assert {f.location.member for f in result.findings} == {"tokenizer.chat_template"}
    assert all(f.properties["file_offset"] for f in result.findings)


def test_named_template_is_checked(marker_dir: Path, tmp_path: Path) -> None:
    template, _ = hostile(inert_command(marker_dir))["cycler-globals"]
    from bastion.scan.engine import scan

    result = scan(_write(tmp_path / "m.gguf", {"default": CHATML, "tool_use": template}))
    assert {f.location.member for f in result.findings} == {"tokenizer.chat_template.tool_use"}
    assert "BST-TPL-004" in rule_ids(result)


def _minimal(**kw: int) -> GgufBuilder:
    b = GgufBuilder(**kw)
    b.kv_str("general.architecture", "llama")
    return b


def _with_tensor(b: GgufBuilder, offset: int = 0, data: int = 16) -> GgufBuilder:
    b.tensor("w", [4], 0, offset)
    b.data = bytes(data)
    return b


def test_minimal_builder_file_is_clean(tmp_path: Path) -> None:
    result = scan_bytes(tmp_path, "m.gguf", _with_tensor(_minimal()).build())
    assert result.findings == () and result.skipped == ()


def test_version_1_layout_is_understood(tmp_path: Path) -> None:
    b = _with_tensor(_minimal(version=1))
    result = scan_bytes(tmp_path, "v1.gguf", b.build())
    assert result.findings == ()


@pytest.mark.parametrize("version", [0, 4, 0x7FFF])
def test_bad_version(tmp_path: Path, version: int) -> None:
    result = scan_bytes(
        tmp_path, "m.gguf", _minimal(version=3).build()[:4] + struct.pack("<I", version) + bytes(16)
    )
    assert rule_ids(result) == {"BST-GGUF-001"}


def test_huge_counts(tmp_path: Path) -> None:
    b = _minimal()
    b.tensor_count = 1 << 40
    result = scan_bytes(tmp_path, "m.gguf", b.build())
    (finding,) = result.findings
    assert finding.rule_id == "BST-GGUF-002" and finding.severity is Severity.HIGH
    b = _minimal()
    b.kv_count = 1 << 62
    assert rule_ids(scan_bytes(tmp_path, "m.gguf", b.build())) == {"BST-GGUF-002"}


def test_string_length_past_end_of_file(tmp_path: Path) -> None:
    b = GgufBuilder()
    b.kv_raw("general.name", STRING, b.string("x", length=1 << 50))
    result = scan_bytes(tmp_path, "m.gguf", b.build(pad=False))
    assert rule_ids(result) == {"BST-GGUF-003"}


def test_array_count_past_end_of_file(tmp_path: Path) -> None:
    b = GgufBuilder()
    b.kv_raw("tokenizer.ggml.tokens", ARRAY, struct.pack("<IQ", STRING, 1 << 60))
    assert rule_ids(scan_bytes(tmp_path, "m.gguf", b.build(pad=False))) == {"BST-GGUF-003"}


def test_nested_arrays(tmp_path: Path) -> None:
    b = _minimal()
    b.kv_raw("x.nested", ARRAY, b.nested_array(3))
    result = scan_bytes(tmp_path, "m.gguf", _with_tensor(b).build())
    assert rule_ids(result) == {"BST-GGUF-005"}
    assert result.findings[0].severity is Severity.MEDIUM


def test_deep_arrays_stop_the_reader(tmp_path: Path) -> None:
    b = _minimal()
    b.kv_raw("x.deep", ARRAY, b.nested_array(500))
    result = scan_bytes(tmp_path, "m.gguf", b.build())
    assert rule_ids(result) == {"BST-GGUF-005"}
    assert max(f.severity for f in result.findings) is Severity.HIGH
    assert not crashes(result)


def test_unknown_value_type(tmp_path: Path) -> None:
    b = _minimal()
    b.kv_raw("x.weird", 99, b"\x00" * 8)
    assert rule_ids(scan_bytes(tmp_path, "m.gguf", b.build())) == {"BST-GGUF-004"}


def test_bad_bool_and_non_utf8_key(tmp_path: Path) -> None:
    b = _minimal()
    b.kv_raw("x.flag", 7, b"\x05")
    b.kvs.append(b.string(b"\xff\xfe") + struct.pack("<I", UINT8) + b"\x00")
    result = scan_bytes(tmp_path, "m.gguf", _with_tensor(b).build())
    assert rule_ids(result) == {"BST-GGUF-004"}
    assert len(result.findings) == 2


def test_duplicate_keys_and_tensor_names(tmp_path: Path) -> None:
    b = _minimal()
    b.kv_str("general.architecture", "other")
    b.tensor("w", [4], 0, 0).tensor("w", [4], 0, 32)
    b.data = bytes(48)
    result = scan_bytes(tmp_path, "m.gguf", b.build())
    assert rule_ids(result) == {"BST-GGUF-006"}
    assert len(result.findings) == 2


def test_duplicate_template_keys_are_all_checked(marker_dir: Path, tmp_path: Path) -> None:
    template, _ = hostile(inert_command(marker_dir))["cycler-globals"]
    b = _minimal().kv_str("tokenizer.chat_template", CHATML)
    b.kv_str("tokenizer.chat_template", template)
    result = scan_bytes(tmp_path, "m.gguf", _with_tensor(b).build())
    assert {"BST-GGUF-006", "BST-TPL-001", "BST-TPL-004"} <= rule_ids(result)


@pytest.mark.parametrize(
    ("dims", "ggml_type", "severity"),
    [
        ([2, 2, 2, 2, 2], 0, Severity.HIGH),
        ([], 0, Severity.MEDIUM),
        ([4], 77, Severity.MEDIUM),
        ([4], 4, Severity.MEDIUM),
        ([33], 8, Severity.MEDIUM),
        ([1 << 63], 0, Severity.HIGH),
        ([1 << 40, 1 << 40], 0, Severity.HIGH),
    ],
)
def test_invalid_tensor_descriptors(
    tmp_path: Path, dims: list[int], ggml_type: int, severity: Severity
) -> None:
    b = _minimal().tensor("w", dims, ggml_type, 0)
    b.data = bytes(64)
    result = scan_bytes(tmp_path, "m.gguf", b.build())
    assert rule_ids(result) == {"BST-GGUF-007"}
    assert result.findings[0].severity is severity


def test_long_tensor_name(tmp_path: Path) -> None:
    b = _minimal().tensor("n" * 100, [4], 0, 0)
    b.data = bytes(16)
    assert rule_ids(scan_bytes(tmp_path, "m.gguf", b.build())) == {"BST-GGUF-007"}


def test_misaligned_offset(tmp_path: Path) -> None:
    b = _minimal().tensor("a", [4], 0, 0).tensor("b", [4], 0, 20)
    b.data = bytes(64)
    result = scan_bytes(tmp_path, "m.gguf", b.build())
    assert "BST-GGUF-008" in rule_ids(result)


def test_alignment_must_be_a_power_of_two(tmp_path: Path) -> None:
    b = _with_tensor(_minimal().kv_u32("general.alignment", 24))
    result = scan_bytes(tmp_path, "m.gguf", b.build())
    assert "BST-GGUF-008" in rule_ids(result)


def test_custom_alignment_is_honoured(tmp_path: Path) -> None:
    b = GgufBuilder(alignment=64).kv_u32("general.alignment", 64)
    b.tensor("a", [4], 0, 0).tensor("b", [4], 0, 64)
    b.data = bytes(80)
    assert scan_bytes(tmp_path, "m.gguf", b.build()).findings == ()


def test_data_outside_the_file(tmp_path: Path) -> None:
    b = _minimal().tensor("w", [1024], 0, 0)
    b.data = bytes(16)
    result = scan_bytes(tmp_path, "m.gguf", b.build())
    assert rule_ids(result) == {"BST-GGUF-009"}


def test_overlapping_tensors(tmp_path: Path) -> None:
    b = _minimal().tensor("a", [16], 0, 0).tensor("b", [16], 0, 32)
    b.data = bytes(96)
    assert rule_ids(scan_bytes(tmp_path, "m.gguf", b.build())) == {"BST-GGUF-010"}


def test_truncated_file(tmp_path: Path) -> None:
    data = _with_tensor(_minimal()).build()
    result = scan_bytes(tmp_path, "m.gguf", data[:40])
    assert rule_ids(result) & {"BST-GGUF-001", "BST-GGUF-002", "BST-GGUF-003"}
    assert not crashes(result)


class _Payload:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return (os.system, (self.command,))


def test_pickle_appended_after_the_tensors(marker_dir: Path, tmp_path: Path) -> None:
    payload = pickle.dumps(_Payload(inert_command(marker_dir)), protocol=4)
    b = _with_tensor(_minimal(), data=32)
    result = scan_bytes(tmp_path, "m.gguf", b.build() + payload)
    assert {"BST-GGUF-011", "BST-PKL-001"} <= rule_ids(result)


def test_alignment_padding_is_not_hidden_data(tmp_path: Path) -> None:
    b = _with_tensor(_minimal(), data=32)  # 16 bytes of tensor, 16 of padding
    assert scan_bytes(tmp_path, "m.gguf", b.build()).findings == ()


def test_template_that_is_not_utf8(tmp_path: Path) -> None:
    b = _minimal()
    b.kv_raw("tokenizer.chat_template", STRING, b.string(b"{{ x }}\xff"))
    result = scan_bytes(tmp_path, "m.gguf", _with_tensor(b).build())
    assert rule_ids(result) == {"BST-GGUF-004"}


def test_oversized_template(tmp_path: Path) -> None:
    b = _minimal().kv_str("tokenizer.chat_template", "x" * (2 << 20))
    result = scan_bytes(tmp_path, "m.gguf", _with_tensor(b).build())
    assert rule_ids(result) == {"BST-TPL-006"}


def test_reader_bounds_string_arrays() -> None:
    b = GgufBuilder()
    b.kv_raw("tokenizer.ggml.tokens", ARRAY, b.array(STRING, [b.string("t")] * 50_000))
    sink = analyze_bytes(b.build(), "m.gguf", "gguf")
    assert sink.findings == [] and sink.skipped == []


def test_general_alignment_of_wrong_type(tmp_path: Path) -> None:
    b = _minimal()
    b.kv_raw("general.alignment", UINT8, b"\x20")
    result = scan_bytes(tmp_path, "m.gguf", _with_tensor(b).build())
    assert rule_ids(result) == {"BST-GGUF-004"}
    assert UINT32 == 4
