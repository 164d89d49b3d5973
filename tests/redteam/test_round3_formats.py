"""Red team, round 3: non-pickle formats read past the scanner's bounds or argument handling.

Keras accepts configs of any size and nesting and ignores keys it does not know, so a Lambda
can sit deeper, later or further into the file than a bounded walk looks; tf-keras revives
every object-graph metadata entry of a SavedModel; Jinja filters take attribute names as
positional arguments and ``map`` runs any filter by name; ONNX Runtime opens an external-data
location of any length. Payloads only name the marker directory; nothing is loaded.
"""

from __future__ import annotations

import base64
import io
import json
import marshal
import zipfile
from pathlib import Path
from types import CodeType

import h5py
import pytest

from tests.corpus.protobuf_enc import field_bytes
from tests.redteam.harness import assert_blocked, assert_passes, scan_sample, scan_tree


def _code(marker_dir: Path) -> str:
    source = f"lambda x: __import__('os').system('touch {marker_dir / 'pwned'}') or x"
    code = next(c for c in compile(source, "<p>", "eval").co_consts if isinstance(c, CodeType))
    return base64.b64encode(marshal.dumps(code)).decode()


def _lambda(marker_dir: Path) -> dict[str, object]:
    function = {
        "class_name": "__lambda__",
        "config": {"code": _code(marker_dir), "defaults": None, "closure": None},
    }
    return {
        "module": "keras.layers",
        "class_name": "Lambda",
        "config": {"name": "lambda", "function": function},
        "registered_name": None,
    }


def _sequential(layers: list[object], name: str = "sequential") -> dict[str, object]:
    return {
        "module": "keras",
        "class_name": "Sequential",
        "config": {"name": name, "layers": layers},
        "registered_name": None,
    }


def _keras(config: dict[str, object] | bytes, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    text = config if isinstance(config, bytes) else json.dumps(config).encode()
    weights = io.BytesIO()
    with h5py.File(weights, "w") as handle:
        handle.create_group("layers")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        archive.writestr("metadata.json", '{"keras_version": "3.9.0"}')
        archive.writestr("config.json", text)
        archive.writestr("model.weights.h5", weights.getvalue())
    return out.getvalue()


# -- Keras: the config walk must not stop where Keras goes on -----------------------------------


def test_keras_lambda_in_deeply_nested_sequentials(tmp_path: Path, marker_dir: Path) -> None:
    """Forty Sequentials inside each other put the Lambda past a 100-level walk."""
    model: dict[str, object] = _lambda(marker_dir)
    for depth in range(40):
        model = _sequential([model], f"s{depth}")
    assert_blocked(scan_sample(tmp_path, "model.keras", _keras(model)), "BST-KRS-001")


def test_keras_lambda_in_deep_plain_arguments(tmp_path: Path, marker_dir: Path) -> None:
    """``Lambda.from_config`` deserializes ``arguments`` through any depth of plain dicts."""
    inner: dict[str, object] = {"class_name": "__lambda__", "config": {"value": _code(marker_dir)}}
    for _ in range(120):
        inner = {"a": inner}
    layer = {
        "module": "keras.layers",
        "class_name": "Lambda",
        "config": {
            "name": "l",
            "function": {
                "module": "keras.activations",
                "class_name": "function",
                "config": "relu",
                "registered_name": None,
            },
            "arguments": inner,
        },
    }
    assert_blocked(scan_sample(tmp_path, "model.keras", _keras(_sequential([layer]))), "BST-KRS")


def test_keras_lambda_after_millions_of_ignored_values(tmp_path: Path, marker_dir: Path) -> None:
    """Keras ignores unknown top-level keys; two million empty lists there exhaust a node bound."""
    model = {"pad": [[] for _ in range(2_000_100)], **_sequential([_lambda(marker_dir)])}
    assert_blocked(scan_sample(tmp_path, "model.keras", _keras(model)), "BST-KRS")


def test_keras_config_padded_past_the_parse_bound(tmp_path: Path, marker_dir: Path) -> None:
    """65 MiB of JSON whitespace after the config, stored (a deflated one trips the ratio bound)."""
    text = json.dumps(_sequential([_lambda(marker_dir)])).encode() + b" " * (65 << 20)
    assert json.loads(text)["class_name"] == "Sequential"
    data = _keras(text, zipfile.ZIP_STORED)
    assert_blocked(scan_sample(tmp_path, "model.keras", data), "BST-KRS")


def test_savedmodel_metadata_behind_ten_thousand_objects(tmp_path: Path, marker_dir: Path) -> None:
    """A TF 2.0–2.4 SavedModel (no keras_metadata.pb): tf-keras revives every user object."""

    def user_object(metadata: str) -> bytes:
        saved_user = field_bytes(1, "_tf_keras_layer") + field_bytes(3, metadata)
        return field_bytes(1, field_bytes(4, saved_user))

    padding = user_object('{"class_name": "Dense", "config": {"name": "d"}}') * 10_001
    evil = user_object(json.dumps({**_lambda(marker_dir), "name": "lambda"}))
    meta_graph = field_bytes(7, padding + evil)
    folder = tmp_path / "saved"
    folder.mkdir()
    (folder / "saved_model.pb").write_bytes(field_bytes(2, meta_graph))
    assert_blocked(scan_tree(folder), "BST-KRS")


# -- chat templates: attribute names as filter arguments ----------------------------------------

FILTER_TEMPLATES = [
    "{{ ''|attr('X__class__'|trim('X')) }}",
    "{{ ''|attr('x__globals__x'|trim(chars='x')) }}",
    "{{ ['']|map('attr', '__class__')|list }}",
    "{% set f = 'attr' %}{{ ['']|map(f, '__class__')|list }}",
    "{{ ['']|map('attr', messages[0].content)|list }}",
    "{{ ['']|groupby('__class__') }}",
    "{{ ['']|join('', '__class__') }}",
    "{{ ['']|sort(false, false, '__class__') }}",
    "{{ ['']|unique(false, '__class__')|list }}",
    "{{ ['']|max(false, '__class__') }}",
    "{{ ['']|sum('__class__') }}",
    "{{ ['']|map('groupby', '__class__')|list }}",
]


@pytest.mark.parametrize("template", FILTER_TEMPLATES)
def test_chat_template_attribute_through_filter_arguments(tmp_path: Path, template: str) -> None:
    """``trim(chars)`` changes the folded name; positional attribute paths and ``map`` by name
    reach the same ``getattr`` as ``|attr``."""
    folder = tmp_path / "tok"
    folder.mkdir()
    (folder / "tokenizer_config.json").write_text(json.dumps({"chat_template": template}))
    assert_blocked(scan_tree(folder), "BST-TPL")


# -- ONNX: the whole external-data location is what the loader opens ----------------------------


def test_onnx_external_location_escaping_after_a_long_prefix(tmp_path: Path) -> None:
    """A '..' placed past the first 8 KiB of the location is still part of the opened path."""
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    tensor = helper.make_tensor("w", TensorProto.FLOAT, [1], [0.0])
    tensor.ClearField("float_data")
    tensor.data_location = TensorProto.EXTERNAL
    location = "a/" * 5000 + "../" * 5010 + "etc/passwd"
    for key, value in (("location", location), ("length", "4")):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    graph = helper.make_graph(
        [helper.make_node("Identity", ["w"], ["y"])],
        "g",
        [],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
        [tensor],
    )
    data = helper.make_model(graph).SerializeToString()
    assert_blocked(scan_sample(tmp_path, "model.onnx", data), "BST-ONNX")


@pytest.mark.parametrize(
    ("name", "target"),
    [
        ("absolute-etc", "/etc/passwd"),
        ("absolute-proc", "/proc/self/environ"),
        ("relative-climb-to-etc", "../" * 40 + "etc/hostname"),
        ("k8s-service-account", "/var/run/secrets/kubernetes.io/serviceaccount/token"),
        ("home-ssh-key", "/home/someone/.ssh/id_ed25519"),
        ("cloud-credentials", "/home/someone/.aws/credentials"),
        ("endless-device", "/dev/zero"),
    ],
)
def test_external_weights_linked_to_system_or_credential_files(
    tmp_path: Path, name: str, target: str
) -> None:
    """ONNX Runtime, safetensors and PyTorch follow links: a weights file that links to a secret
    reads it into a tensor (served back by the model, or shipped with it)."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "weights.bin").symlink_to(target)
    found = assert_blocked(scan_tree(model), "BST-SCN-003")
    assert any("credential" in f.message for f in found), name


def test_links_into_a_blob_store_or_shared_memory_do_not_block(tmp_path: Path) -> None:
    """Hugging Face snapshots link to ``../../blobs``; people link big weights from other disks
    and from /dev/shm: reported (the target was not scanned) but not blocking."""
    blobs = tmp_path / "hub" / "models--acme--tiny" / "blobs"
    blobs.mkdir(parents=True)
    (blobs / ("a" * 64)).write_bytes(b"{}")
    snapshot = tmp_path / "hub" / "models--acme--tiny" / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").symlink_to(Path("..") / ".." / "blobs" / ("a" * 64))
    (snapshot / "shm.bin").symlink_to("/dev/shm/weights.bin")
    data = tmp_path / "datasets" / "big.bin"
    data.parent.mkdir()
    data.write_bytes(b"\0" * 16)
    (snapshot / "big.bin").symlink_to(data)
    result = scan_tree(snapshot)
    assert {f.rule_id for f in result.findings} == {"BST-SCN-003"}
    assert len(result.findings) == 3
    assert_passes(result)
