"""Red team: Keras configs, chat templates and ONNX external data, the way their loaders read them.

Keras parses ``config.json`` with ``json.loads(bytes)``, which accepts a UTF-8 BOM and UTF-16/32;
Jinja chat templates hide dunder names behind filters; ONNX names external files with paths
that leave the model directory. Payloads only name the marker directory; nothing is loaded.
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

from tests.redteam.harness import assert_blocked, scan_sample, scan_tree


def _lambda_config(marker_dir: Path) -> bytes:
    source = f"lambda x: __import__('os').system('touch {marker_dir / 'pwned'}') or x"
    module = compile(source, "<payload>", "eval")
    code = next(c for c in module.co_consts if isinstance(c, CodeType))
    lam = {
        "module": "keras.layers",
        "class_name": "Lambda",
        "config": {
            "name": "lambda",
            "function": {
                "class_name": "__lambda__",
                "config": {"code": base64.b64encode(marshal.dumps(code)).decode()},
            },
        },
        "registered_name": None,
    }
    model = {
        "module": "keras",
        "class_name": "Sequential",
        "config": {"name": "sequential", "layers": [lam]},
        "registered_name": None,
    }
    return json.dumps(model).encode()


def _keras(config: bytes) -> bytes:
    weights = io.BytesIO()
    with h5py.File(weights, "w") as handle:
        handle.create_group("layers")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("metadata.json", '{"keras_version": "3.9.0"}')
        archive.writestr("config.json", config)
        archive.writestr("model.weights.h5", weights.getvalue())
    return out.getvalue()


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: b"\xef\xbb\xbf" + text,
        lambda text: text.decode().encode("utf-16"),
        lambda text: text.decode().encode("utf-16-le"),
        lambda text: text.decode().encode("utf-32"),
    ],
    ids=["bom", "utf-16", "utf-16-le", "utf-32"],
)
def test_keras_config_in_an_encoding_json_loads_detects(
    tmp_path: Path, marker_dir: Path, encode: object
) -> None:
    """``keras.saving`` reads ``config.json`` as bytes; ``json.loads`` detects the encoding."""
    config = encode(_lambda_config(marker_dir))  # type: ignore[operator]
    assert json.loads(config)["class_name"] == "Sequential"
    assert_blocked(scan_sample(tmp_path, "model.keras", _keras(config)), "BST-KRS")


TEMPLATES = [
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ ''|attr(messages[0].content) }}",
    "{% for k in ['__glo' ~ 'bals__'] %}{{ cycler.__init__|attr(k) }}{% endfor %}",
    "{{ ''|attr('%c%c%s'|format(95,95,'class__')) }}",
    "{{ ''|attr(['_','_','cla','ss','_','_']|join) }}",
    "{{ ''|attr('__ssalc__'|reverse) }}",
    "{% set x = dict(__cla=1, ss__=2)|join %}{{ ''|attr(x) }}",
    "{{ ''|attr(('_' * 2) ~ 'class' ~ ('_' * 2)) }}",
    "{{ lipsum|attr('\\u005f\\u005fglobals\\u005f\\u005f') }}",
    "{{ ''|attr('__CLASS__'|lower) }}",
    "{% set u = '_' %}{% set n = u+u+'class'+u+u %}{{ ''[n] }}",
    "{{ ''|attr('%s%sclass%s%s'|format(*'____')) }}",
    "{% set s = 'abc__class__'[3:] %}{{ ''|attr(s) }}",
    "{{ ''|attr(range(2)|map('string')|join|replace('0','_')|replace('1','_') ~ 'class__') }}",
]


@pytest.mark.parametrize("template", TEMPLATES)
def test_chat_template_obfuscations(tmp_path: Path, template: str) -> None:
    """Dunder names built by filters, formats, loops and runtime data are still found."""
    folder = tmp_path / "tok"
    folder.mkdir()
    (folder / "tokenizer_config.json").write_text(json.dumps({"chat_template": template}))
    assert_blocked(scan_tree(folder), "BST-TPL")


@pytest.mark.parametrize(
    "location",
    [
        "../../../../etc/passwd",
        "weights/../../../etc/passwd",
        "..\\..\\windows\\win.ini",
        "/etc/passwd",
        "C:/Windows/win.ini",
        "\\\\server\\share\\w.bin",
        "file:///etc/passwd",
        "~/.ssh/id_rsa",
    ],
)
def test_onnx_external_data_outside_the_model(tmp_path: Path, location: str) -> None:
    """External data that leaves the model directory is read (or written) by the loader."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    tensor = helper.make_tensor("w", TensorProto.FLOAT, [1], [0.0])
    tensor.ClearField("float_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "w.bin"), ("location", location), ("length", "4")):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    node = helper.make_node("Identity", ["w"], ["y"])
    graph = helper.make_graph(
        [node], "g", [], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])], [tensor]
    )
    model = helper.make_model(graph)
    assert_blocked(scan_sample(tmp_path, "model.onnx", model.SerializeToString()), "BST-ONNX")
    assert onnx is not None
