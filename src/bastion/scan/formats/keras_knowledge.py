"""What bastion knows about names in Keras configs: Keras' own namespaces and its gadgets.

A Keras config names Python objects by ``module`` + ``class_name`` (or ``config`` for
``"function"`` references). Keras' own classes are the point of the format, but a handful of
functions inside Keras and TensorFlow do things a model never needs (download files, load other
models, switch ``safe_mode`` off, run Python through ``tf.py_function``); they are the gadgets
that turn an "only Keras modules" allowlist into code execution. Names outside Keras are judged
with the pickle knowledge base (:mod:`bastion.scan.formats.pickle.knowledge`).
"""

from __future__ import annotations

import builtins
import fnmatch
import re
from dataclasses import dataclass

from bastion.core import Severity

#: Module prefixes that are Keras itself. ``keras_hub``/``keras_cv``/``keras_nlp`` are Keras-team
#: libraries the Keras 3 loader imports itself, accepting only Keras-serializable classes.
KERAS_NAMESPACES: tuple[str, ...] = (
    "keras",
    "tf_keras",
    "tensorflow.keras",
    "tensorflow.python.keras",
    "keras_hub",
    "keras_cv",
    "keras_nlp",
)

#: Pseudo classes Keras uses to encode values, not objects to import.
VALUE_CLASSES = frozenset(
    {
        "__numpy__",
        "__tensor__",
        "__keras_tensor__",
        "__bytes__",
        "__slice__",
        "__ellipsis__",
        "__typespec__",
        "__lambda__",
    }
)

#: Layers whose ``vocabulary`` may be a path that is read at load time (CVE-2025-12058).
VOCABULARY_LAYERS = frozenset({"StringLookup", "IntegerLookup", "TextVectorization", "IndexLookup"})

#: Names Python defines in ``builtins`` (the scanner's own interpreter, used as a vocabulary).
PYTHON_BUILTINS = frozenset(name for name in vars(builtins) if not name.startswith("_")) | {
    "__import__",
    "__build_class__",
}


@dataclass(frozen=True)
class Gadget:
    """A framework function that does something a model config never needs."""

    severity: Severity
    what: str
    advisory: str = ""


_OBJECT_START = re.compile(rb"^\s*\{")
_CLASS_NAME_KEY = re.compile(rb'"class_name"\s*:')
_CONFIG_KEY = re.compile(rb'"config"\s*:')
_KERAS_MARKERS = (b'"keras_version"', b'"layers"', b'"module"', b'"backend"')
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_SAFE_MODE = "switches Keras' safe_mode off, so a later Lambda layer's bytecode runs"
_LOADS = "loads another model or serialized object, with arguments chosen by the config"
_WRITES = "writes or overwrites files on the machine that loads the model"
_READS = "reads local files (or URLs) chosen by the config"

#: Keras functions and classes by their own name (last component), wherever Keras exports them.
KERAS_GADGETS: dict[str, Gadget] = {
    "enable_unsafe_deserialization": Gadget(Severity.CRITICAL, _SAFE_MODE, "CVE-2025-9906"),
    "set_global_attribute": Gadget(Severity.CRITICAL, _SAFE_MODE, "CVE-2025-9906"),
    "SafeModeScope": Gadget(Severity.CRITICAL, _SAFE_MODE, "CVE-2025-9906"),
    "get_file": Gadget(
        Severity.CRITICAL,
        "downloads a URL and can extract or overwrite files (arbitrary file write)",
        "CVE-2025-8747",
    ),
    "extract_archive": Gadget(Severity.CRITICAL, _WRITES),
    "load_model": Gadget(Severity.CRITICAL, _LOADS, "CVE-2025-9906"),
    "load_model_from_hdf5": Gadget(Severity.CRITICAL, _LOADS),
    "model_from_json": Gadget(Severity.CRITICAL, _LOADS),
    "model_from_yaml": Gadget(Severity.CRITICAL, _LOADS),
    "model_from_config": Gadget(Severity.CRITICAL, _LOADS),
    "load_weights": Gadget(Severity.HIGH, _LOADS),
    "deserialize_keras_object": Gadget(Severity.CRITICAL, _LOADS),
    "deserialize": Gadget(Severity.CRITICAL, _LOADS),
    "func_load": Gadget(
        Severity.CRITICAL, "rebuilds Python bytecode with marshal (code execution)"
    ),
    "register_keras_serializable": Gadget(Severity.HIGH, "alters the custom-object registry"),
    "get_custom_objects": Gadget(Severity.HIGH, "exposes the custom-object registry"),
    "CustomObjectScope": Gadget(Severity.HIGH, "alters the custom-object registry"),
    "save_model": Gadget(Severity.HIGH, _WRITES),
    "save_weights": Gadget(Severity.HIGH, _WRITES),
    "save_img": Gadget(Severity.HIGH, _WRITES),
    "KerasFileEditor": Gadget(Severity.HIGH, _WRITES),
    "load_img": Gadget(Severity.HIGH, _READS),
    "image_dataset_from_directory": Gadget(Severity.HIGH, _READS),
    "text_dataset_from_directory": Gadget(Severity.HIGH, _READS),
    "audio_dataset_from_directory": Gadget(Severity.HIGH, _READS),
    "timeseries_dataset_from_array": Gadget(Severity.MEDIUM, "builds a dataset, not a layer"),
    "clear_session": Gadget(Severity.MEDIUM, "resets the Keras session (denial of service)"),
}

#: Keras sub-packages with no modeling content at all (callbacks write files and post to URLs).
KERAS_GADGET_MODULES: dict[str, Gadget] = {
    "callbacks": Gadget(Severity.HIGH, "callbacks write files or contact servers"),
    "file_utils": Gadget(Severity.HIGH, "file utilities download, extract and write files"),
    "io_utils": Gadget(Severity.MEDIUM, "I/O utilities touch the terminal and files"),
    "global_state": Gadget(Severity.CRITICAL, _SAFE_MODE, "CVE-2025-9906"),
    "saving_api": Gadget(Severity.CRITICAL, _LOADS),
    "saving_lib": Gadget(Severity.CRITICAL, _LOADS),
    "legacy_h5_format": Gadget(Severity.CRITICAL, _LOADS),
}

_TF_RUNS_PYTHON = "runs Python or native code chosen by the config"
_TF_FILES = "reads or writes files (or remote paths through tf.io.gfile)"

#: TensorFlow APIs (dotted, without ``tf.``) that a ``TFOpLambda`` layer or a config may name.
TF_GADGET_PATTERNS: tuple[tuple[str, Gadget], ...] = (
    ("py_function", Gadget(Severity.CRITICAL, _TF_RUNS_PYTHON)),
    ("numpy_function", Gadget(Severity.CRITICAL, _TF_RUNS_PYTHON)),
    ("*py_func", Gadget(Severity.CRITICAL, _TF_RUNS_PYTHON)),
    ("raw_ops.*PyFunc*", Gadget(Severity.CRITICAL, _TF_RUNS_PYTHON)),
    ("*load_op_library", Gadget(Severity.CRITICAL, "loads a native shared library")),
    ("*load_library", Gadget(Severity.CRITICAL, "loads a native shared library")),
    ("*saved_model.load*", Gadget(Severity.CRITICAL, _LOADS)),
    ("keras.*", Gadget(Severity.HIGH, "reaches Keras APIs through TensorFlow")),
    ("io.write_file", Gadget(Severity.HIGH, _TF_FILES)),
    ("io.read_file", Gadget(Severity.HIGH, _TF_FILES)),
    ("io.matching_files", Gadget(Severity.HIGH, _TF_FILES)),
    ("*gfile*", Gadget(Severity.HIGH, _TF_FILES)),
    ("raw_ops.WriteFile", Gadget(Severity.HIGH, _TF_FILES)),
    ("raw_ops.ReadFile", Gadget(Severity.HIGH, _TF_FILES)),
    ("raw_ops.MatchingFiles", Gadget(Severity.HIGH, _TF_FILES)),
    ("summary.*", Gadget(Severity.MEDIUM, "writes summary files")),
    ("debugging.experimental.enable_dump_debug_info", Gadget(Severity.MEDIUM, _TF_FILES)),
    ("data.experimental.save", Gadget(Severity.HIGH, _TF_FILES)),
    ("data.experimental.load", Gadget(Severity.HIGH, _TF_FILES)),
    ("data.*RecordDataset", Gadget(Severity.HIGH, _TF_FILES)),
    ("data.TextLineDataset", Gadget(Severity.HIGH, _TF_FILES)),
    ("print", Gadget(Severity.LOW, "prints to the process' output")),
)

#: TensorFlow function names judged the same whatever module path the config uses.
_TF_GADGET_NAMES = {
    "write_file": "io.write_file",
    "read_file": "io.read_file",
    "matching_files": "io.matching_files",
    "py_func": "py_func",
    "eager_py_func": "py_func",
    "py_function": "py_function",
    "numpy_function": "numpy_function",
    "load_op_library": "load_op_library",
    "load_library": "load_library",
    "create_file_writer": "summary.create_file_writer",
}


def looks_like_keras_json(head: bytes) -> bool:
    """Whether a JSON head is a Keras object (``model.to_json()``, a bare ``config.json``).

    The head must be a JSON object with ``class_name`` and ``config`` keys (in any order, as
    Keras accepts them) and one Keras marker; Hugging Face or other ``config.json`` files have
    neither key. ``.json`` files the head does not settle are probed in full by the analyzer.
    """
    body = head.removeprefix(b"\xef\xbb\xbf")
    if not _OBJECT_START.match(body):
        return False
    if not _CLASS_NAME_KEY.search(body) or not _CONFIG_KEY.search(body):
        return False
    return any(marker in body for marker in _KERAS_MARKERS)


def in_keras_namespace(module: str) -> bool:
    """Whether ``module`` is Keras itself (or a Keras-team library)."""
    return any(module == ns or module.startswith(ns + ".") for ns in KERAS_NAMESPACES)


def keras_gadget(module: str, name: str) -> Gadget | None:
    """The gadget a Keras ``module`` + ``name`` reference is, or ``None`` for modeling APIs."""
    if name in KERAS_GADGETS:
        return KERAS_GADGETS[name]
    if name.startswith("load_model"):
        return KERAS_GADGETS["load_model"]
    for part in module.split("."):
        if part in KERAS_GADGET_MODULES:
            return KERAS_GADGET_MODULES[part]
    if module.rsplit(".", 1)[-1] == "config":
        return Gadget(Severity.MEDIUM, "changes Keras' global configuration")
    return None


def tf_gadget(api: str) -> Gadget | None:
    """The gadget a TensorFlow API name (``io.write_file``, ``tf.py_function``…) is, or ``None``."""
    for prefix in ("tensorflow.", "tf."):
        if api.startswith(prefix):
            api = api[len(prefix) :]
    for pattern, gadget in TF_GADGET_PATTERNS:
        if fnmatch.fnmatchcase(api, pattern):
            return gadget
    last = api.rsplit(".", 1)[-1]
    if last in _TF_GADGET_NAMES:
        return tf_gadget(_TF_GADGET_NAMES[last])
    return None


def resource_scope(location: str) -> str | None:
    """``"remote"``, ``"absolute"`` or ``"escapes"`` when a path leaves the model's directory."""
    text = location.strip()
    if _URL.match(text) or text.startswith(("//", "\\\\")):
        return "remote"
    if text.startswith(("/", "\\", "~")) or (len(text) > 1 and text[1] == ":"):
        return "absolute"
    if ".." in text.replace("\\", "/").split("/"):
        return "escapes"
    return None
