"""Builders of TensorFlow SavedModel protobufs for tests (field numbers of TensorFlow's protos)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .protoenc import blob, msg, uint

DT_STRING = 7
DT_FLOAT = 1


def attr_s(value: str | bytes) -> bytes:
    """AttrValue with ``s``."""
    return blob(2, value)


def attr_type(dtype: int) -> bytes:
    """AttrValue with ``type``."""
    return uint(6, dtype)


def attr_list_s(values: Iterable[str]) -> bytes:
    """AttrValue with ``list.s``."""
    return blob(1, msg(*(blob(2, v) for v in values)))


def name_attr_list(name: str, attrs: Mapping[str, bytes] | None = None) -> bytes:
    """NameAttrList (function name and its attributes)."""
    entries = [blob(2, msg(blob(1, k), blob(2, v))) for k, v in (attrs or {}).items()]
    return msg(blob(1, name), *entries)


def attr_func(name: str, attrs: Mapping[str, bytes] | None = None) -> bytes:
    """AttrValue with ``func``."""
    return blob(10, name_attr_list(name, attrs))


def attr_list_func(names: Iterable[str]) -> bytes:
    """AttrValue with ``list.func``."""
    return blob(1, msg(*(blob(9, name_attr_list(n)) for n in names)))


def attr_string_tensor(*values: str | bytes) -> bytes:
    """AttrValue with a DT_STRING ``tensor``."""
    return blob(8, msg(uint(1, DT_STRING), blob(2, b""), *(blob(8, v) for v in values)))


def attr_float_tensor(raw: bytes) -> bytes:
    """AttrValue with a float tensor stored in ``tensor_content``."""
    return blob(8, msg(uint(1, DT_FLOAT), blob(4, raw)))


def node(
    name: str, op: str, inputs: Iterable[str] = (), attrs: Mapping[str, bytes] | None = None
) -> bytes:
    """NodeDef."""
    entries = [blob(5, msg(blob(1, k), blob(2, v))) for k, v in (attrs or {}).items()]
    return msg(blob(1, name), blob(2, op), *(blob(3, i) for i in inputs), *entries)


def const(name: str, *values: str | bytes) -> bytes:
    """A string Const node."""
    return node(
        name, "Const", (), {"dtype": attr_type(DT_STRING), "value": attr_string_tensor(*values)}
    )


def function(name: str, nodes: Iterable[bytes], args: Iterable[str] = ()) -> bytes:
    """FunctionDef: signature (OpDef name and input args) and body."""
    signature = msg(blob(1, name), *(blob(2, msg(blob(1, a), uint(3, DT_STRING))) for a in args))
    return msg(blob(1, signature), *(blob(3, n) for n in nodes))


def graph(nodes: Iterable[bytes], functions: Iterable[bytes] = ()) -> bytes:
    """GraphDef with a library."""
    funcs = list(functions)
    library = [blob(2, msg(*(blob(1, f) for f in funcs)))] if funcs else []
    return msg(*(blob(1, n) for n in nodes), *library, blob(4, msg(uint(1, 1087))))


def saver_def(filename: str, save: str, restore: str) -> bytes:
    """SaverDef."""
    return msg(blob(1, filename), blob(2, save), blob(3, restore), uint(7, 2))


def meta_graph(
    graph_def: bytes, tags: Iterable[str] = ("serve",), saver: bytes | None = None
) -> bytes:
    """MetaGraphDef."""
    info = msg(blob(1, ""), *(blob(4, t) for t in tags), blob(5, "2.21.0"))
    parts = [blob(1, info), blob(2, graph_def)]
    if saver is not None:
        parts.append(blob(3, saver))
    return msg(*parts)


def saved_model(*metas: bytes) -> bytes:
    """SavedModel."""
    return msg(uint(1, 1), *(blob(2, m) for m in metas))


def benign_tf2_model() -> bytes:
    """A Keras-style TF2 SavedModel: a dense layer, a signature and the traced saver."""
    call = function(
        "__inference_call_40",
        [
            node("MatMul/ReadVariableOp", "ReadVariableOp", ["matmul_readvariableop_resource"]),
            node("MatMul", "MatMul", ["inputs", "MatMul/ReadVariableOp:value:0"]),
            node("BiasAdd/ReadVariableOp", "ReadVariableOp", ["biasadd_readvariableop_resource"]),
            node("BiasAdd", "BiasAdd", ["MatMul:product:0", "BiasAdd/ReadVariableOp:value:0"]),
            node("Relu", "Relu", ["BiasAdd:output:0"]),
            node("Identity", "Identity", ["Relu:activations:0"]),
        ],
        ["inputs", "matmul_readvariableop_resource", "biasadd_readvariableop_resource"],
    )
    wrapper = function(
        "__inference_signature_wrapper_50",
        [
            node(
                "StatefulPartitionedCall",
                "StatefulPartitionedCall",
                ["x", "unknown", "unknown_0"],
                {"f": attr_func("__inference_call_40")},
            ),
            node("Identity", "Identity", ["StatefulPartitionedCall:output:0"]),
        ],
        ["x", "unknown", "unknown_0"],
    )
    save = function(
        "__inference__traced_save_80",
        [
            node("StaticRegexFullMatch", "StaticRegexFullMatch", ["file_prefix"]),
            const("Const", ".part"),
            const("Const_1", "_temp/part"),
            node(
                "Select",
                "Select",
                ["StaticRegexFullMatch:output:0", "Const:output:0", "Const_1:output:0"],
            ),
            node("StringJoin", "StringJoin", ["file_prefix", "Select:output:0"]),
            node("num_shards", "Const", [], {"dtype": attr_type(3)}),
            node("ShardedFilename/shard", "Const", [], {"dtype": attr_type(3)}),
            node(
                "ShardedFilename",
                "ShardedFilename",
                ["StringJoin:output:0", "ShardedFilename/shard:output:0", "num_shards:output:0"],
            ),
            const("SaveV2/tensor_names", "dense/kernel/.ATTRIBUTES/VARIABLE_VALUE"),
            const("SaveV2/shape_and_slices", ""),
            node(
                "SaveV2",
                "SaveV2",
                [
                    "ShardedFilename:filename:0",
                    "SaveV2/tensor_names:output:0",
                    "SaveV2/shape_and_slices:output:0",
                    "savev2_read_var",
                ],
            ),
            node("MergeV2Checkpoints/checkpoint_prefixes", "Pack", ["ShardedFilename:filename:0"]),
            node(
                "MergeV2Checkpoints",
                "MergeV2Checkpoints",
                ["MergeV2Checkpoints/checkpoint_prefixes:output:0", "file_prefix"],
            ),
            node("Identity", "Identity", ["file_prefix", "^MergeV2Checkpoints"]),
        ],
        ["file_prefix", "savev2_read_var"],
    )
    restore = function(
        "__inference__traced_restore_95",
        [
            const("RestoreV2/tensor_names", "dense/kernel/.ATTRIBUTES/VARIABLE_VALUE"),
            const("RestoreV2/shape_and_slices", ""),
            node(
                "RestoreV2",
                "RestoreV2",
                [
                    "file_prefix",
                    "RestoreV2/tensor_names:output:0",
                    "RestoreV2/shape_and_slices:output:0",
                ],
            ),
            node("Identity", "Identity", ["RestoreV2:tensors:0"]),
            node("AssignVariableOp", "AssignVariableOp", ["variable", "Identity:output:0"]),
            node("NoOp", "NoOp", ["^AssignVariableOp"]),
        ],
        ["file_prefix", "variable"],
    )
    main = graph(
        [
            node("x", "Placeholder", [], {"dtype": attr_type(DT_FLOAT)}),
            node("dense/kernel", "VarHandleOp", [], {"shared_name": attr_s("dense/kernel")}),
            node("dense/bias", "VarHandleOp", [], {"shared_name": attr_s("dense/bias")}),
            node(
                "StatefulPartitionedCall",
                "StatefulPartitionedCall",
                ["x", "dense/kernel", "dense/bias"],
                {"f": attr_func("__inference_signature_wrapper_50")},
            ),
            node("saver_filename", "Placeholder", [], {"dtype": attr_type(DT_STRING)}),
            node(
                "StatefulPartitionedCall_1",
                "StatefulPartitionedCall",
                ["saver_filename", "dense/kernel"],
                {"f": attr_func("__inference__traced_save_80")},
            ),
            node(
                "StatefulPartitionedCall_2",
                "StatefulPartitionedCall",
                ["saver_filename", "dense/kernel"],
                {"f": attr_func("__inference__traced_restore_95")},
            ),
            node("NoOp", "NoOp"),
        ],
        [call, wrapper, save, restore],
    )
    saver = saver_def(
        "saver_filename:0", "StatefulPartitionedCall_1:0", "StatefulPartitionedCall_2"
    )
    return saved_model(meta_graph(main, saver=saver))


def benign_tf1_graph() -> bytes:
    """A TF1 graph with the classic ``save/`` scope saver."""
    return graph(
        [
            node("w", "VariableV2", [], {"dtype": attr_type(DT_FLOAT)}),
            const("save/Const", "model"),
            const("save/SaveV2/tensor_names", "w"),
            const("save/SaveV2/shape_and_slices", ""),
            node(
                "save/SaveV2",
                "SaveV2",
                ["save/Const", "save/SaveV2/tensor_names", "save/SaveV2/shape_and_slices", "w"],
            ),
            node("save/control_dependency", "Identity", ["save/Const", "^save/SaveV2"]),
            node(
                "save/RestoreV2",
                "RestoreV2",
                ["save/Const", "save/SaveV2/tensor_names", "save/SaveV2/shape_and_slices"],
            ),
            node("save/Assign", "Assign", ["w", "save/RestoreV2"]),
            node("save/restore_all", "NoOp", ["^save/Assign"]),
        ]
    )


def tf1_saver() -> bytes:
    """The SaverDef of :func:`benign_tf1_graph`."""
    return saver_def("save/Const:0", "save/control_dependency:0", "save/restore_all")
