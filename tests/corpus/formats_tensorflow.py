"""TensorFlow SavedModel samples, benign and malicious, hand-encoded (TensorFlow is not installed).

The benign graph is shaped like what ``tf.saved_model.save`` writes: a serving signature and
traced save/restore functions called through ``StatefulPartitionedCall``. The malicious ones add
file-reading, file-writing and Python-calling ops, in the main graph or deep in the function
library.
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


def generate(w: CorpusWriter) -> None:
    """Write the TensorFlow samples under ``tensorflow/``."""
    if w.wants("tensorflow"):
        _tensorflow(w)
