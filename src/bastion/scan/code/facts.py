"""One pass over a module's AST: scopes, import aliases, assignments and the calls worth checking.

The rules never walk the tree themselves. :func:`collect` visits each node once and records
what any rule may need; names are resolved afterwards, when every binding of the module is known
(Python's scoping is flow-insensitive within a function, and so is this):

* ``import torch as T`` / ``from pickle import loads as l`` / ``from torch import load``;
* assignments of such names (``l = pickle.loads``), ``importlib.import_module("pickle")``,
  ``__import__("os")`` and ``getattr(pickle, "loads")`` with literal arguments;
* function parameters and other local bindings *shadow* imports (a parameter named ``tarfile``
  is not the module), class bodies are not visible from methods, ``global`` goes to the module.

>>> import ast
>>> source = "import torch as T\\nfrom pickle import loads as l\\nT.load(f)\\nl(b)"
>>> facts = collect(ast.parse(source))
>>> sorted(facts.qualname(site.node.func, site.scope) for site in facts.calls)
['pickle.loads', 'torch.load']
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

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


Push = Callable[[tuple[ast.AST, Scope]], None]


class _Collector:
    """The single pass; see :func:`collect`."""

    def __init__(
        self, tails: frozenset[str], keywords: frozenset[str], refs: frozenset[str]
    ) -> None:
        self.tails = tails
        self.keywords = keywords
        self.refs = refs
        self.module = Scope("module")
        self.facts = ModuleFacts(self.module)

    def run(self, tree: ast.AST) -> ModuleFacts:
        stack: list[tuple[ast.AST, Scope]] = [(tree, self.module)]
        pop, push = stack.pop, stack.append
        refs, handlers = self.refs, _BINDING_HANDLERS
        while stack:
            node, scope = pop()
            kind = type(node)
            if kind is ast.Call:
                self._call(node, scope)  # type: ignore[arg-type]
            elif kind is ast.Name:
                if node.id in refs:  # type: ignore[attr-defined]
                    self.facts.references.append((node, scope))  # type: ignore[arg-type]
                continue
            elif kind is ast.Attribute:
                if node.attr in refs:  # type: ignore[attr-defined]
                    self.facts.references.append((node, scope))  # type: ignore[arg-type]
            else:
                handler = handlers.get(kind)
                if handler is not None:
                    inner = handler(self, node, scope, push)
                    if inner is None:
                        continue
                    scope = inner
            fields = _CHILD_FIELDS.get(kind)
            if fields is None:
                fields = _child_fields(kind)
            for name in fields:
                value = getattr(node, name, None)
                if value.__class__ is list:
                    for item in value:
                        if isinstance(item, ast.AST) and item.__class__ not in _LEAVES:
                            push((item, scope))
                elif isinstance(value, ast.AST) and value.__class__ not in _LEAVES:
                    push((value, scope))
        return self.facts

    def _call(self, node: ast.Call, scope: Scope) -> None:
        func = node.func
        if isinstance(func, ast.Attribute):
            tail = func.attr
            wanted = tail in self.tails
        else:
            # Bare names and calls of calls may be aliases (``l = pickle.loads``,
            # ``getattr(pickle, "loads")(x)``): resolved after the pass, like every name.
            tail = func.id if isinstance(func, ast.Name) else ""
            wanted = True
        if wanted or any(kw.arg in self.keywords for kw in node.keywords):
            self.facts.calls.append(CallSite(node, scope, tail))


#: Fields that never hold a node worth visiting (contexts, operators, names, literals).
_SKIPPED_FIELDS = frozenset(
    {
        "ctx",
        "op",
        "ops",
        "id",
        "attr",
        "arg",
        "name",
        "module",
        "level",
        "names",
        "kind",
        "conversion",
        "is_async",
        "type_comment",
        "type_ignores",
    }
)
#: Node types with nothing below them that any rule reads.
_LEAVES: frozenset[type] = frozenset(
    {ast.Constant, ast.Pass, ast.Break, ast.Continue, ast.alias, ast.Load, ast.Store, ast.Del}
)
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}


def _child_fields(kind: type) -> tuple[str, ...]:
    """The fields of a node type that may hold child nodes (memoized per type)."""
    fields = tuple(f for f in getattr(kind, "_fields", ()) if f not in _SKIPPED_FIELDS)
    _CHILD_FIELDS[kind] = fields
    return fields


def _bind_targets(target: ast.expr, scope: Scope, value: ast.expr | None) -> None:
    if isinstance(target, ast.Name):
        scope.bind(target.id, Binding(value=value, scope=scope) if value else Binding())
    elif isinstance(target, ast.Tuple | ast.List):
        values = value.elts if isinstance(value, ast.Tuple | ast.List) else None
        for i, element in enumerate(target.elts):
            paired = values[i] if values is not None and len(values) == len(target.elts) else None
            _bind_targets(element, scope, paired)
    elif isinstance(target, ast.Starred):
        _bind_targets(target.value, scope, None)


def _import(c: _Collector, node: Any, scope: Scope, push: Push) -> Scope:
    for alias in node.names:
        c.facts.imported_roots.add(alias.name.split(".", 1)[0])
        if alias.asname:
            scope.bind(alias.asname, Binding(qual=canonical(alias.name)))
        else:
            root = alias.name.split(".", 1)[0]
            scope.bind(root, Binding(qual=canonical(root)))
    return scope


def _import_from(c: _Collector, node: Any, scope: Scope, push: Push) -> Scope:
    module = node.module or ""
    if node.level == 0 and module:
        c.facts.imported_roots.add(module.split(".", 1)[0])
    for alias in node.names:
        if alias.name == "*":
            scope.star_imports.append(canonical(module) if node.level == 0 else "")
            continue
        local = alias.asname or alias.name
        if node.level:
            scope.bind(local, Binding())
        else:
            scope.bind(local, Binding(qual=canonical(f"{module}.{alias.name}")))
    return scope


def _function(c: _Collector, node: Any, scope: Scope, push: Push) -> Scope | None:
    """Defaults and decorators run in the outer scope, the body in a new one."""
    inner = Scope("class" if isinstance(node, ast.ClassDef) else "function", scope)
    if isinstance(node, ast.Lambda):
        inner.returns.append(node.body)
    elif isinstance(node, ast.ClassDef):
        scope.bind(node.name, Binding())
    else:
        scope.bind(node.name, Binding(body=inner))
    if not isinstance(node, ast.Lambda):
        for decorator in node.decorator_list:
            push((decorator, scope))
    if isinstance(node, ast.ClassDef):
        for base in (*node.bases, *node.keywords):
            push((base, scope))
    else:
        args = node.args
        for default in (*args.defaults, *(d for d in args.kw_defaults if d is not None)):
            push((default, scope))
        for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg):
            if arg is not None:
                inner.bind(arg.arg, Binding())
    body = node.body if isinstance(node.body, list) else [node.body]
    for statement in body:
        push((statement, inner))
    return None


def _comprehension(c: _Collector, node: Any, scope: Scope, push: Push) -> Scope:
    inner = Scope("function", scope)
    for generator in node.generators:
        _bind_targets(generator.target, inner, element_of(generator.iter))
    return inner


def _assign(c: _Collector, node: Any, scope: Scope, push: Push) -> Scope:
    for target in node.targets:
        if isinstance(target, ast.Attribute):
            c.facts.attr_assigns.append(AttrAssign(node, target.attr, node.value, scope))
        else:
            _bind_targets(target, scope, node.value)
    return scope


def _ann_assign(c: _Collector, node: Any, scope: Scope, push: Push) -> Scope:
    if node.value is not None:
        _bind_targets(node.target, scope, node.value)
    return scope


def _opaque_target(c: _Collector, node: Any, scope: Scope, push: Push) -> Scope:
    _bind_targets(node.target, scope, None)
    return scope


def _for(c: _Collector, node: Any, scope: Scope, push: Push) -> Scope:
    _bind_targets(node.target, scope, element_of(node.iter))
    return scope


def element_of(container: ast.expr) -> ast.expr:
    """A synthetic ``container[…]``: the value a loop variable takes (an element of it)."""
    element = ast.Subscript(value=container, slice=ast.Constant(value=...), ctx=ast.Load())
    return ast.copy_location(element, container)


def _named_expr(c: _Collector, node: Any, scope: Scope, push: Push) -> Scope:
    _bind_targets(node.target, scope, node.value)
    return scope


def _with(c: _Collector, node: Any, scope: Scope, push: Push) -> Scope:
    for item in node.items:
        if item.optional_vars is not None:
            _bind_targets(item.optional_vars, scope, item.context_expr)
    return scope


def _handler(c: _Collector, node: Any, scope: Scope, push: Push) -> Scope:
    if node.name:
        scope.bind(node.name, Binding())
    return scope


def _return(c: _Collector, node: Any, scope: Scope, push: Push) -> Scope:
    if node.value is not None:
        scope.returns.append(node.value)
    return scope


def _global(c: _Collector, node: Any, scope: Scope, push: Push) -> Scope:
    scope.globals.update(node.names)
    return scope


Handler = Callable[[_Collector, Any, Scope, Push], "Scope | None"]

_BINDING_HANDLERS: dict[type, Handler] = {
    ast.Import: _import,
    ast.ImportFrom: _import_from,
    ast.FunctionDef: _function,
    ast.AsyncFunctionDef: _function,
    ast.Lambda: _function,
    ast.ClassDef: _function,
    ast.ListComp: _comprehension,
    ast.SetComp: _comprehension,
    ast.DictComp: _comprehension,
    ast.GeneratorExp: _comprehension,
    ast.Assign: _assign,
    ast.AnnAssign: _ann_assign,
    ast.AugAssign: _opaque_target,
    ast.For: _for,
    ast.AsyncFor: _for,
    ast.NamedExpr: _named_expr,
    ast.With: _with,
    ast.AsyncWith: _with,
    ast.ExceptHandler: _handler,
    ast.Global: _global,
    ast.Return: _return,
}


def collect(
    tree: ast.AST,
    *,
    tails: frozenset[str] | None = None,
    keywords: frozenset[str] = frozenset(),
    refs: frozenset[str] = frozenset(),
) -> ModuleFacts:
    """Walk ``tree`` once; record bindings and the calls whose name is in ``tails`` (all if
    ``None``) or that pass one of ``keywords``, and references to names in ``refs``."""
    collector = _Collector(tails if tails is not None else _ALL, keywords, refs)
    return collector.run(tree)


class _Everything(frozenset[str]):
    def __contains__(self, item: object) -> bool:
        return True


_ALL: Final = _Everything()
