"""What the code rules know about a module: scopes, bindings, recorded calls, name resolution.

:func:`bastion.scan.code.walk.collect` fills a :class:`ModuleFacts` in one pass over the AST;
names are resolved afterwards, here, when every binding of the module is known (Python's
scoping is flow-insensitive within a function, and so is this):

* ``import torch as T`` / ``from pickle import loads as l`` / ``from torch import load``;
* assignments of such names (``l = pickle.loads``), ``importlib.import_module("pickle")``,
  ``__import__("os")`` and ``getattr(pickle, "loads")`` with literal arguments;
* function parameters and other local bindings *shadow* imports (a parameter named ``tarfile``
  is not the module), class bodies are not visible from methods, ``global`` goes to the module.

>>> canonical("cPickle.loads")
'pickle.loads'
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

#: Module prefixes folded into the name rules are written against (longest prefix wins).
CANONICAL: Final[dict[str, str]] = {
    "cPickle": "pickle",
    "_pickle": "pickle",
    "pickle5": "pickle",
    "_compat_pickle": "pickle",
    "dill._dill": "dill",
    "cloudpickle.cloudpickle": "cloudpickle",
    "cloudpickle.cloudpickle_fast": "cloudpickle",
    "sklearn.externals.joblib": "joblib",
    "joblib.numpy_pickle": "joblib",
    "torch.serialization": "torch",
    "pandas.io.pickle": "pandas",
    "numpy.lib.npyio": "numpy",
    "yaml.loader": "yaml",
    "yaml.cyaml": "yaml",
    "tensorflow.keras": "keras",
    "tf_keras": "keras",
    "keras.api": "keras",
    "keras.src.saving.saving_api": "keras.saving",
    "keras.src.saving.serialization_lib": "keras.config",
    "keras.src.saving": "keras.saving",
    "keras.src.models": "keras.models",
    "keras.src": "keras",
    "urllib2": "urllib.request",
    "six.moves.urllib.request": "urllib.request",
    "six.moves.urllib": "urllib",
    "future.moves.urllib.request": "urllib.request",
    "posix": "os",
    "nt": "os",
    "huggingface_hub.file_download": "huggingface_hub",
    "huggingface_hub._snapshot_download": "huggingface_hub",
    "datasets.load": "datasets",
    "transformers.pipelines": "transformers",
    "mlflow.pyfunc.model": "mlflow.pyfunc",
    "aiohttp.client": "aiohttp",
    "aiohttp.connector": "aiohttp",
    "httpx._api": "httpx",
    "requests.api": "requests",
    "requests.sessions": "requests",
}

_BUILTINS: Final = frozenset({"eval", "exec", "compile", "open", "__import__", "getattr", "input"})
_MAX_DEPTH: Final = 24
#: A name bound more often than this in one scope is not followed (generated code, counters).
MAX_BINDINGS: Final = 16


def canonical(name: str) -> str:
    """Fold a dotted name's module prefix (``cPickle.loads`` → ``pickle.loads``)."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        head = ".".join(parts[:cut])
        target = CANONICAL.get(head)
        if target is not None:
            return ".".join([target, *parts[cut:]])
    return name


@dataclass(frozen=True)
class Binding:
    """How a name got its value: an import (``qual``), an expression (``value``), a function
    defined here (``body``: its scope, whose ``returns`` say what calling it gives), or unknown."""

    qual: str | None = None
    value: ast.expr | None = None
    scope: Scope | None = None
    body: Scope | None = None


@dataclass(eq=False)
class Scope:
    """A module, function, lambda, class body or comprehension, with its own bindings."""

    kind: str
    parent: Scope | None = None
    bindings: dict[str, list[Binding]] = field(default_factory=dict)
    star_imports: list[str] = field(default_factory=list)
    globals: set[str] = field(default_factory=set)
    #: The expressions this (function) scope returns.
    returns: list[ast.expr] = field(default_factory=list)

    def bind(self, name: str, binding: Binding) -> None:
        """Record one binding of ``name`` in this scope."""
        self.bindings.setdefault(name, []).append(binding)


@dataclass(frozen=True)
class CallSite:
    """A call some rule may care about, with the scope it is evaluated in."""

    node: ast.Call
    scope: Scope
    tail: str


@dataclass(frozen=True)
class AttrAssign:
    """``target.attr = value`` (``session.verify = False``, ``ctx.check_hostname = False``)."""

    node: ast.Assign
    attr: str
    value: ast.expr
    scope: Scope


class ModuleFacts:
    """Everything the rules read about one module; resolution helpers live here."""

    def __init__(self, module: Scope) -> None:
        self.module = module
        self.calls: list[CallSite] = []
        self.references: list[tuple[ast.expr, Scope]] = []
        self.attr_assigns: list[AttrAssign] = []
        self.imported_roots: set[str] = set()
        #: Per-scope memo of dump/save destinations (see :mod:`.loading`).
        self.written_cache: dict[int, frozenset[str]] = {}
        #: Memo of data-trust answers by (expression, scope) (see :mod:`.loading`).
        self.trust_memo: dict[tuple[int, int], bool] = {}
        self._resolved: dict[tuple[int, str], str | None] = {}
        self._resolving: set[tuple[int, str]] = set()

    # -- names -----------------------------------------------------------------------------
    def lookup(self, name: str, scope: Scope) -> tuple[Scope | None, list[Binding]]:
        """The scope that binds ``name`` as seen from ``scope``, and its bindings."""
        current: Scope | None = scope
        first = True
        while current is not None:
            if current.kind == "class" and not first:
                current = current.parent
                continue
            if name in current.globals:
                current = self.module
            found = current.bindings.get(name)
            if found is not None:
                return current, found
            first = False
            current = current.parent
        return None, []

    def qualname(self, expr: ast.expr, scope: Scope, depth: int = 0) -> str | None:
        """The canonical dotted name an expression refers to, when it can be known statically."""
        if depth > _MAX_DEPTH:
            return None
        if isinstance(expr, ast.Name):
            return self._name(expr.id, scope, depth)
        if isinstance(expr, ast.Attribute):
            base = self.qualname(expr.value, scope, depth + 1)
            return canonical(f"{base}.{expr.attr}") if base else None
        if isinstance(expr, ast.Call):
            return self._dynamic_import(expr, scope, depth)
        return None

    def _name(self, name: str, scope: Scope, depth: int) -> str | None:
        owner, bindings = self.lookup(name, scope)
        if owner is None:
            if name in _BUILTINS:
                return f"builtins.{name}"
            stars = [m for s in self._chain(scope) for m in s.star_imports]
            if len(stars) == 1 and stars[0]:
                return canonical(f"{stars[0]}.{name}")
            return None
        key = (id(owner), name)
        if key in self._resolved:
            return self._resolved[key]
        if key in self._resolving or len(bindings) > MAX_BINDINGS:
            return None  # a cycle (x = getattr(x, ...)) or a name rebound too often to follow
        self._resolving.add(key)
        try:
            result = self._agree(bindings, owner, depth)
        finally:
            self._resolving.discard(key)
        self._resolved[key] = result
        return result

    def _agree(self, bindings: list[Binding], owner: Scope, depth: int) -> str | None:
        """The one name every binding resolves to, or ``None``."""
        quals: set[str | None] = set()
        for binding in bindings:
            if binding.qual is not None:
                quals.add(binding.qual)
            elif binding.value is not None:
                quals.add(self.qualname(binding.value, binding.scope or owner, depth + 1))
            else:
                quals.add(None)
            if len(quals) > 1:
                return None
        return quals.pop() if quals else None

    def _dynamic_import(self, call: ast.Call, scope: Scope, depth: int) -> str | None:
        func = self.qualname(call.func, scope, depth + 1)
        if func in {"importlib.import_module", "builtins.__import__"} and call.args:
            module = literal_str(call.args[0])
            return canonical(module) if module else None
        if func == "builtins.getattr" and len(call.args) >= 2:
            attr = literal_str(call.args[1])
            base = self.qualname(call.args[0], scope, depth + 1)
            return canonical(f"{base}.{attr}") if base and attr else None
        return None

    def _chain(self, scope: Scope) -> Iterator[Scope]:
        current: Scope | None = scope
        while current is not None:
            yield current
            current = current.parent

    def values_of(self, name: str, scope: Scope) -> list[tuple[ast.expr, Scope]] | None:
        """The expressions assigned to a local name, or ``None`` if any binding is opaque (or
        there are too many to follow)."""
        owner, bindings = self.lookup(name, scope)
        if owner is None or not bindings or len(bindings) > MAX_BINDINGS:
            return None
        values = []
        for binding in bindings:
            if binding.value is None:
                return None
            values.append((binding.value, binding.scope or owner))
        return values

    def function_body(self, expr: ast.expr, scope: Scope) -> Scope | None:
        """The body scope of a function defined in this module that ``expr`` names, if any."""
        if not isinstance(expr, ast.Name):
            return None
        _, bindings = self.lookup(expr.id, scope)
        if len(bindings) == 1 and bindings[0].body is not None:
            return bindings[0].body
        return None

    def constant(self, expr: ast.expr, scope: Scope, depth: int = 0) -> object | None:
        """The literal value of an expression (following names bound once to a literal)."""
        if isinstance(expr, ast.Constant):
            return expr.value
        if depth < 4 and isinstance(expr, ast.Name):
            values = self.values_of(expr.id, scope)
            if values is not None and len(values) == 1:
                return self.constant(values[0][0], values[0][1], depth + 1)
        if isinstance(expr, ast.JoinedStr) and all(
            isinstance(v, ast.Constant) for v in expr.values
        ):
            return "".join(str(v.value) for v in expr.values if isinstance(v, ast.Constant))
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
            left = self.constant(expr.left, scope, depth + 1)
            right = self.constant(expr.right, scope, depth + 1)
            if isinstance(left, str) and isinstance(right, str):
                return left + right
        return None

    def string_prefix(self, expr: ast.expr, scope: Scope) -> str | None:
        """The literal start of a string expression (``f"http://{host}/x"`` → ``http://``)."""
        value = self.constant(expr, scope)
        if isinstance(value, str):
            return value
        if isinstance(expr, ast.JoinedStr) and expr.values:
            first = expr.values[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                return first.value
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add | ast.Mod):
            return self.string_prefix(expr.left, scope)
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute):
            if expr.func.attr == "format":
                return self.string_prefix(expr.func.value, scope)
        return None


def literal_str(expr: ast.expr) -> str | None:
    """A string constant's value."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return expr.value
    return None


def keyword(call: ast.Call, name: str) -> ast.expr | None:
    """The value of keyword argument ``name``."""
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    return None


def argument(call: ast.Call, index: int, name: str | None = None) -> ast.expr | None:
    """A positional argument, or the same parameter passed by keyword."""
    if len(call.args) > index and not any(
        isinstance(a, ast.Starred) for a in call.args[: index + 1]
    ):
        return call.args[index]
    return keyword(call, name) if name else None


def has_kwargs_splat(call: ast.Call) -> bool:
    """Whether ``**kwargs`` is passed (any keyword may then be set invisibly)."""
    return any(kw.arg is None for kw in call.keywords)
