"""The config walk on hand-made Keras-shaped configs (fast: no Keras needed)."""

from __future__ import annotations

import base64
import json
import marshal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.core import Severity
from bastion.scan.formats.keras_config import ConfigIssue, ConfigWalker, WalkBounds

from .helpers import by_rule, lambda_code, rule_ids, scan_path


def _model(*layers: dict[str, Any], name: str = "model") -> dict[str, Any]:
    return {
        "module": "keras",
        "class_name": "Sequential",
        "config": {"name": name, "trainable": True, "layers": list(layers)},
        "registered_name": None,
    }


def _layer(class_name: str, name: str, **config: Any) -> dict[str, Any]:
    return {
        "module": "keras.layers",
        "class_name": class_name,
        "config": {"name": name, "trainable": True, **config},
        "registered_name": None,
    }


def _fn(module: str, name: str) -> dict[str, Any]:
    return {"module": module, "class_name": "function", "config": name, "registered_name": name}


def _walk(config: object, **kwargs: Any) -> list[ConfigIssue]:
    return ConfigWalker(**kwargs).walk(config)


def _summary(issues: list[ConfigIssue]) -> list[tuple[str, str, Severity | None]]:
    return [(i.rule.id, i.path, i.severity) for i in issues]


def test_keras_builtin_activation_under_builtins_is_not_reported() -> None:
    config = _model(_layer("Dense", "dense", activation=_fn("builtins", "relu")))
    assert _walk(config) == []


def test_python_builtin_exec_is_critical() -> None:
    config = _model(_layer("Lambda", "l", function=_fn("builtins", "exec")))
    assert _summary(_walk(config)) == [("BST-KRS-002", "model/l", None)]


def test_harmless_python_builtin_is_still_high() -> None:
    config = _model(_layer("Lambda", "l", function=_fn("builtins", "print")))
    assert _summary(_walk(config)) == [("BST-KRS-002", "model/l", Severity.HIGH)]


def test_custom_class_is_medium_and_custom_lambda_function_high() -> None:
    custom = {"module": "my_project.layers", "class_name": "Gate", "config": {"name": "gate"}}
    config = _model(custom, _layer("Lambda", "l", function=_fn("my_project.ops", "swish")))
    assert _summary(_walk(config)) == [
        ("BST-KRS-004", "model/gate", None),
        ("BST-KRS-004", "model/l", Severity.HIGH),
    ]


def test_project_allow_patterns_silence_reviewed_modules() -> None:
    custom = {"module": "my_project.layers", "class_name": "Gate", "config": {"name": "gate"}}
    assert _walk(_model(custom), allow=("my_project.*",)) == []


def test_project_deny_patterns_make_a_module_dangerous() -> None:
    custom = {"module": "vendor.layers", "class_name": "Gate", "config": {"name": "gate"}}
    (issue,) = _walk(_model(custom), deny=("vendor.*",))
    assert issue.rule.id == "BST-KRS-002"


def test_keras_modeling_classes_are_not_reported() -> None:
    config = _model(
        _layer(
            "Dense",
            "d",
            kernel_initializer={"module": "keras.initializers", "class_name": "GlorotUniform"},
            activation=_fn("keras.activations", "gelu"),
        ),
        {"module": "keras_hub.layers", "class_name": "TransformerEncoder", "config": {}},
    )
    assert _walk(config) == []


@pytest.mark.parametrize(
    ("module", "name", "severity"),
    [
        ("keras.utils", "get_file", Severity.CRITICAL),
        ("keras.src.utils.file_utils", "get_file", Severity.CRITICAL),
        ("keras.config", "enable_unsafe_deserialization", Severity.CRITICAL),
        ("keras.src.backend.common.global_state", "set_global_attribute", Severity.CRITICAL),
        ("keras.models", "load_model", Severity.CRITICAL),
        ("keras.src.utils.python_utils", "func_load", Severity.CRITICAL),
        ("tf_keras.utils", "get_file", Severity.CRITICAL),
        ("keras.callbacks", "RemoteMonitor", Severity.HIGH),
        ("tensorflow.io", "write_file", Severity.HIGH),
        ("tensorflow", "py_function", Severity.CRITICAL),
    ],
)
def test_framework_gadgets(module: str, name: str, severity: Severity) -> None:
    config = _model(_layer("Lambda", "l", function=_fn(module, name)))
    (issue,) = _walk(config)
    assert (issue.rule.id, issue.severity) == ("BST-KRS-003", severity)


def test_tf_op_lambda_writing_files() -> None:
    layer = {
        "class_name": "TFOpLambda",
        "config": {"name": "tf.io.write_file", "trainable": True, "function": "io.write_file"},
    }
    (issue,) = _walk(_model(layer))
    assert issue.rule.id == "BST-KRS-003" and issue.detail == "tf.io.write_file"


def test_legacy_function_reference_in_lambda() -> None:
    layer = _layer("Lambda", "l", function="system", function_type="function", module="os")
    (issue,) = _walk(_model(layer))
    assert (issue.rule.id, issue.detail, issue.field) == (
        "BST-KRS-002",
        "os.system",
        "config.function",
    )


def test_lambda_output_shape_bytecode_is_found() -> None:
    code = base64.b64encode(marshal.dumps(lambda_code("lambda s: s"))).decode()
    layer = _layer(
        "Lambda",
        "l",
        function=_fn("keras.activations", "relu"),
        output_shape={"class_name": "__lambda__", "config": {"code": code}},
    )
    (issue,) = _walk(_model(layer))
    assert (issue.rule.id, issue.field) == ("BST-KRS-001", "config.output_shape")


def test_lambda_without_readable_code_is_still_reported() -> None:
    layer = _layer("Lambda", "l", function={"class_name": "__lambda__", "config": {"code": 7}})
    (issue,) = _walk(_model(layer))
    assert issue.rule.id == "BST-KRS-001" and "not a string" in issue.message


@pytest.mark.parametrize(
    ("vocabulary", "severity"),
    [
        ("/etc/passwd", Severity.HIGH),
        ("https://169.254.169.254/latest/meta-data", Severity.HIGH),
        ("../../secrets.txt", Severity.HIGH),
        ("vocab.txt", Severity.MEDIUM),
    ],
)
def test_vocabulary_paths(vocabulary: str, severity: Severity) -> None:
    (issue,) = _walk(_model(_layer("IntegerLookup", "lookup", vocabulary=vocabulary)))
    assert (issue.rule.id, issue.severity) == ("BST-KRS-005", severity)


def test_vocabulary_list_is_not_reported() -> None:
    assert _walk(_model(_layer("StringLookup", "lookup", vocabulary=["a", "b"]))) == []


def test_tfsm_layer_and_hub_layer_fetch_models() -> None:
    config = _model(
        _layer("TFSMLayer", "tfsm", filepath="/models/exported"),
        {
            "module": "tensorflow_hub.keras_layer",
            "class_name": "KerasLayer",
            "config": {"name": "hub", "trainable": False, "handle": "https://hub.invalid/m/1"},
        },
    )
    issues = _walk(config)
    assert [(i.rule.id, i.path) for i in issues] == [
        ("BST-KRS-005", "model/tfsm"),
        ("BST-KRS-005", "model/hub"),
    ]


def test_nesting_bound_is_reported_once() -> None:
    deep: dict[str, Any] = {"class_name": "X", "config": {}}
    node = deep
    for _ in range(50):
        child: dict[str, Any] = {"class_name": "X", "config": {}}
        node["config"]["inner"] = child
        node = child
    issues = _walk(deep, bounds=WalkBounds(max_depth=20))
    assert [i.rule.id for i in issues] == ["BST-KRS-007"]


def test_node_bound_stops_the_walk() -> None:
    config = _model(*[_layer("Dense", f"d{i}") for i in range(200)])
    issues = _walk(config, bounds=WalkBounds(max_nodes=50))
    assert [i.detail for i in issues] == ["too-many-objects"]


def test_shared_layer_reported_once_per_path() -> None:
    code = base64.b64encode(marshal.dumps(lambda_code("lambda x: x"))).decode()
    lam = _layer("Lambda", "l", function={"class_name": "__lambda__", "config": {"code": code}})
    issues = _walk(_model(lam, lam))
    assert len(issues) == 1


def test_torch_module_wrapper_payload_is_dispatched(tmp_path: Path, marker_dir: Path) -> None:
    import pickle

    class Payload:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            import os

            return (os.system, (f"touch {marker_dir / 'torch'}",))

    blob = base64.b64encode(pickle.dumps(Payload())).decode()
    config = _model(_layer("TorchModuleWrapper", "wrapped", module=blob))
    target = tmp_path / "model.json"
    target.write_text(json.dumps(config))
    result = scan_path(target)
    (wrapper,) = by_rule(result, "BST-KRS-005")
    assert wrapper.severity is Severity.MEDIUM
    (pickled,) = by_rule(result, "BST-PKL-001")
    assert pickled.location.member == "model/wrapped/config.module"
    assert rule_ids(result) == {"BST-KRS-005", "BST-PKL-001"}


_KEYS = st.sampled_from(
    [
        "class_name",
        "config",
        "module",
        "name",
        "layers",
        "layer",
        "function",
        "function_type",
        "output_shape_type",
        "vocabulary",
        "code",
        "trainable",
        "inbound_nodes",
        "arguments",
    ]
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(
        ["Lambda", "__lambda__", "function", "lambda", "os", "keras.utils", "get_file", "AA=="]
    ),
    st.text(max_size=12),
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_KEYS, inner, max_size=5)),
    max_leaves=40,
)


@settings(max_examples=150, deadline=None)
@given(_JSON)
def test_walker_never_raises_on_arbitrary_json(value: object) -> None:
    for issue in ConfigWalker().walk(value):
        assert issue.rule.id.startswith("BST-KRS-")
        assert isinstance(issue.message, str) and issue.message
