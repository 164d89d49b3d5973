"""The ``BST-TF`` rules: what a TensorFlow graph can do to the host that loads and runs it."""

from __future__ import annotations

from bastion.core import Confidence, References, Severity
from bastion.rules import MALFORMED_ARTIFACT, UNSAFE_ARTIFACT, Rule
from bastion.scan.formats.tf_ops import OpCategory

_TF_OWASP = ("ML06:2023", "LLM03:2025")
_SAVED_MODEL_DOCS = "https://www.tensorflow.org/guide/saved_model"

_FILE_READ_REFS = References(
    cwe=("CWE-73", "CWE-200"),
    owasp=_TF_OWASP,
    atlas=("AML.T0011.000", "AML.T0010.003", "AML.T0025"),
    nist=("MANAGE 3.2", "NISTAML.051"),
    urls=(_SAVED_MODEL_DOCS,),
)
_FILE_WRITE_REFS = References(
    cwe=("CWE-73", "CWE-22"),
    owasp=_TF_OWASP,
    atlas=("AML.T0011.000", "AML.T0010.003", "AML.T0018.002"),
    nist=("MANAGE 3.2", "NISTAML.051"),
    urls=(_SAVED_MODEL_DOCS,),
)

PYTHON_OP = Rule(
    "BST-TF-001",
    "TensorFlow graph calls Python functions",
    Severity.HIGH,
    "models",
    doc="""
    A node runs ``PyFunc``, ``PyFuncStateless`` or ``EagerPyFunc`` (``tf.py_function``,
    ``tf.numpy_function``): when the graph runs, TensorFlow calls back into the Python
    function registered under the node's ``token`` in the loading process. The function body
    is not in the file, so the graph fails in a fresh process unless the loader registers it
    first; a model that needs this ships code to be imported alongside it, and that code, not
    the graph, decides what runs. Serving systems cannot run such graphs at all.
    """,
    remediation=(
        "Rewrite the Python step with TensorFlow ops, or ship it as reviewed code outside the "
        "model; do not load models whose Python dependencies you have not reviewed."
    ),
    references=UNSAFE_ARTIFACT.merged(References(urls=(_SAVED_MODEL_DOCS,))),
    confidence=Confidence.MEDIUM,
)

FILE_READ_OP = Rule(
    "BST-TF-002",
    "TensorFlow graph reads files",
    Severity.MEDIUM,
    "models",
    doc="""
    A node reads files of the host: ``ReadFile`` returns any file's bytes, ``MatchingFiles``
    lists directories, ``ImmutableConst`` memory-maps a file, dataset ops (``TextLineDataset``,
    ``CSVDataset``, ``TFRecordDataset``, ``FixedLengthRecordDataset``, ``SqlDataset``, …) and
    reader ops stream file contents into tensors. Run inside a serving process, such a graph can
    return ``/etc/passwd``, credentials or other models in its outputs (the TensorAbuse
    attacks). ``ReadFile``, ``MatchingFiles`` and ``ImmutableConst`` are high; dataset and
    reader ops medium; vocabulary loaders (``InitializeTableFromTextFileV2``) low. Any op
    whose file name is a constant absolute path, ``..`` path or URL is raised to high, with the
    path in the finding.
    """,
    remediation=(
        "Find out why the graph reads files; ship data as assets or variables. Run models "
        "with a read-only, minimal file system."
    ),
    references=_FILE_READ_REFS,
)

FILE_WRITE_OP = Rule(
    "BST-TF-003",
    "TensorFlow graph writes files",
    Severity.HIGH,
    "models",
    doc="""
    A node writes files of the host: ``WriteFile`` writes any tensor to any path, ``PrintV2``
    with an ``output_stream`` of ``file://…`` appends to a file, dataset writers
    (``SaveDataset``, ``DatasetToTFRecord``, ``SnapshotDataset``, ``CacheDataset`` with a file
    name) and summary writers create files under a directory. Writing files from a model
    plants start-up scripts, overwrites code or fills disks. ``WriteFile`` and file printing are
    high; dataset and summary writers medium (low for caches); constant paths that leave the
    model directory raise any of them to high.
    """,
    remediation="Remove the writing ops from the exported graph; never serve a graph with them.",
    references=_FILE_WRITE_REFS,
)

NETWORK_OP = Rule(
    "BST-TF-004",
    "TensorFlow graph contacts other hosts",
    Severity.HIGH,
    "models",
    doc="""
    A node makes network connections: RPC ops (``RpcClient``, ``RpcCall``, ``RpcServer``…),
    tf.data service ops (``DataServiceDataset*``, ``RegisterDataset*``, ``DistributedSave``) or
    ``RemoteCall``. A graph that connects out can exfiltrate inputs, outputs and files, or pull
    data from an attacker's server.
    """,
    remediation="Remove network ops from models meant for serving; isolate the serving network.",
    references=References(
        cwe=("CWE-918", "CWE-200"),
        owasp=_TF_OWASP,
        atlas=("AML.T0011.000", "AML.T0010.003", "AML.T0025"),
        nist=("MANAGE 3.2", "NISTAML.051"),
        urls=(_SAVED_MODEL_DOCS,),
    ),
)

CHECKPOINT_OP = Rule(
    "BST-TF-005",
    "Checkpoint save/restore op outside the model's saver",
    Severity.HIGH,
    "models",
    doc="""
    ``SaveV2``, ``Save``, ``SaveSlices``, ``MergeV2Checkpoints``, ``RestoreV2``, ``Restore`` and
    ``RestoreSlice`` are how a SavedModel saves and restores its variables; they are expected in
    the saver the MetaGraphDef declares (``saver_def``: TensorFlow 1's ``save/`` scope, or the
    ``__inference__traced_save``/``_traced_restore`` functions TensorFlow 2 writes) and are not
    reported there. Anywhere else, or with a constant file name that leaves the model directory,
    they write files with attacker-chosen names and content (``MergeV2Checkpoints`` also
    deletes directories) or read arbitrary checkpoint files. Writes are high, reads medium.
    """,
    remediation="Re-export the model with tf.saved_model.save from trusted code.",
    references=_FILE_WRITE_REFS,
)

DEBUG_OP = Rule(
    "BST-TF-006",
    "TensorFlow debug op streams tensors out",
    Severity.HIGH,
    "models",
    doc="""
    A debugger op (``DebugIdentity*``, ``DebugNumericSummary*``, ``DebugNanCount``, or a
    ``Copy``/``CopyHost`` with debug specs) names ``file://`` or ``grpc://`` URLs: every tensor
    it sees, inputs included, is written to that file or sent to that server. Debug ops without
    targets are not reported.
    """,
    remediation="Export models without tfdbg instrumentation.",
    references=References(
        cwe=("CWE-200", "CWE-532"),
        owasp=_TF_OWASP,
        atlas=("AML.T0011.000", "AML.T0025"),
        nist=("MANAGE 3.2",),
        urls=(_SAVED_MODEL_DOCS,),
    ),
)

CUSTOM_OP = Rule(
    "BST-TF-007",
    "TensorFlow graph uses ops outside the standard op set",
    Severity.MEDIUM,
    "models",
    doc="""
    The graph uses an op that a stock TensorFlow build (2.21, public and internal ops) does not
    register and that is not a function of the graph's library. Running it requires loading a
    custom op library (``tf.load_op_library``), native code that comes from outside the model
    and runs with the process' rights. It can also be a typo-squatted name of a real op, or an
    op of a newer TensorFlow than bastion knows.
    """,
    remediation="Identify the library that defines the op and review it before loading it.",
    references=References(
        cwe=("CWE-829",),
        owasp=_TF_OWASP,
        atlas=("AML.T0010.003", "AML.T0011.000"),
        nist=("MANAGE 3.2", "NISTAML.051"),
        urls=("https://www.tensorflow.org/guide/create_op",),
    ),
    confidence=Confidence.MEDIUM,
)

PROCESS_OP = Rule(
    "BST-TF-008",
    "TensorFlow graph changes or stops the serving process",
    Severity.MEDIUM,
    "models",
    doc="""
    ``Abort`` terminates the process that runs the graph (denial of service on a shared model
    server); ``FileSystemSetConfiguration`` changes file-system settings such as credentials or
    endpoints for every model in the process.
    """,
    remediation="Remove these ops from exported models.",
    references=References(
        cwe=("CWE-400", "CWE-15"),
        owasp=("ML06:2023", "LLM10:2025"),
        atlas=("AML.T0029", "AML.T0011.000"),
        nist=("MANAGE 3.2",),
    ),
)

EMBEDDED_GRAPH_OP = Rule(
    "BST-TF-009",
    "TensorFlow graph deserializes another graph at run time",
    Severity.MEDIUM,
    "models",
    doc="""
    ``DatasetFromGraph`` builds a dataset from a serialized GraphDef held in a tensor: a graph
    hidden inside a string constant, invisible to tools that list the model's ops. bastion
    decodes constant graphs and checks their ops too (findings name the embedding node);
    graphs computed at run time cannot be checked.
    """,
    remediation="Export the dataset pipeline as regular graph functions.",
    references=UNSAFE_ARTIFACT,
    confidence=Confidence.MEDIUM,
)

MALFORMED_GRAPH = Rule(
    "BST-TF-010",
    "TensorFlow SavedModel or graph is malformed",
    Severity.MEDIUM,
    "models",
    doc="""
    The ``saved_model.pb``/``.pbtxt`` or graph ``.pb`` could not be decoded (truncated data,
    invalid protobuf wire data or text format), so its ops could not all be checked. TensorFlow
    rejects such files too, but a file that differs from what it claims to be is either damaged
    or built to confuse scanners.
    """,
    remediation="Re-export the model; treat the file as tampered until then.",
    references=MALFORMED_ARTIFACT,
)

TF_RULES = (
    PYTHON_OP,
    FILE_READ_OP,
    FILE_WRITE_OP,
    NETWORK_OP,
    CHECKPOINT_OP,
    DEBUG_OP,
    CUSTOM_OP,
    PROCESS_OP,
    EMBEDDED_GRAPH_OP,
    MALFORMED_GRAPH,
)

#: The rule each op category is reported under.
RULE_BY_CATEGORY: dict[OpCategory, Rule] = {
    OpCategory.PYTHON: PYTHON_OP,
    OpCategory.FILE_READ: FILE_READ_OP,
    OpCategory.FILE_WRITE: FILE_WRITE_OP,
    OpCategory.NETWORK: NETWORK_OP,
    OpCategory.CHECKPOINT_WRITE: CHECKPOINT_OP,
    OpCategory.CHECKPOINT_READ: CHECKPOINT_OP,
    OpCategory.DEBUG: DEBUG_OP,
    OpCategory.PROCESS: PROCESS_OP,
    OpCategory.FILESYSTEM: PROCESS_OP,
    OpCategory.EMBEDDED_GRAPH: EMBEDDED_GRAPH_OP,
}
