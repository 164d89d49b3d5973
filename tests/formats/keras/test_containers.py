"""Keras containers made without Keras: hand-made ``.keras`` zips, JSON, ``keras_metadata.pb``."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import h5py
import pytest

from bastion.core import Severity, SkipReason
from bastion.scan.engine import ScanOptions, scan
from bastion.scan.formats.keras import KerasJsonAnalyzer
from bastion.scan.interface import ScanSettings
from bastion.scan.limits import Limits

from .helpers import by_rule, marker_payload_b64, rule_ids, scan_path


def _lambda_layer(code: str, name: str = "lambda") -> dict[str, Any]:
    return {
        "module": "keras.layers",
        "class_name": "Lambda",
        "config": {
            "name": name,
            "trainable": True,
            "function": {"class_name": "__lambda__", "config": {"code": code}},
        },
        "registered_name": None,
    }


def _sequential(*layers: dict[str, Any]) -> dict[str, Any]:
    return {
        "module": "keras",
        "class_name": "Sequential",
        "config": {"name": "sequential", "trainable": True, "layers": list(layers)},
        "registered_name": None,
    }


def _weights() -> bytes:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f.create_group("layers")
    return buffer.getvalue()


def _keras_zip(path: Path, config: bytes, metadata: bytes = b'{"keras_version": "3.9.0"}') -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", metadata)
        archive.writestr("config.json", config)
        archive.writestr("model.weights.h5", _weights())
    return path


def test_hand_made_keras_zip_is_clean(tmp_path: Path) -> None:
    target = _keras_zip(tmp_path / "m.keras", json.dumps(_sequential()).encode())
    result = scan_path(target)
    assert result.findings == () and result.skipped == ()
    assert {a.format for a in result.artifacts} >= {"keras", "keras-config", "hdf5"}


@pytest.mark.parametrize(
    ("config", "rule"),
    [
        (b'{"class_name": "Sequential", "config": {', "BST-KRS-006"),
        (b"[1, 2, 3]", "BST-KRS-006"),
        (b"\xff\xfe{}", "BST-KRS-006"),
        (b"[" * 200_000 + b"]" * 200_000, "BST-KRS-007"),
    ],
)
def test_broken_configs_are_findings(tmp_path: Path, config: bytes, rule: str) -> None:
    result = scan_path(_keras_zip(tmp_path / "m.keras", config))
    assert [f.rule_id for f in result.findings] == [rule]
    assert result.findings[0].location.member == "config.json"


def test_oversized_config_is_reported_and_skipped(tmp_path: Path) -> None:
    config = json.dumps(_sequential(*[_lambda_layer("AA==", f"l{i}") for i in range(50)]))
    target = _keras_zip(tmp_path / "big.keras", config.encode())
    options = ScanOptions(settings=ScanSettings(limits=Limits(max_json_bytes=1000)))
    result = scan(target, options)
    assert rule_ids(result) == {"BST-KRS-007"}
    assert [s.reason for s in result.skipped] == [SkipReason.LIMIT]


def test_bad_metadata_json_is_low(tmp_path: Path) -> None:
    target = _keras_zip(tmp_path / "m.keras", json.dumps(_sequential()).encode(), b"nope")
    (finding,) = scan_path(target).findings
    assert (finding.rule_id, finding.severity) == ("BST-KRS-006", Severity.LOW)


def test_truncated_hand_made_zip(tmp_path: Path) -> None:
    full = _keras_zip(tmp_path / "full.keras", json.dumps(_sequential()).encode()).read_bytes()
    for cut in range(40, len(full), max(1, len(full) // 25)):
        target = tmp_path / "cut.keras"
        target.write_bytes(full[:cut])
        result = scan_path(target)
        assert all(s.reason is not SkipReason.ERROR for s in result.skipped), (cut, result.skipped)


def test_config_json_elsewhere_in_the_zip_is_sniffed_by_content(
    tmp_path: Path, marker_dir: Path
) -> None:
    config = _sequential(_lambda_layer(marker_payload_b64(marker_dir / "zip")))
    target = tmp_path / "bundle.zip"
    with zipfile.ZipFile(target, "w") as archive:
        archive.writestr("export/model.json", json.dumps(config))
    (finding,) = scan_path(target).findings
    assert finding.rule_id == "BST-KRS-001"
    assert finding.location.member == "export/model.json"


@pytest.mark.parametrize(
    ("head", "claimed"),
    [
        (b'{"module": "keras", "class_name": "Sequential", "config": {"layers": []}}', True),
        (b'{"class_name": "Model", "config": {}, "keras_version": "2.4.0"}', True),
        (b'\xef\xbb\xbf  {"class_name": "Functional", "config": {"layers": []}}', True),
        (b'{"architectures": ["BertModel"], "hidden_size": 768}', False),
        (b'{"class_name": "Thing", "value": 1}', False),
        (b"[1, 2]", False),
    ],
)
def test_keras_json_sniffing(head: bytes, claimed: bool) -> None:
    assert (KerasJsonAnalyzer.sniff(head, "config.json") == "keras-json") is claimed


def test_non_keras_json_is_not_analyzed(tmp_path: Path) -> None:
    target = tmp_path / "config.json"
    target.write_text(json.dumps({"architectures": ["BertModel"], "module": "os"}))
    result = scan_path(target)
    assert result.findings == ()
    assert "keras-json" not in {a.format for a in result.artifacts}


# -- keras_metadata.pb ---------------------------------------------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _len_field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _node(node_id: int, path: str, identifier: str, metadata: object) -> bytes:
    body = _varint(2 << 3) + _varint(node_id)
    body += _len_field(3, path.encode()) + _len_field(4, identifier.encode())
    body += _len_field(5, json.dumps(metadata).encode())
    return _len_field(1, body)


def _legacy_lambda(code: str) -> dict[str, Any]:
    return {
        "class_name": "Lambda",
        "name": "lambda",
        "config": {
            "name": "lambda",
            "trainable": True,
            "function": [code, None, None],
            "function_type": "lambda",
            "module": "__main__",
        },
    }


def test_keras_metadata_pb_lambda_reported_once(tmp_path: Path, marker_dir: Path) -> None:
    code = marker_payload_b64(marker_dir / "savedmodel")
    layer = _legacy_lambda(code)
    model = {
        "class_name": "Sequential",
        "name": "sequential",
        "config": {"name": "sequential", "layers": [layer]},
        "keras_version": "2.12.0",
    }
    data = _node(0, "root", "_tf_keras_sequential", model)
    data += _node(1, "root.layer-0", "_tf_keras_layer", layer)
    target = tmp_path / "saved" / "keras_metadata.pb"
    target.parent.mkdir()
    target.write_bytes(data)
    result = scan_path(target)
    (finding,) = result.findings
    assert finding.rule_id == "BST-KRS-001"
    assert finding.properties["layer"] == "root/sequential/lambda"
    assert "tf-keras revives" in finding.message


def test_keras_metadata_pb_benign(tmp_path: Path) -> None:
    dense = {"class_name": "Dense", "config": {"name": "dense", "trainable": True, "units": 2}}
    target = tmp_path / "keras_metadata.pb"
    target.write_bytes(_node(0, "root", "_tf_keras_layer", dense))
    result = scan_path(target)
    assert result.findings == () and result.skipped == ()


@pytest.mark.parametrize(
    "data",
    [
        b"\x0a\xff\xff\xff\xff\x0f",
        _len_field(1, _len_field(5, b"{broken")),
        _varint(1 << 3) + _varint(5),
        b"\x0a\x02\x1a",
    ],
)
def test_keras_metadata_pb_malformed(tmp_path: Path, data: bytes) -> None:
    target = tmp_path / "keras_metadata.pb"
    target.write_bytes(data)
    result = scan_path(target)
    assert all(s.reason is not SkipReason.ERROR for s in result.skipped), result.skipped
    assert by_rule(result, "BST-KRS-006") or result.skipped


def test_deflated_weights_member_is_still_analyzed(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f["layers/dense/vars/0"] = h5py.ExternalLink("/etc/shadow.h5", "/x")
    target = tmp_path / "deflated.keras"
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", json.dumps(_sequential()))
        archive.writestr("metadata.json", "{}")
        archive.writestr("model.weights.h5", buffer.getvalue())
    result = scan_path(target)
    (finding,) = result.findings
    assert (finding.rule_id, finding.severity) == ("BST-KRS-008", Severity.HIGH)
    assert finding.location.member == "model.weights.h5"
    assert result.skipped == ()


def test_reordered_and_padded_keras_json_is_still_checked(tmp_path: Path, marker_dir: Path) -> None:
    """Keras accepts any key order: a file whose head hides the Keras keys is probed in full."""
    config = _sequential(_lambda_layer(marker_payload_b64(marker_dir / "padded")))
    padded = {"zz_padding": "x" * 8000, "config": config["config"], "class_name": "Sequential"}
    target = tmp_path / "model.json"
    target.write_text(json.dumps(padded))
    result = scan_path(target)
    (finding,) = result.findings
    assert finding.rule_id == "BST-KRS-001"
    assert finding.properties["layer"] == "sequential/lambda"


def test_other_json_is_probed_quietly(tmp_path: Path) -> None:
    target = tmp_path / "data.json"
    target.write_text(json.dumps({"class_name": 3, "config": "x", "module": "os"}))
    assert scan_path(target).findings == ()
    broken = tmp_path / "broken.json"
    broken.write_text('{"class_name": "Sequential", "config": ')
    assert scan_path(broken).findings == ()
