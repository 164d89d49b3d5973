"""The single pass over a module's AST that fills :class:`~.facts.ModuleFacts`.

Each node is visited once, iteratively (no recursion limit to hit): bindings go into their
scope, calls whose name or keywords some check is about are recorded, so are references to a
few names (``ssl.CERT_NONE``) and attribute assignments. Contexts, operators and literals are
not descended into.

>>> import ast
>>> source = "import torch as T\\nfrom pickle import loads as l\\nT.load(f)\\nl(b)"
>>> facts = collect(ast.parse(source))
>>> sorted(facts.qualname(site.node.func, site.scope) for site in facts.calls)
['pickle.loads', 'torch.load']
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any, Final

from bastion.scan.code.facts import AttrAssign, Binding, CallSite, ModuleFacts, Scope, canonical

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
