"""The ``BST-KRS`` rules: Keras model configs (``.keras``, ``.h5``, JSON, SavedModel metadata)
and the HDF5 containers legacy Keras models and weights live in.

Rule ids are stable. Each rule's ``doc`` names the advisories it covers; tests cite the same ids.
"""

from __future__ import annotations

from bastion.core import Confidence, References, Severity
from bastion.rules import MALFORMED_ARTIFACT, PATH_ESCAPE, RESOURCE_ABUSE, UNSAFE_ARTIFACT, Rule


def _nvd(*cves: str) -> tuple[str, ...]:
    return tuple(f"https://nvd.nist.gov/vuln/detail/{cve}" for cve in cves)


_UNSAFE_REFLECTION = UNSAFE_ARTIFACT.merged(References(cwe=("CWE-470",)))
_EXTERNAL_FILE = References(
    cwe=("CWE-73", "CWE-22", "CWE-918"),
    owasp=("ML06:2023", "LLM03:2025"),
    atlas=("AML.T0010.003", "AML.T0011.000"),
    nist=("MANAGE 3.2",),
)
_HDF5_EXTERNAL = PATH_ESCAPE.merged(References(cwe=("CWE-73",)))

LAMBDA_CODE = Rule(
    "BST-KRS-001",
    "Keras Lambda layer carries Python bytecode",
    Severity.CRITICAL,
    "models",
    doc="""
    A ``Lambda`` layer stores a Python function as marshalled bytecode (base64, either the legacy
    ``["<code>", defaults, closure]`` list with ``function_type: "lambda"`` or the Keras 3
    ``{"class_name": "__lambda__", "config": {"code": …}}`` dict). Loading the model rebuilds the
    function with ``marshal`` and runs it whenever the layer is called, which happens during
    loading itself. This is arbitrary code execution: CVE-2024-3660 (Keras before 2.13 loaded it
    unconditionally), and CVE-2025-9905 (Keras 3 before 3.11.3 silently ignored
    ``safe_mode=True`` for ``.h5``/``.hdf5`` files); in ``.keras`` files only ``safe_mode``
    stands between the bytecode and the interpreter, and CVE-2025-9906 showed a config can
    switch it off. bastion never unmarshals the code: it walks the marshal structure and reports
    the names and strings it mentions (``os``, ``system``, the command), so a person can see what
    it would do.
    """,
    remediation=(
        "Do not load this model with safe_mode=False or from .h5. Replace the Lambda with a "
        "registered custom layer whose code you review, and re-export the model."
    ),
    references=UNSAFE_ARTIFACT.merged(
        References(urls=_nvd("CVE-2024-3660", "CVE-2025-9905", "CVE-2025-9906"))
    ),
)

DANGEROUS_REFERENCE = Rule(
    "BST-KRS-002",
    "Keras config imports a dangerous Python module or function",
    Severity.CRITICAL,
    "models",
    doc="""
    An object in the config names a ``module`` (with ``class_name`` or a ``"function"`` reference)
    outside Keras that runs commands, touches files or the network, or imports code: ``os``,
    ``subprocess``, ``builtins.exec``, ``importlib``… Keras 3 before 3.9 imported whatever module
    the config named, even with ``safe_mode=True`` (CVE-2025-1550); a Lambda layer whose
    ``function`` is ``subprocess.run`` then calls it with attacker-chosen arguments taken from the
    config's node arguments. tf-keras and older loaders resolve such names as well. A Python
    builtin named under ``module: "builtins"`` is reported here too, because only Keras' own
    activation and loss names belong there.
    """,
    remediation=(
        "Do not load the model. Legitimate configs reference only Keras classes and registered "
        "custom objects; re-export it from trusted code with Keras >= 3.9."
    ),
    references=_UNSAFE_REFLECTION.merged(References(urls=_nvd("CVE-2025-1550"))),
)

KERAS_GADGET = Rule(
    "BST-KRS-003",
    "Keras config uses a framework function as a safe-mode bypass gadget",
    Severity.CRITICAL,
    "models",
    doc="""
    The config references a function that lives inside Keras (or TensorFlow) but has no place in
    a model: it downloads or writes files, loads further models, or turns the loader's own
    protection off. Because it is part of the framework, an allowlist of "Keras modules only"
    lets it through. Known cases: ``keras.utils.get_file`` used through a Lambda layer to
    download and overwrite files (CVE-2025-8747, bypassing the CVE-2025-1550 fix);
    ``keras.config.enable_unsafe_deserialization`` or ``global_state.set_global_attribute``
    called from the config to disable ``safe_mode`` before a Lambda layer is read
    (CVE-2025-9906); ``keras.models.load_model`` with ``safe_mode=False`` as a second stage;
    ``func_load`` (marshal); file and dataset helpers; TensorFlow ops such as
    ``tf.io.write_file`` and ``tf.py_function`` in ``TFOpLambda`` layers. Current Keras refuses
    most of these "non-modeling APIs", older releases do not.
    """,
    remediation=(
        "Do not load the model. Upgrade Keras (>= 3.11.3) and re-export the model from trusted "
        "code; model configs need only layers, losses, metrics and registered custom objects."
    ),
    references=_UNSAFE_REFLECTION.merged(
        References(cwe=("CWE-494",), urls=_nvd("CVE-2025-8747", "CVE-2025-9906"))
    ),
)

CUSTOM_OBJECT = Rule(
    "BST-KRS-004",
    "Keras config needs code from a module outside Keras",
    Severity.MEDIUM,
    "models",
    doc="""
    An object names a ``module`` that is neither Keras (``keras``, ``keras.src``, ``tf_keras``,
    ``tensorflow.keras``, or the Keras-team libraries ``keras_hub``/``keras_cv``/``keras_nlp``,
    whose classes the loader restricts to Keras-serializable ones) nor known to be dangerous.
    Loading needs that module's code: current Keras takes it only from registered custom
    objects, but Keras 3 before 3.9 imported the module itself (CVE-2025-1550), running its
    import-time code, and the class or function then runs with values from the config. When the
    reference is the function of a Lambda layer it is called on every inference, so it is
    reported as high. Allow reviewed modules with the policy's ``allow_globals`` patterns.
    """,
    remediation=(
        "Check that the module is your own reviewed code and is installed from a trusted "
        "source; register it explicitly (custom_objects) instead of relying on import by name."
    ),
    references=_UNSAFE_REFLECTION.merged(References(urls=_nvd("CVE-2025-1550"))),
    confidence=Confidence.MEDIUM,
)

EXTERNAL_RESOURCE = Rule(
    "BST-KRS-005",
    "Keras layer reads files, URLs or a pickle when the model is loaded",
    Severity.HIGH,
    "models",
    doc="""
    A layer's config makes the loader fetch something that is not in the model file:
    ``StringLookup``/``IntegerLookup``/``TextVectorization`` with a ``vocabulary`` path reads a
    local file or, through ``tf.io.gfile``, a remote URL even with ``safe_mode=True``
    (CVE-2025-12058: arbitrary file read and SSRF); ``TFSMLayer`` loads a TensorFlow SavedModel
    from ``filepath`` and runs its graph; TensorFlow Hub's ``KerasLayer`` downloads a model from
    its ``handle``; ``TorchModuleWrapper`` embeds a ``torch.save`` pickle that is loaded with
    ``torch.load(weights_only=False)`` (the embedded pickle is analyzed and reported on its own).
    Absolute paths, ``..`` and URLs are high; a relative path inside the model directory is
    medium.
    """,
    remediation=(
        "Ship vocabularies and sub-models inside the model file (re-export with the data "
        "embedded); never load a model that points at absolute paths or URLs."
    ),
    references=_EXTERNAL_FILE.merged(References(urls=_nvd("CVE-2025-12058"))),
)

MALFORMED_CONFIG = Rule(
    "BST-KRS-006",
    "Keras model config is malformed",
    Severity.MEDIUM,
    "models",
    doc="""
    The model config (``config.json``, the ``model_config``/``training_config`` attributes of a
    legacy ``.h5`` file, a ``to_json()`` file, or a ``keras_metadata.pb`` entry) is not valid
    UTF-8 JSON, is not a JSON object, or is stored in an unexpected shape. Keras would refuse
    it or read it differently from the scanner; a config that cannot be checked is not safe.
    """,
    remediation="Re-export the model from its source with a current Keras version.",
    references=MALFORMED_ARTIFACT,
)

OVERSIZED_CONFIG = Rule(
    "BST-KRS-007",
    "Keras model config exceeds analysis bounds",
    Severity.MEDIUM,
    "models",
    doc="""
    The config is larger than bastion parses for a Keras model, nests deeper than a real model
    does, or holds more objects than the walk allows. Such configs exhaust memory or recursion
    in loaders (a denial of service), and the part beyond the bound was not checked.
    """,
    remediation="Reject the file; real Keras configs are kilobytes to a few megabytes deep.",
    references=RESOURCE_ABUSE,
)

HDF5_EXTERNAL_LINK = Rule(
    "BST-KRS-008",
    "HDF5 file links to objects in another file",
    Severity.MEDIUM,
    "models",
    doc="""
    The HDF5 file contains an external link: opening the linked path makes the HDF5 library open
    another file (resolved against the model's directory, ``HDF5_EXT_PREFIX``, or taken as is
    when absolute) and read it as part of this one. Weights or configs can then come from a file
    that was never scanned or signed, or a loader can be made to read arbitrary local files.
    Targets outside the model's directory (absolute paths, ``..``) are high.
    """,
    remediation="Re-save the file with the linked data copied in (h5py copy, or re-export).",
    references=_HDF5_EXTERNAL,
)

HDF5_EXTERNAL_STORAGE = Rule(
    "BST-KRS-009",
    "HDF5 dataset stores its data in another file",
    Severity.MEDIUM,
    "models",
    doc="""
    A dataset uses external raw storage: its bytes are read from the named file(s) at the given
    offsets instead of from the HDF5 file. Pointed at ``/etc/passwd`` or an SSH key, loading the
    weights reads that file into the model (information disclosure); pointed at a relative
    name, the data comes from a file nobody scanned. Absolute paths and ``..`` are high.
    """,
    remediation="Re-save the dataset with contiguous or chunked storage inside the file.",
    references=_HDF5_EXTERNAL,
)

HDF5_VIRTUAL_SOURCE = Rule(
    "BST-KRS-010",
    "HDF5 virtual dataset maps data from another file",
    Severity.MEDIUM,
    "models",
    doc="""
    A virtual dataset (VDS) takes its values from source datasets in other files. Reading it opens
    those files, so the model's content depends on files outside the scanned artifact. Sources
    outside the model's directory (absolute paths, ``..``) are high.
    """,
    remediation="Materialize the virtual dataset (copy its data) before distributing the file.",
    references=_HDF5_EXTERNAL,
)

HDF5_DECLARED_SIZE = Rule(
    "BST-KRS-011",
    "HDF5 dataset declares far more data than the file holds",
    Severity.MEDIUM,
    "models",
    doc="""
    A dataset's shape and type declare at least 1 GiB and more than 64 times the size of the
    whole file. Keras allocates the declared size when it loads weights, so a crafted
    ``model.weights.h5`` with an enormous shape exhausts memory and crashes the interpreter
    (CVE-2026-0897, Keras 3 releases up to 3.13.0). Legitimate weights are stored, not merely
    declared.
    """,
    remediation="Reject the file, or check the shapes against the model before loading.",
    references=RESOURCE_ABUSE.merged(References(urls=_nvd("CVE-2026-0897"))),
    confidence=Confidence.MEDIUM,
)

HDF5_FILTER_PLUGIN = Rule(
    "BST-KRS-012",
    "HDF5 dataset needs a dynamically loaded filter plugin",
    Severity.LOW,
    "models",
    doc="""
    A dataset is compressed with a filter that neither the HDF5 library nor h5py builds in.
    Reading it makes HDF5 load a shared library from ``HDF5_PLUGIN_PATH`` (native code), and
    loaders without the plugin cannot read the weights at all. bastion reads no dataset data, so
    no plugin is loaded during the scan.
    """,
    remediation="Re-save the weights with a built-in filter (gzip/deflate, shuffle, lzf).",
    references=References(
        cwe=("CWE-114", "CWE-427"), owasp=("ML06:2023", "LLM03:2025"), nist=("MANAGE 3.2",)
    ),
    confidence=Confidence.MEDIUM,
)

HDF5_UNREADABLE = Rule(
    "BST-KRS-013",
    "HDF5 structure cannot be read",
    Severity.MEDIUM,
    "models",
    doc="""
    The file has an HDF5 signature but the library cannot open it, or parts of its object tree
    (groups, datasets, attributes) cannot be read. The unreadable part was not checked; loaders
    may still read it differently, so a damaged container is treated as suspicious.
    """,
    remediation="Re-create the file from its source; do not load a damaged model.",
    references=MALFORMED_ARTIFACT,
)

HDF5_USER_BLOCK = Rule(
    "BST-KRS-014",
    "HDF5 user block carries data",
    Severity.LOW,
    "models",
    doc="""
    The HDF5 superblock sits after a user block that contains data. The user block is ignored by
    HDF5 but read by anything that looks at the start of the file, which makes polyglots: a pickle
    that ``torch.load`` runs, in front of a valid HDF5 model. The user block is analyzed as its
    own artifact (``<userblock>``); this finding records that it is there.
    """,
    remediation="Re-save the file without a user block (h5py userblock_size=0).",
    references=MALFORMED_ARTIFACT,
)

CONFIG_RULES: tuple[Rule, ...] = (
    LAMBDA_CODE,
    DANGEROUS_REFERENCE,
    KERAS_GADGET,
    CUSTOM_OBJECT,
    EXTERNAL_RESOURCE,
    MALFORMED_CONFIG,
    OVERSIZED_CONFIG,
)
HDF5_RULES: tuple[Rule, ...] = (
    HDF5_EXTERNAL_LINK,
    HDF5_EXTERNAL_STORAGE,
    HDF5_VIRTUAL_SOURCE,
    HDF5_DECLARED_SIZE,
    HDF5_FILTER_PLUGIN,
    HDF5_UNREADABLE,
    HDF5_USER_BLOCK,
)
KERAS_RULES: tuple[Rule, ...] = CONFIG_RULES + HDF5_RULES
