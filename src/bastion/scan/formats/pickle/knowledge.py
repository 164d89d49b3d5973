"""What bastion knows about pickle globals: framework profiles (safe) and dangerous callables.

Allowlist first. A global is judged by *how the pickle uses it*:

* ``reference`` — it is only a value (a dtype, a stored function, an enum class);
* ``construct`` — an instance is made without calling its constructor (``NEWOBJ``,
  ``copyreg._reconstructor``), then filled with state;
* ``call`` — it is invoked with arguments (``REDUCE``, ``INST``/``OBJ`` with arguments).

Known-dangerous names (code execution, files, network, nested deserializers, introspection) are
critical whatever the use. Framework namespaces (numpy, scipy, pandas, scikit-learn, PyTorch, …)
are trusted for references and constructions, and for calls only of reviewed reconstructors and of
classes; any other call of a global that is not on a list is a finding, because that is exactly
how new gadgets (``torch.utils.collect_env.run``, ``ensurepip._run_pip``) get through denylists.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

from bastion.scan.formats.pickle.knowledge_data import (
    DANGEROUS_CALLS,
    DANGEROUS_EXACT,
    DANGEROUS_PREFIXES,
    DANGEROUS_SUFFIXES,
    DENIED_SUBTREES,
    ECOSYSTEM_NAMESPACES,
    IMPORT_GADGETS,
    SAFE_BUILTINS,
    SAFE_CALLS,
    SAFE_STDLIB_CLASSES,
    TRUSTED_NAMESPACES,
)


class Usage(str, Enum):
    """How a pickle uses a global."""

    REFERENCE = "reference"
    CONSTRUCT = "construct"
    CALL = "call"


class Verdict(str, Enum):
    """The judgement on one use of one global."""

    SAFE = "safe"
    REVIEW = "review"  # unknown but used in a way that runs no code of its own choosing
    UNKNOWN_CALL = "unknown-call"
    DANGEROUS = "dangerous"


@dataclass(frozen=True)
class Judgement:
    """A verdict with the reason a person can read."""

    verdict: Verdict
    category: str = ""
    reason: str = ""


_RECONSTRUCTOR_PATTERNS = (
    "_reconstruct*",
    "__pyx_unpickle_*",
    "_unpickle*",
    "*_unpickle",
    "_new_*",
    "_rebuild*",
    "__*_ctor",
    "_frombuffer",
    "_restore*",
    "*_reconstructor",
    "_create_*",
    "_from_*",
    "unpickle*",
)
#: Class names whose constructors open what their arguments name: files and streams
#: (``torch._C.PyTorchFileWriter(path)``, ``pyarrow.lib.CompressedOutputStream(path)``), data
#: loaders that read a path (``xgboost.DMatrix``, ``catboost.Pool``) and worker pools that run an
#: ``initializer`` at once (a ``multiprocessing.Pool`` re-exported by a framework module). Model
#: pickles reference such classes at most; a call of one is never trusted by namespace alone.
_IO_CLASS_PATTERNS = (
    "*Writer",
    "*Reader",
    "*Stream",
    "*FileSystem",
    "*File",
    "*Pool",
    "*PoolExecutor",
    "*DMatrix",
)
_DUNDER = re.compile(r"^__\w+__$")
#: First components of every dangerous name: where an attribute path may enter a module.
_ALIAS_HEADS = frozenset(
    name.split(".", 1)[0] for name in (*DANGEROUS_PREFIXES, *DANGEROUS_EXACT, *DENIED_SUBTREES)
)
_BENIGN_DUNDERS = frozenset({"__newobj__", "__newobj_ex__"})


def qualify(module: str, name: str) -> str:
    """The dotted name a ``GLOBAL module name`` pair resolves to."""
    return f"{module}.{name}" if module else name


def _under(qualname: str, prefixes: frozenset[str] | tuple[str, ...]) -> str | None:
    parts = qualname.split(".")
    for i in range(len(parts), 0, -1):
        candidate = ".".join(parts[:i])
        if candidate in prefixes:
            return candidate
    return None


def _is_class_name(name: str) -> bool:
    last = name.rsplit(".", 1)[-1].lstrip("_")
    return bool(last) and last[0].isupper()


@lru_cache(maxsize=65536)
def _static_judgement(qualname: str) -> tuple[str, str] | None:
    """``(category, reason)`` when the name is known-dangerous, else ``None``."""
    if qualname in DANGEROUS_EXACT:
        return DANGEROUS_EXACT[qualname]
    last = qualname.rsplit(".", 1)[-1]
    # NOTE: the first part is a module (``__main__`` is fine); a dunder *attribute* is not.
    if any(_DUNDER.match(p) and p not in _BENIGN_DUNDERS for p in qualname.split(".")[1:]):
        return (
            "introspection",
            "reaches a dunder attribute, the usual path from an object to builtins or globals",
        )
    prefix = _under(qualname, tuple(DANGEROUS_PREFIXES))
    if prefix is not None:
        return DANGEROUS_PREFIXES[prefix]
    if last in DANGEROUS_SUFFIXES:
        return DANGEROUS_SUFFIXES[last]
    return None


@lru_cache(maxsize=65536)
def alias_judgement(attributes: str) -> tuple[str, str] | None:
    """``(category, reason)`` when an attribute path walks into a dangerous module.

    From protocol 4 the unpickler resolves a dotted name attribute by attribute, so
    ``pandas._config.localization`` + ``subprocess.Popen`` is the ``subprocess`` module pandas
    imported, not a pandas class. Real picklers only write class-nested names there
    (``Outer.Inner``), so every tail of the attribute path that starts with a module bastion
    knows (``subprocess.Popen``, ``os.system``, ``torch.load``) is judged as that name.
    """
    parts = attributes.split(".")
    for start in range(len(parts) - 1):
        if parts[start] not in _ALIAS_HEADS:
            continue
        tail = ".".join(parts[start:])
        static = _static_judgement(tail)
        if static is not None and not _explicitly_safe(tail):
            return (static[0], f"{static[1]} (reached as the module attribute {parts[start]!r})")
        denied = _under(tail, DENIED_SUBTREES)
        if denied is not None:
            return (
                "framework-internals",
                f"{denied} holds code runners, file or network access (reached as an attribute)",
            )
    return None


def judge(
    qualname: str,
    usage: Usage,
    *,
    single_literal_arg: bool = False,
    allow: tuple[str, ...] = (),
    deny: tuple[str, ...] = (),
    attributes: str = "",
) -> Judgement:
    """Judge one use of a global (``allow``/``deny`` are the project's extra glob patterns).

    ``attributes`` is the part of the name resolved by attribute lookup rather than import
    (see :func:`alias_judgement`).
    """
    if any(fnmatch.fnmatchcase(qualname, pattern) for pattern in deny):
        return Judgement(Verdict.DANGEROUS, "policy", "denied by the project's policy")
    static = _static_judgement(qualname)
    if static is not None and not _explicitly_safe(qualname):
        return Judgement(Verdict.DANGEROUS, static[0], static[1])
    alias = alias_judgement(attributes) if "." in attributes else None
    if alias is not None:
        return Judgement(Verdict.DANGEROUS, alias[0], alias[1])
    if any(fnmatch.fnmatchcase(qualname, pattern) for pattern in allow):
        return Judgement(Verdict.SAFE, "policy", "allowed by the project's policy")
    if qualname in SAFE_CALLS or qualname in SAFE_BUILTINS or qualname in SAFE_STDLIB_CLASSES:
        return Judgement(Verdict.SAFE, "allowlist", "on a framework allowlist")
    last = qualname.rsplit(".", 1)[-1]
    owner = qualname.rsplit(".", 1)[0] if "." in qualname else ""
    if (owner in SAFE_STDLIB_CLASSES or owner in SAFE_CALLS) and any(
        fnmatch.fnmatchcase(last, pat) for pat in _RECONSTRUCTOR_PATTERNS
    ):
        return Judgement(Verdict.SAFE, "allowlist", f"reconstructor of the allowlisted {owner}")
    loader = _under(qualname, tuple(DANGEROUS_CALLS)) if usage is Usage.CALL else None
    if loader is not None:
        category, reason = DANGEROUS_CALLS[loader]
        return Judgement(Verdict.DANGEROUS, category, f"its constructor loads a model: {reason}")
    trusted = _under(qualname, TRUSTED_NAMESPACES)
    ecosystem = _under(qualname, ECOSYSTEM_NAMESPACES)
    denied_subtree = _under(qualname, DENIED_SUBTREES)
    if denied_subtree is not None:
        return Judgement(
            Verdict.DANGEROUS,
            "framework-internals",
            f"{denied_subtree} holds code runners, file or network access, not model state",
        )
    if trusted is not None or ecosystem is not None:
        namespace = trusted or ecosystem
        if usage is not Usage.CALL:
            return Judgement(Verdict.SAFE, "framework", f"{usage.value} from {namespace}")
        if any(fnmatch.fnmatchcase(last, pat) for pat in _RECONSTRUCTOR_PATTERNS):
            return Judgement(Verdict.SAFE, "framework", f"reconstructor in {namespace}")
        if _is_class_name(last) and any(
            fnmatch.fnmatchcase(last.lstrip("_"), pat) for pat in _IO_CLASS_PATTERNS
        ):
            return Judgement(
                Verdict.UNKNOWN_CALL,
                "unreviewed-constructor",
                f"constructor of a {namespace} file, stream, loader or worker pool class called "
                "at load time; it opens or runs what its arguments name",
            )
        if _is_class_name(last) and (trusted is not None or single_literal_arg):
            return Judgement(Verdict.SAFE, "framework", f"class of {namespace} rebuilt")
        if _is_class_name(last):
            return Judgement(
                Verdict.REVIEW,
                "unreviewed-constructor",
                f"constructor of {namespace} class called with arguments; not on an allowlist",
            )
        return Judgement(
            Verdict.UNKNOWN_CALL,
            "unreviewed-callable",
            f"function of {namespace} called at load time but not on an allowlist",
        )
    if usage is Usage.CALL:
        return Judgement(
            Verdict.UNKNOWN_CALL,
            "unknown-callable",
            "called at load time, and not known to be safe",
        )
    return Judgement(
        Verdict.REVIEW,
        "unknown-global",
        f"{'instantiated' if usage is Usage.CONSTRUCT else 'imported'} at load time; "
        "its module code and constructor run, and it is not on an allowlist",
    )


def _explicitly_safe(qualname: str) -> bool:
    return qualname in SAFE_CALLS or qualname in SAFE_BUILTINS or qualname in SAFE_STDLIB_CLASSES


def is_import_gadget(qualname: str) -> bool:
    """Allowlisted functions that import a module and attribute named by their arguments."""
    return qualname in IMPORT_GADGETS


def normalize_module(module: str, name: str) -> tuple[str, str]:
    """Map Python 2 names (``__builtin__``, ``copy_reg``) the way the unpickler does."""
    import _compat_pickle

    if (module, name) in _compat_pickle.NAME_MAPPING:
        module, name = _compat_pickle.NAME_MAPPING[(module, name)]
    elif module in _compat_pickle.IMPORT_MAPPING:
        module = _compat_pickle.IMPORT_MAPPING[module]
    return module, name
