"""Rules of the pickle family (``BST-PKL-*``), raised by the static pickle machine."""

from __future__ import annotations

from bastion.core import Confidence, Severity
from bastion.rules import MALFORMED_ARTIFACT, UNSAFE_ARTIFACT, Rule

_REMEDIATE = (
    "Do not load this file with pickle, torch.load(weights_only=False), joblib or numpy "
    "allow_pickle. Obtain the model from a trusted source, or convert it to a format that "
    "cannot run code (safetensors, ONNX, skops) in an isolated environment."
)

DANGEROUS_GLOBAL = Rule(
    "BST-PKL-001",
    "Pickle imports a dangerous callable",
    Severity.CRITICAL,
    "models",
    doc="""
    The pickle stream imports a global that can run code, touch files or the network, import
    modules, reach arbitrary attributes, or deserialize a second payload (``os.system``,
    ``subprocess.Popen``, ``builtins.exec``, ``runpy._run_code``, ``pickle.loads``,
    ``torch.utils.collect_env.run``…). Loading the file with ``pickle``, ``torch.load``
    (``weights_only=False``), ``joblib.load`` or ``numpy.load(allow_pickle=True)`` executes it.

    The finding names the callable, how the pickle uses it (called, instantiated, referenced),
    the arguments when they are known statically, and the byte offset of the opcode.
    """,
    remediation=_REMEDIATE,
    references=UNSAFE_ARTIFACT,
)

UNKNOWN_CALL = Rule(
    "BST-PKL-002",
    "Pickle calls a callable that is not known to be safe",
    Severity.HIGH,
    "models",
    doc="""
    The pickle calls (``REDUCE``, ``INST``/``OBJ`` with arguments) a global that is on no
    allowlist. bastion is allowlist-first: framework profiles cover what PyTorch, NumPy, pandas,
    scikit-learn, XGBoost and LightGBM write, and anything else that *runs* at load time is a
    finding, because new gadgets are found in ordinary libraries every year.

    If the callable is your own code and you trust it, allow it in the policy
    (``allow_globals = ["mypkg.models.*"]``).
    """,
    remediation=(
        "Review the callable named in the finding. If it is trusted project code, add it to "
        "allow_globals in bastion.toml; otherwise treat the file as malicious."
    ),
    references=UNSAFE_ARTIFACT,
    confidence=Confidence.MEDIUM,
)

UNKNOWN_GLOBAL = Rule(
    "BST-PKL-003",
    "Pickle imports a class or global that is not on an allowlist",
    Severity.MEDIUM,
    "models",
    doc="""
    The pickle imports a global from outside the known framework profiles and only instantiates
    it without calling its constructor, or only references it. Importing still runs the module's
    top-level code and, for instances, the class's ``__setstate__``. Typical benign cases are a
    project's own model classes (``__main__.Net`` in a whole-module ``torch.save``).
    """,
    remediation=(
        "Prefer saving a state_dict or safetensors over whole objects. If the class is your "
        "own, allow it in bastion.toml (allow_globals)."
    ),
    references=UNSAFE_ARTIFACT,
    confidence=Confidence.LOW,
)

OBFUSCATED_IMPORT = Rule(
    "BST-PKL-004",
    "Pickle resolves or calls something dynamically",
    Severity.HIGH,
    "models",
    doc="""
    The pickle imports a global whose name is computed at load time (``STACK_GLOBAL`` over values
    that are not literals), uses a ``copyreg`` extension code, imports a name that is not a valid
    dotted identifier, or calls a value that was itself produced at load time. Real frameworks
    write none of these; they are the shapes of allowlist and denylist bypasses.
    """,
    remediation=_REMEDIATE,
    references=UNSAFE_ARTIFACT,
)

NESTED_PAYLOAD = Rule(
    "BST-PKL-005",
    "Pickle deserializes a nested payload",
    Severity.CRITICAL,
    "models",
    doc="""
    The pickle passes embedded bytes to another deserializer (``pickle.loads``, ``torch.load``,
    ``marshal.loads``, …). The embedded payload is analyzed too and reported under a member
    named after the call (``<pickle.loads@123>``); whatever it contains runs at load time.
    """,
    remediation=_REMEDIATE,
    references=UNSAFE_ARTIFACT,
)

MALFORMED_STREAM = Rule(
    "BST-PKL-006",
    "Pickle stream is malformed or truncated",
    Severity.MEDIUM,
    "models",
    doc="""
    The stream breaks (invalid opcode, truncated argument, stack underflow, missing memo key)
    before ``STOP``. The unpickler executes every opcode before the break, so an attacker can
    place a payload first and break the stream afterwards to make a loader (and naive scanners)
    fail after the damage is done. Everything before the break was analyzed and is reported.
    """,
    remediation="Treat the file as corrupt or tampered; re-export it from its source.",
    references=MALFORMED_ARTIFACT,
)

STATE_INJECTION = Rule(
    "BST-PKL-007",
    "Pickle sets state on an imported object",
    Severity.HIGH,
    "models",
    doc="""
    ``BUILD`` is applied to an imported global itself (a class, module attribute or function)
    rather than to a freshly made instance: its ``__setstate__`` runs, or its attributes are
    overwritten, changing how library code behaves after loading.
    """,
    remediation=_REMEDIATE,
    references=UNSAFE_ARTIFACT,
)

EXTRA_PICKLE = Rule(
    "BST-PKL-008",
    "More than one pickle in the stream",
    Severity.LOW,
    "models",
    doc="""
    A second pickle follows the first ``STOP``. ``pickle.load`` reads only the first, but loaders
    that read consecutive pickles (legacy PyTorch, custom code) also run the others, and scanners
    that stop at the first ``STOP`` miss them. Every pickle in the stream is analyzed.
    """,
    remediation="Make sure the extra pickle is expected by the format that wrote the file.",
    references=MALFORMED_ARTIFACT,
    confidence=Confidence.MEDIUM,
)

UNFOLLOWABLE = Rule(
    "BST-PKL-009",
    "Pickle stream could not be followed to its end",
    Severity.HIGH,
    "models",
    doc="""
    The stream embeds raw data whose length bastion could not determine exactly the way the
    loader does (a joblib array whose shape, dtype or attributes are computed at load time or
    not the way joblib writes them), so the rest of the stream was not analyzed while the loader
    goes on executing it. Unknown is not safe: this blocks at the default policy.
    """,
    remediation="Inspect the file in isolation, or re-save it with current joblib/numpy.",
    references=MALFORMED_ARTIFACT,
)

PICKLE_RULES = (
    DANGEROUS_GLOBAL,
    UNKNOWN_CALL,
    UNKNOWN_GLOBAL,
    OBFUSCATED_IMPORT,
    NESTED_PAYLOAD,
    MALFORMED_STREAM,
    STATE_INJECTION,
    EXTRA_PICKLE,
    UNFOLLOWABLE,
)
