"""What TensorFlow ops can do outside the tensor world: the knowledge behind ``BST-TF`` rules.

Each entry names an op whose kernel touches the host: runs Python, reads or writes files,
talks to the network, streams tensors to debug sinks, restores or writes checkpoints, stops
the process, or deserializes another graph. The list was built from TensorFlow's op
definitions (``tensorflow/core/ops/*.cc``: ``io_ops``, ``script_ops``, ``dataset_ops``,
``experimental_dataset_ops``, ``summary_ops``, ``debug_ops``, ``logging_ops``, ``rpc_ops``,
``data_service_ops``, ``lookup_ops``, ``checkpoint_ops``, ``candidate_sampling_ops``), the
TensorAbuse study of persistent TensorFlow APIs usable from a saved graph (ZJU-SEC, 2024) and
the ops other scanners flag. ``path_inputs`` / ``path_attrs`` say where the op takes the
file name or address, so a constant one can be shown and judged.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from bastion.core import Severity


class OpCategory(str, Enum):
    """What an op does to the host."""

    PYTHON = "runs Python code"
    FILE_READ = "reads files"
    FILE_WRITE = "writes files"
    NETWORK = "contacts other hosts"
    CHECKPOINT_WRITE = "writes checkpoint files"
    CHECKPOINT_READ = "reads checkpoint files"
    DEBUG = "streams tensors to a debug sink"
    PROCESS = "terminates the process"
    EMBEDDED_GRAPH = "deserializes and runs another graph"
    FILESYSTEM = "reconfigures TensorFlow's file systems"


@dataclass(frozen=True)
class OpRisk:
    """One op's effect on the host, and where its file name or address comes from."""

    category: OpCategory
    severity: Severity
    what: str
    path_inputs: tuple[int, ...] = ()
    path_attrs: tuple[str, ...] = ()
    #: Report only when a path attribute is set to a file or URL (debug and print sinks).
    needs_target: bool = False


_H, _M, _L = Severity.HIGH, Severity.MEDIUM, Severity.LOW


def _risks(
    names: str,
    category: OpCategory,
    severity: Severity,
    what: str,
    path_inputs: tuple[int, ...] = (),
    path_attrs: tuple[str, ...] = (),
    needs_target: bool = False,
) -> dict[str, OpRisk]:
    risk = OpRisk(category, severity, what, path_inputs, path_attrs, needs_target)
    return dict.fromkeys(names.split(), risk)


OP_RISKS: dict[str, OpRisk] = {
    **_risks(
        "PyFunc PyFuncStateless EagerPyFunc",
        OpCategory.PYTHON,
        _H,
        "calls a Python function registered in the loading process (tf.py_function / "
        "tf.numpy_function)",
        path_attrs=("token",),
    ),
    **_risks("ReadFile", OpCategory.FILE_READ, _H, "returns the bytes of a file", (0,)),
    **_risks("MatchingFiles", OpCategory.FILE_READ, _H, "lists files matching a pattern", (0,)),
    **_risks(
        "ImmutableConst",
        OpCategory.FILE_READ,
        _H,
        "memory-maps a file named in its attributes into a tensor",
        path_attrs=("memory_region_name",),
    ),
    **_risks(
        "TextLineDataset TFRecordDataset TFRecordDatasetV2 FixedLengthRecordDataset "
        "FixedLengthRecordDatasetV2 CSVDataset CSVDatasetV2 ExperimentalCSVDataset "
        "MatchingFilesDataset ExperimentalMatchingFilesDataset LMDBDataset "
        "ExperimentalLMDBDataset LoadDataset SnapshotDatasetReader SnapshotChunkDataset "
        "ListSnapshotChunksDataset",
        OpCategory.FILE_READ,
        _M,
        "reads records from arbitrary files into the dataset",
        (0,),
    ),
    **_risks(
        "SqlDataset ExperimentalSqlDataset",
        OpCategory.FILE_READ,
        _M,
        "opens an SQLite database file and runs a query",
        (1,),
    ),
    **_risks(
        "WholeFileReader WholeFileReaderV2 TextLineReader TextLineReaderV2 TFRecordReader "
        "TFRecordReaderV2 FixedLengthRecordReader FixedLengthRecordReaderV2 LMDBReader",
        OpCategory.FILE_READ,
        _M,
        "reads whole files or records from files named at run time",
    ),
    **_risks(
        "RecordInput",
        OpCategory.FILE_READ,
        _M,
        "reads records from files matching a pattern in its attributes",
        path_attrs=("file_pattern",),
    ),
    **_risks(
        "InitializeTableFromTextFile InitializeTableFromTextFileV2",
        OpCategory.FILE_READ,
        _L,
        "fills a lookup table from a text file (usually a vocabulary asset)",
        (1,),
    ),
    **_risks(
        "LoadAndRemapMatrix",
        OpCategory.FILE_READ,
        _L,
        "reads a matrix from a checkpoint file",
        (0,),
    ),
    **_risks(
        "GenerateVocabRemapping",
        OpCategory.FILE_READ,
        _L,
        "reads two vocabulary files",
        (0, 1),
    ),
    **_risks(
        "FixedUnigramCandidateSampler",
        OpCategory.FILE_READ,
        _M,
        "reads a vocabulary file named in its attributes",
        path_attrs=("vocab_file",),
        needs_target=True,
    ),
    **_risks(
        "DecodeProtoV2",
        OpCategory.FILE_READ,
        _M,
        "loads protobuf descriptors from a file named in its attributes",
        path_attrs=("descriptor_source",),
        needs_target=True,
    ),
    **_risks("WriteFile", OpCategory.FILE_WRITE, _H, "writes a tensor into a file", (0,)),
    **_risks(
        "SaveDataset SaveDatasetV2 DatasetToTFRecord ExperimentalDatasetToTFRecord "
        "SnapshotDataset SnapshotDatasetV2",
        OpCategory.FILE_WRITE,
        _M,
        "writes dataset elements to files",
        (1,),
    ),
    **_risks(
        "CacheDataset CacheDatasetV2",
        OpCategory.FILE_WRITE,
        _L,
        "caches dataset elements in files when given a file name",
        (1,),
    ),
    **_risks(
        "CreateSummaryFileWriter CreateSummaryDbWriter",
        OpCategory.FILE_WRITE,
        _M,
        "opens a summary writer on a directory or database",
        (1,),
    ),
    **_risks(
        "PrintV2",
        OpCategory.FILE_WRITE,
        _H,
        "appends tensors to a file named in its output_stream attribute",
        path_attrs=("output_stream",),
        needs_target=True,
    ),
    **_risks(
        "RpcCall RpcClient RpcServer RpcServerRegister RpcServerStart Rpc TryRpc",
        OpCategory.NETWORK,
        _H,
        "makes or serves remote procedure calls",
        (0,),
    ),
    **_risks(
        "DataServiceDataset DataServiceDatasetV2 DataServiceDatasetV3 DataServiceDatasetV4",
        OpCategory.NETWORK,
        _H,
        "reads dataset elements from a tf.data service at an address",
        (2,),
    ),
    **_risks(
        "RegisterDataset RegisterDatasetV2",
        OpCategory.NETWORK,
        _H,
        "sends a dataset definition to a tf.data service at an address",
        (1,),
    ),
    **_risks(
        "DistributedSave",
        OpCategory.NETWORK,
        _H,
        "has a tf.data service write a dataset to a directory",
        (1, 2),
    ),
    **_risks("RemoteCall", OpCategory.NETWORK, _M, "runs a function on a remote device", (0,)),
    **_risks(
        "Save SaveV2 SaveSlices MergeV2Checkpoints",
        OpCategory.CHECKPOINT_WRITE,
        _H,
        "writes (or merges and deletes) checkpoint files",
        (0,),
    ),
    **_risks(
        "Restore RestoreV2 RestoreSlice DTensorRestoreV2",
        OpCategory.CHECKPOINT_READ,
        _M,
        "reads tensors from checkpoint files",
        (0,),
    ),
    **_risks(
        "DebugIdentity DebugIdentityV2 DebugIdentityV3 DebugNanCount DebugNumericSummary "
        "DebugNumericSummaryV2",
        OpCategory.DEBUG,
        _H,
        "dumps tensors to the file:// or grpc:// URLs in its debug_urls attribute",
        path_attrs=("debug_urls",),
        needs_target=True,
    ),
    **_risks(
        "Copy CopyHost",
        OpCategory.DEBUG,
        _H,
        "runs debug ops that dump tensors to the URLs in its debug_ops_spec attribute",
        path_attrs=("debug_ops_spec",),
        needs_target=True,
    ),
    **_risks("Abort", OpCategory.PROCESS, _M, "terminates the serving process when it runs"),
    **_risks(
        "DatasetFromGraph",
        OpCategory.EMBEDDED_GRAPH,
        _M,
        "deserializes a GraphDef held in a tensor and runs it",
    ),
    **_risks(
        "FileSystemSetConfiguration",
        OpCategory.FILESYSTEM,
        _M,
        "changes file-system settings (credentials, endpoints) for the process",
        (0,),
    ),
}

#: URL schemes of TensorFlow file systems that stay in the process.
LOCAL_SCHEMES = ("ram://", "local://", "bytes://")

#: Default values of target attributes that mean "nowhere special".
HARMLESS_TARGETS = frozenset(
    {"", "stderr", "stdout", "log(info)", "log(warning)", "log(error)", "local://"}
)

#: Ops that write checkpoints or read them, tolerated inside the declared saver.
CHECKPOINT_CATEGORIES = frozenset({OpCategory.CHECKPOINT_WRITE, OpCategory.CHECKPOINT_READ})

#: Name fragments of the save and restore functions ``tf.saved_model.save`` traces.
SAVER_FUNCTION_MARKERS = ("_traced_save_", "_traced_restore_")
