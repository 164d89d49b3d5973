"""ONNX samples, benign and malicious, built with ``onnx.helper``.

Models are serialized with ``SerializeToString`` (never ``onnx.save``, which would try to write
external data to the paths the malicious tensors name).
"""

from __future__ import annotations

from tests.corpus.sample import CorpusWriter


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
    """Write the ONNX samples under ``onnx/``."""
    if w.wants("onnx"):
        _onnx(w)
