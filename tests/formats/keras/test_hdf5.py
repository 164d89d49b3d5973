"""HDF5 containers built with h5py: cross-file references, bombs, plugins, user blocks, configs."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from bastion.core import Severity, SkipReason

from .helpers import by_rule, marker_payload_b64, rule_ids, scan_path


def _h5(path: Path, **kwargs: Any) -> h5py.File:
    return h5py.File(path, "w", **kwargs)


def test_plain_scientific_hdf5_is_clean(tmp_path: Path) -> None:
    target = tmp_path / "data.h5"
    with _h5(target) as f:
        f.create_dataset("x", data=np.arange(100.0), compression="gzip", shuffle=True)
        f.create_dataset("y", data=np.zeros((10, 10)), compression="lzf")
        group = f.create_group("nested/deeper")
        group.attrs["note"] = "not a model"
        group["alias"] = h5py.SoftLink("/x")
    result = scan_path(target)
    assert result.findings == ()
    assert result.skipped == ()


@pytest.mark.parametrize(
    ("filename", "severity"),
    [("/etc/passwd_model.h5", Severity.HIGH), ("../up.h5", Severity.HIGH), ("side.h5", None)],
)
def test_external_link(tmp_path: Path, filename: str, severity: Severity | None) -> None:
    target = tmp_path / "link.h5"
    with _h5(target) as f:
        f["weights"] = h5py.ExternalLink(filename, "/data")
    (finding,) = scan_path(target).findings
    assert finding.rule_id == "BST-KRS-008"
    assert finding.severity is (severity or Severity.MEDIUM)
    assert finding.properties["object"] == "/weights"
    assert filename in finding.message


def test_external_raw_storage_pointing_at_system_file(tmp_path: Path) -> None:
    target = tmp_path / "ext.h5"
    with _h5(target) as f:
        f.create_dataset("kernel", shape=(64,), dtype="u1", external=[("/etc/passwd", 0, 64)])
    (finding,) = scan_path(target).findings
    assert (finding.rule_id, finding.severity) == ("BST-KRS-009", Severity.HIGH)
    assert "/etc/passwd" in finding.message


def test_virtual_dataset_with_foreign_sources(tmp_path: Path) -> None:
    target = tmp_path / "vds.h5"
    layout = h5py.VirtualLayout(shape=(4,), dtype="f4")
    layout[:] = h5py.VirtualSource("/srv/other.h5", "data", shape=(4,))
    with _h5(target) as f:
        f.create_virtual_dataset("virtual", layout)
    (finding,) = scan_path(target).findings
    assert (finding.rule_id, finding.severity) == ("BST-KRS-010", Severity.HIGH)


def test_virtual_dataset_within_the_same_file_is_fine(tmp_path: Path) -> None:
    target = tmp_path / "self.h5"
    with _h5(target) as f:
        f.create_dataset("data", data=np.arange(4.0, dtype="f4"))
        layout = h5py.VirtualLayout(shape=(4,), dtype="f4")
        layout[:] = h5py.VirtualSource(".", "data", shape=(4,))
        f.create_virtual_dataset("virtual", layout)
    assert scan_path(target).findings == ()


def test_declared_size_bomb(tmp_path: Path) -> None:
    target = tmp_path / "bomb.h5"
    with _h5(target) as f:
        f.create_dataset("layers/dense/vars/0", shape=(1 << 36,), dtype="f8", chunks=(4096,))
    (finding,) = scan_path(target).findings
    assert finding.rule_id == "BST-KRS-011"
    assert finding.properties["declared_bytes"] == 8 << 36


def test_filter_plugin_needed(tmp_path: Path) -> None:
    target = tmp_path / "plugin.h5"
    with _h5(target) as f:
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_chunk((10,))
        dcpl.set_filter(32001, h5py.h5z.FLAG_OPTIONAL, (0,))
        space = h5py.h5s.create_simple((100,))
        h5py.h5d.create(f.id, b"packed", h5py.h5t.NATIVE_FLOAT, space, dcpl=dcpl)
    (finding,) = scan_path(target).findings
    assert (finding.rule_id, finding.severity) == ("BST-KRS-012", Severity.LOW)
    assert finding.properties["filter"] == 32001


def test_userblock_pickle_polyglot_is_analyzed(tmp_path: Path, marker_dir: Path) -> None:
    class Payload:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            import os

            return (os.system, (f"touch {marker_dir / 'userblock'}",))

    target = tmp_path / "poly.h5"
    with _h5(target, userblock_size=512) as f:
        f.create_dataset("x", data=np.arange(3))
    raw = bytearray(target.read_bytes())
    payload = pickle.dumps(Payload(), protocol=2)
    raw[: len(payload)] = payload
    target.write_bytes(bytes(raw))
    result = scan_path(target)
    assert {"BST-KRS-014", "BST-PKL-001"} <= rule_ids(result)
    (pickled,) = by_rule(result, "BST-PKL-001")
    assert pickled.location.member == "<userblock>"


def test_hard_link_cycles_terminate(tmp_path: Path) -> None:
    target = tmp_path / "cycle.h5"
    with _h5(target) as f:
        group = f.create_group("a")
        group["b"] = f["a"]
        group["root"] = f["/"]
        group.create_dataset("ext", shape=(4,), dtype="u1", external=[("side.bin", 0, 4)])
    (finding,) = scan_path(target).findings
    assert finding.rule_id == "BST-KRS-009"


def test_object_budget_is_a_skip(tmp_path: Path) -> None:
    from bastion.scan.engine import ScanOptions, scan
    from bastion.scan.interface import ScanSettings
    from bastion.scan.limits import Limits

    target = tmp_path / "many.h5"
    with _h5(target) as f:
        for i in range(30):
            f.create_group(f"g{i}")
    options = ScanOptions(settings=ScanSettings(limits=Limits(max_members=10)))
    result = scan(target, options)
    assert [s.reason for s in result.skipped] == [SkipReason.LIMIT]


def test_legacy_keras_lambda_in_hand_made_h5(tmp_path: Path, marker_dir: Path) -> None:
    config = {
        "class_name": "Sequential",
        "config": {
            "name": "sequential",
            "layers": [
                {
                    "class_name": "Lambda",
                    "config": {
                        "name": "lambda",
                        "trainable": True,
                        "function": [marker_payload_b64(marker_dir / "h5"), None, None],
                        "function_type": "lambda",
                        "module": "__main__",
                        "output_shape": None,
                        "output_shape_type": "raw",
                    },
                }
            ],
        },
    }
    target = tmp_path / "legacy.h5"
    with _h5(target) as f:
        f.attrs["model_config"] = json.dumps(config).encode()
        f.attrs["keras_version"] = b"2.2.4"
        f.attrs["backend"] = b"tensorflow"
        f.create_group("model_weights")
    (finding,) = scan_path(target).findings
    assert finding.rule_id == "BST-KRS-001"
    assert finding.properties["layer"] == "sequential/lambda"


def test_training_config_is_walked_too(tmp_path: Path) -> None:
    training = {"loss": {"module": "os", "class_name": "function", "config": "system"}}
    target = tmp_path / "train.h5"
    with _h5(target) as f:
        f.attrs["training_config"] = json.dumps(training)
    (finding,) = scan_path(target).findings
    assert (finding.rule_id, finding.properties["field"]) == ("BST-KRS-002", "loss")


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("{not json", "BST-KRS-006"),
        ("[1, 2]", "BST-KRS-006"),
        (np.arange(3), "BST-KRS-006"),
        (b"\xff\xfe", "BST-KRS-006"),
        ("[" * 100_000, "BST-KRS-007"),
    ],
)
def test_malformed_model_config_attribute(tmp_path: Path, value: object, rule: str) -> None:
    target = tmp_path / "bad.h5"
    with _h5(target) as f:
        f.attrs["model_config"] = value
    assert [f.rule_id for f in scan_path(target).findings] == [rule]


@pytest.mark.parametrize("cut", [8, 96, 400, 1500])
def test_truncated_hdf5_is_a_finding_not_a_crash(tmp_path: Path, cut: int) -> None:
    source = tmp_path / "full.h5"
    with _h5(source) as f:
        f.create_dataset("x", data=np.arange(500.0))
        f.create_group("g").create_dataset("y", data=np.arange(10))
    target = tmp_path / "cut.h5"
    target.write_bytes(source.read_bytes()[:cut])
    result = scan_path(target)
    assert all(s.reason is not SkipReason.ERROR for s in result.skipped), result.skipped
    assert result.findings or result.skipped


def test_garbage_after_signature(tmp_path: Path) -> None:
    target = tmp_path / "junk.h5"
    target.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 8)
    result = scan_path(target)
    assert rule_ids(result) == {"BST-KRS-013"}
    assert [s.reason for s in result.skipped] == [SkipReason.MALFORMED]
