"""ONNX analysis through the scan engine, with models written by the real ``onnx`` package."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from bastion.core import Finding, ScanResult, Severity, SkipReason
from bastion.registry import default_registry
from bastion.scan.engine import scan


def _mlp(initializers: list[TensorProto] | None = None) -> onnx.ModelProto:
    w1 = numpy_helper.from_array(np.full((4, 8), 0.5, np.float32), "W1")
    b1 = numpy_helper.from_array(np.zeros(8, np.float32), "B1")
    w2 = numpy_helper.from_array(np.full((8, 3), 0.25, np.float32), "W2")
    nodes = [
        helper.make_node("MatMul", ["x", "W1"], ["h0"], name="fc1"),
        helper.make_node("Add", ["h0", "B1"], ["h1"], name="bias1"),
        helper.make_node("Relu", ["h1"], ["h2"], name="act1"),
        helper.make_node("Gemm", ["h2", "W2"], ["h3"], name="fc2", alpha=1.0),
        helper.make_node("Softmax", ["h3"], ["y"], name="softmax", axis=-1),
    ]
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
        [w1, b1, w2, *(initializers or [])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _external(tensor: TensorProto, location: str, **extra: str) -> TensorProto:
    """Point a tensor at external data, the way onnx.external_data_helper does."""
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    del tensor.external_data[:]
    for key, value in {"location": location, "offset": "0", "length": "64", **extra}.items():
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    return tensor


def _save(tmp_path: Path, model: onnx.ModelProto, name: str = "model.onnx") -> Path:
    model_dir = tmp_path / "onnx_model"
    model_dir.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(model_dir / name))
    return model_dir


def _onnx(result: ScanResult) -> list[Finding]:
    return [f for f in result.findings if f.rule_id.startswith("BST-ONNX")]


def _no_errors(result: ScanResult) -> None:
    assert not [s for s in result.skipped if s.reason is SkipReason.ERROR], result.skipped


def test_rules_are_registered_with_docs() -> None:
    rules = [r for r in default_registry().rules() if r.id.startswith("BST-ONNX-")]
    assert [r.id for r in rules] == [f"BST-ONNX-00{i}" for i in range(1, 7)]
    for rule in rules:
        assert rule.description and rule.remediation and rule.references.cwe


def test_benign_mlp_is_clean(tmp_path: Path) -> None:
    model = _mlp()
    onnx.checker.check_model(model)
    result = scan(_save(tmp_path, model))
    _no_errors(result)
    assert result.findings == ()
    assert result.skipped == ()
    assert [a.format for a in result.artifacts] == ["onnx"]


def test_external_data_inside_the_model_directory_is_not_flagged(tmp_path: Path) -> None:
    model_dir = tmp_path / "ext"
    model_dir.mkdir()
    onnx.save_model(
        _mlp(),
        str(model_dir / "model.onnx"),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="model.onnx.data",
        size_threshold=0,
    )
    stored = onnx.load(str(model_dir / "model.onnx"), load_external_data=False)
    assert stored.graph.initializer[0].data_location == TensorProto.EXTERNAL
    result = scan(model_dir)
    _no_errors(result)
    assert result.findings == ()
    assert result.skipped == ()
    formats = {Path(a.path).name: a.format for a in result.artifacts}
    assert formats == {"model.onnx": "onnx", "model.onnx.data": "tensor-data"}


@pytest.mark.parametrize(
    ("location", "why"),
    [
        ("../../etc/passwd", "'..' component"),
        ("/etc/passwd", "absolute path"),
        ("C:\\Users\\victim\\.ssh\\id_rsa", "drive letter"),
        ("weights\\..\\..\\secret.bin", "'..' component"),
        ("https://attacker.example/w.bin", "URL (https://)"),
        ("\\\\server\\share\\w.bin", "network share"),
    ],
)
def test_escaping_external_data_is_high(tmp_path: Path, location: str, why: str) -> None:
    bad = _external(numpy_helper.from_array(np.zeros(16, np.float32), "leak"), location)
    result = scan(_save(tmp_path, _mlp([bad])))
    _no_errors(result)
    (finding,) = _onnx(result)
    assert finding.rule_id == "BST-ONNX-001"
    assert finding.severity is Severity.HIGH
    assert "graph mlp / initializer / tensor leak" in finding.message
    assert why in finding.message
    assert finding.properties["location"] == location
    assert finding.location.offset is not None


def test_nested_if_subgraph_with_bad_initializer(tmp_path: Path) -> None:
    bad = _external(numpy_helper.from_array(np.zeros(4, np.float32), "stolen"), "/etc/shadow")
    then_graph = helper.make_graph(
        [helper.make_node("Identity", ["stolen"], ["t"], name="pass")],
        "then_body",
        [],
        [helper.make_tensor_value_info("t", TensorProto.FLOAT, [4])],
        [bad],
    )
    else_graph = helper.make_graph(
        [
            helper.make_node(
                "Constant",
                [],
                ["e"],
                name="zero",
                value=numpy_helper.from_array(np.zeros(4, np.float32)),
            )
        ],
        "else_body",
        [],
        [helper.make_tensor_value_info("e", TensorProto.FLOAT, [4])],
    )
    loop_body = helper.make_graph(
        [
            helper.make_node(
                "If",
                ["cond_in"],
                ["r"],
                name="inner_if",
                then_branch=then_graph,
                else_branch=else_graph,
            )
        ],
        "loop_body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
        ],
        [
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("r", TensorProto.FLOAT, [4]),
        ],
    )
    graph = helper.make_graph(
        [helper.make_node("Loop", ["n", "c"], ["out"], name="loop", body=loop_body)],
        "outer",
        [
            helper.make_tensor_value_info("n", TensorProto.INT64, []),
            helper.make_tensor_value_info("c", TensorProto.BOOL, []),
        ],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [None, 4])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    (finding,) = _onnx(scan(_save(tmp_path, model)))
    assert finding.rule_id == "BST-ONNX-001"
    assert (
        "graph outer / node loop (Loop) / attribute body / graph loop_body / node inner_if (If)"
        " / attribute then_branch / graph then_body / initializer / tensor stolen"
    ) in finding.message


def test_attribute_and_sparse_tensors_are_checked(tmp_path: Path) -> None:
    const_value = _external(
        numpy_helper.from_array(np.zeros(4, np.float32), "cv"), "/proc/self/environ"
    )
    values = _external(numpy_helper.from_array(np.zeros(2, np.float32), "sv"), "../x.bin")
    indices = numpy_helper.from_array(np.array([0, 3], np.int64), "si")
    sparse = helper.make_sparse_tensor(values, indices, [4])
    graph = helper.make_graph(
        [helper.make_node("Constant", [], ["c"], name="const", value=const_value)],
        "g",
        [],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, [4])],
        sparse_initializer=[sparse],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    messages = sorted(f.message for f in _onnx(scan(_save(tmp_path, model))))
    assert len(messages) == 2
    assert "node const (Constant) / attribute value / tensor cv" in messages[0]
    assert "sparse initializer / tensor sv" in messages[1]


def test_custom_domain_python_op_and_known_domains(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="std"),
        helper.make_node("FusedMatMul", ["a", "a"], ["b"], name="ms", domain="com.microsoft"),
        helper.make_node("Decrypt", ["b"], ["c"], name="custom1", domain="vendor.ops"),
        helper.make_node("Decrypt", ["c"], ["d"], name="custom2", domain="vendor.ops"),
        helper.make_node("PythonOp", ["d"], ["e"], name="py", domain="com.microsoft"),
        helper.make_node("LocalFn", ["e"], ["y"], name="call", domain="my.functions"),
    ]
    fn = helper.make_function(
        "my.functions",
        "LocalFn",
        ["i"],
        ["o"],
        [helper.make_node("Hidden", ["i"], ["o"], name="inside", domain="hidden.lib")],
        [helper.make_opsetid("", 17), helper.make_opsetid("hidden.lib", 1)],
    )
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 2])],
    )
    opsets = ["", "com.microsoft", "vendor.ops", "my.functions"]
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid(d, 1 if d else 17) for d in opsets],
        functions=[fn],
    )
    found = {(f.rule_id, f.properties.get("op")): f for f in _onnx(scan(_save(tmp_path, model)))}
    assert set(found) == {
        ("BST-ONNX-002", "Decrypt"),
        ("BST-ONNX-002", "Hidden"),
        ("BST-ONNX-003", "PythonOp"),
    }
    assert found[("BST-ONNX-002", "Decrypt")].severity is Severity.HIGH  # unknown vendor
    assert "2 node(s)" in found[("BST-ONNX-002", "Decrypt")].message
    assert (
        "function my.functions::LocalFn / node inside" in found[("BST-ONNX-002", "Hidden")].message
    )
    assert found[("BST-ONNX-003", "PythonOp")].severity is Severity.HIGH


def test_memory_address_marker(tmp_path: Path) -> None:
    bad = _external(
        numpy_helper.from_array(np.zeros(4, np.float32), "m"), "*/_ORT_MEM_ADDR_/*", offset="4096"
    )
    (finding,) = _onnx(scan(_save(tmp_path, _mlp([bad]))))
    assert finding.rule_id == "BST-ONNX-006" and finding.severity is Severity.HIGH
    assert "4096" in finding.message


def test_opset_inconsistencies(tmp_path: Path) -> None:
    model = _mlp()
    model.opset_import.append(helper.make_opsetid("", 13))
    model.graph.node.append(
        helper.make_node("Scaler", ["y"], ["z"], name="ml", domain="ai.onnx.ml")
    )
    found = {f.evidence: f for f in _onnx(scan(_save(tmp_path, model)))}
    assert found["model / duplicate opset ai.onnx"].severity is Severity.MEDIUM
    assert found["undeclared domain ai.onnx.ml"].severity is Severity.LOW
    assert len(found) == 2


@pytest.mark.parametrize("cut", [7, 40, -3])
def test_truncated_model_is_a_finding_and_a_skip(tmp_path: Path, cut: int) -> None:
    model_dir = _save(tmp_path, _mlp())
    path = model_dir / "model.onnx"
    path.write_bytes(path.read_bytes()[:cut])
    result = scan(model_dir)
    _no_errors(result)
    assert [f.rule_id for f in result.findings] == ["BST-ONNX-005"]
    assert [s.reason for s in result.skipped] == [SkipReason.MALFORMED]


def test_not_a_model_and_external_without_location(tmp_path: Path) -> None:
    model_dir = tmp_path / "m"
    model_dir.mkdir()
    (model_dir / "empty.onnx").write_bytes(b"\x08\x07")
    tensor = numpy_helper.from_array(np.zeros(2, np.float32), "t")
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    onnx.save_model(_mlp([tensor]), str(model_dir / "noloc.onnx"))
    result = scan(model_dir)
    _no_errors(result)
    found = {Path(f.location.path).name: f for f in result.findings}
    assert found["empty.onnx"].rule_id == "BST-ONNX-005"
    assert found["noloc.onnx"].rule_id == "BST-ONNX-005"
    assert found["noloc.onnx"].severity is Severity.LOW


def test_detected_by_content_without_extension(tmp_path: Path) -> None:
    model = _mlp()
    model.doc_string = "a model"
    result = scan(_save(tmp_path, model, "model_file"))
    assert [a.format for a in result.artifacts] == ["onnx"]


@settings(
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    deadline=None,
)
@given(st.integers(0, 100_000), st.integers(0, 255), st.integers(0, 100_000))
def test_fuzzed_models_never_crash_the_analyzer(
    tmp_path: Path, where: int, byte: int, cut: int
) -> None:
    data = bytearray(
        _mlp(
            [_external(numpy_helper.from_array(np.zeros(2, np.float32), "e"), "w.data")]
        ).SerializeToString()
    )
    data[where % len(data)] = byte
    model_dir = tmp_path / f"f{where}_{byte}_{cut}"
    model_dir.mkdir()
    (model_dir / "m.onnx").write_bytes(bytes(data[: max(1, len(data) - cut % 64)]))
    _no_errors(scan(model_dir))


def test_known_vendor_domains_are_medium(tmp_path: Path) -> None:
    """onnxruntime-extensions and ATen fallbacks are identifiable libraries: review, not block."""
    nodes = [
        helper.make_node("StringRegexReplace", ["x"], ["t"], name="ext", domain="ai.onnx.contrib"),
        helper.make_node("ATen", ["t"], ["y"], name="aten", domain="org.pytorch.aten"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    opsets = [
        helper.make_opsetid(d, 1 if d else 17) for d in ("", "ai.onnx.contrib", "org.pytorch.aten")
    ]
    model = helper.make_model(graph, opset_imports=opsets)
    found = [f for f in _onnx(scan(_save(tmp_path, model))) if f.rule_id == "BST-ONNX-002"]
    assert {f.severity for f in found} == {Severity.MEDIUM} and len(found) == 2
