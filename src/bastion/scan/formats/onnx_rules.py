"""The ``BST-ONNX`` rules and the operator-domain knowledge behind them."""

from __future__ import annotations

from bastion.core import Confidence, References, Severity
from bastion.rules import MALFORMED_ARTIFACT, UNSAFE_ARTIFACT, Rule

_ONNX_OWASP = ("ML06:2023", "LLM03:2025")
_EXTERNAL_DOCS = "https://onnx.ai/onnx/repo-docs/ExternalData.html"

#: Operator domains a stock ONNX Runtime executes without loading a custom op library:
#: the ONNX standard domains, and the contrib / layout domains built into ONNX Runtime.
STANDARD_DOMAINS = frozenset(
    {
        "",
        "ai.onnx",
        "ai.onnx.ml",
        "ai.onnx.training",
        "ai.onnx.preview.training",
        "com.microsoft",
        "com.microsoft.nchwc",
        "com.microsoft.experimental",
        "com.ms.internal.nhwc",
    }
)

#: Operators that call back into Python when they run (ONNX Runtime training's autograd
#: bridge, onnxruntime-extensions' Python ops).
PYTHON_OPS = frozenset({"PythonOp", "PythonOpGrad", "PyOp"})

#: The location ONNX Runtime reads as "the offset is a memory address" (in-memory weights).
ORT_MEMORY_TAG = "*/_ORT_MEM_ADDR_/*"

EXTERNAL_DATA_ESCAPE = Rule(
    "BST-ONNX-001",
    "ONNX external data path escapes the model directory",
    Severity.HIGH,
    "models",
    doc="""
    A tensor keeps its data outside the model (``data_location = EXTERNAL``) and its
    ``location`` is an absolute path, contains ``..``, a drive letter, a network share or a
    URL. ``onnx.load`` and ONNX Runtime read external data relative to the model's directory,
    so such a location makes loading the model read an arbitrary file of the host (for example
    ``../../etc/passwd`` or an SSH key) into a weight tensor, from where the model's outputs
    can disclose it (CWE-22). bastion never opens the referenced file.
    """,
    remediation=(
        "Keep external data files next to the model with plain relative names; re-export "
        "the model with onnx.save_model(..., save_as_external_data=True, location=NAME)."
    ),
    references=References(
        cwe=("CWE-22", "CWE-73"),
        owasp=_ONNX_OWASP,
        atlas=("AML.T0010.003", "AML.T0011.000", "AML.T0025"),
        nist=("MANAGE 3.2",),
        urls=(_EXTERNAL_DOCS,),
    ),
)

#: Domains of known runtime extension libraries: still custom native code, but identifiable.
VENDOR_DOMAINS = frozenset(
    {
        "ai.onnx.contrib",
        "org.pytorch.aten",
        "org.pytorch.custom_ops",
        "com.microsoft.mlfeaturizers",
        "org.openvinotoolkit",
        "com.intel.ai",
        "com.microsoft.dml",
    }
)

CUSTOM_DOMAIN = Rule(
    "BST-ONNX-002",
    "ONNX operator from a non-standard domain",
    Severity.HIGH,
    "models",
    doc="""
    A node uses an operator domain that is neither an ONNX standard domain (``""``,
    ``ai.onnx``, ``ai.onnx.ml``, ``ai.onnx.training``, ``ai.onnx.preview.training``) nor one
    built into ONNX Runtime (``com.microsoft`` contrib ops and its internal layout domains),
    and no function of the model defines it. Running it requires registering a custom op
    library (``SessionOptions.register_custom_ops_library``): native code shipped beside the
    model, with the rights of the serving process. A domain of a known vendor library
    (``ai.onnx.contrib`` for onnxruntime-extensions, whose ops may also be Python functions,
    ``org.pytorch.aten`` for ATen fallbacks, OpenVINO and Intel extensions) is medium; an unknown
    domain is high, because nothing but the model's author can say what native code it expects.
    """,
    remediation="Identify and review the custom op library, or re-export with standard ops.",
    references=References(
        cwe=("CWE-829",),
        owasp=_ONNX_OWASP,
        atlas=("AML.T0010.003", "AML.T0011.000"),
        nist=("MANAGE 3.2", "NISTAML.051"),
        urls=("https://onnxruntime.ai/docs/reference/operators/add-custom-op.html",),
    ),
    confidence=Confidence.MEDIUM,
)

PYTHON_OP = Rule(
    "BST-ONNX-003",
    "ONNX operator calls Python code",
    Severity.HIGH,
    "models",
    doc="""
    A node is a ``PythonOp``/``PythonOpGrad`` (ONNX Runtime training calls the Python
    ``torch.autograd.Function`` named in its attributes) or a ``PyOp`` of onnxruntime-extensions:
    running the model imports and calls Python code chosen by the model file.
    """,
    remediation="Do not run the model outside the training environment that produced it.",
    references=UNSAFE_ARTIFACT,
)

OPSET_INCONSISTENT = Rule(
    "BST-ONNX-004",
    "ONNX opset imports are inconsistent",
    Severity.LOW,
    "models",
    doc="""
    The model's ``opset_import`` list does not match what its nodes use: a domain imported
    twice with different versions (loaders disagree on which one wins, medium), nodes of a
    domain that is never imported, functions importing another version of a domain than the
    model, or impossible versions. ONNX checkers reject such models; a file that still carries
    them was edited by hand or built to behave differently in different tools.
    """,
    remediation="Re-export the model, or fix its opset imports with onnx.version_converter.",
    references=MALFORMED_ARTIFACT,
    confidence=Confidence.MEDIUM,
)

MALFORMED_MODEL = Rule(
    "BST-ONNX-005",
    "ONNX model is malformed",
    Severity.MEDIUM,
    "models",
    doc="""
    The ONNX protobuf could not be decoded (truncated, invalid wire data, nesting beyond
    bounds) or a tensor is inconsistent (external data without a ``location``), so the model
    was not fully checked. Loaders reject or misread such files; treat it as tampered.
    """,
    remediation="Re-export the model from its source framework.",
    references=MALFORMED_ARTIFACT,
)

MEMORY_ADDRESS = Rule(
    "BST-ONNX-006",
    "ONNX external data points at process memory",
    Severity.HIGH,
    "models",
    doc="""
    A tensor's external ``location`` is ONNX Runtime's in-memory marker
    (``*/_ORT_MEM_ADDR_/*``): its ``offset`` is then taken as a memory address. The marker
    exists for weights handed over in memory, never for files; in a model file it makes
    loaders that honour it read arbitrary process memory (CWE-822, untrusted pointer
    dereference): a crash or an information leak.
    """,
    remediation="Reject the model; no legitimate file uses this marker.",
    references=References(
        cwe=("CWE-822", "CWE-125"),
        owasp=_ONNX_OWASP,
        atlas=("AML.T0010.003", "AML.T0011.000"),
        nist=("MANAGE 3.2",),
        urls=(_EXTERNAL_DOCS,),
    ),
)

ONNX_RULES = (
    EXTERNAL_DATA_ESCAPE,
    CUSTOM_DOMAIN,
    PYTHON_OP,
    OPSET_INCONSISTENT,
    MALFORMED_MODEL,
    MEMORY_ADDRESS,
)
