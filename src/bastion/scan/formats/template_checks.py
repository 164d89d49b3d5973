"""The checks run on every node of a parsed chat template.

Each check looks at one node shape: attribute and item access (``x.__class__``,
``x['__globals__']``), the ``attr`` filter and the filters that take attribute paths, calls of
free names (``getattr``, ``eval``) and of methods (``.popen()``, ``'{0.__class__}'.format``),
references to Jinja's global objects (``cycler``, ``lipsum``, ``self``…), string pieces that
fold into dunder names, and template inclusion; resource use is judged by
:mod:`~bastion.scan.formats.template_resources`. Names are compared after constant folding, so
a name built from pieces is judged like the name itself.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from jinja2 import nodes

from bastion.core import Confidence, Severity
from bastion.scan.formats import template_names as N
from bastion.scan.formats import template_resources as R
from bastion.scan.formats.template_fold import Folder
from bastion.scan.formats.template_walk import (
    Check,
    TemplateIssue,
    bindings,
    constant_env,
    describe,
)

_BLOCK_NODES = (
    nodes.For,
    nodes.If,
    nodes.Macro,
    nodes.CallBlock,
    nodes.FilterBlock,
    nodes.With,
    nodes.Block,
    nodes.Scope,
)
_BUILDERS = (nodes.Concat, nodes.Add, nodes.Mod, nodes.Filter, nodes.Call, nodes.Getitem)
_FIELD_TRAVERSAL = re.compile(r"\{[^{}]*[.\[][^{}]*\}")


class Inspector:
    """Walks one parsed template and collects :class:`TemplateIssue` values."""

    def __init__(self, tree: nodes.Template) -> None:
        self.tree = tree
        self.bound, values, self.blocks = bindings(tree)
        self.folder = Folder(constant_env(values))
        self.issues: list[TemplateIssue] = []
        self._self_ok: set[int] = set()

    def run(self) -> list[TemplateIssue]:
        """Walk every node (iteratively: deep templates cost no recursion here)."""
        stack: list[tuple[nodes.Node, int, int, int]] = [(self.tree, 0, 0, 1)]
        while stack:
            node, blocks, exprs, work = stack.pop()
            self._keep(R.depth_issue(node, blocks, exprs))
            work = self._visit(node, work)
            inner_blocks = blocks + isinstance(node, _BLOCK_NODES)
            inner_exprs = exprs + 1 if isinstance(node, nodes.Expr) else 0
            stack.extend(
                (child, inner_blocks, inner_exprs, work)
                for child in reversed(list(node.iter_child_nodes()))
            )
        return self.issues

    def _add(
        self,
        check: Check,
        node: nodes.Node,
        message: str,
        evidence: str,
        severity: Severity | None = None,
        confidence: Confidence | None = None,
    ) -> None:
        line = getattr(node, "lineno", None)
        self.issues.append(TemplateIssue(check, message, evidence, line, severity, confidence))

    def _keep(self, issue: TemplateIssue | None) -> None:
        if issue is not None:
            self.issues.append(issue)

    def _free(self, name: str) -> bool:
        return name not in self.bound

    def _visit(self, node: nodes.Node, work: int) -> int:
        if isinstance(node, nodes.Getattr):
            self._member(node.node, node.attr, "attribute", node)
        elif isinstance(node, nodes.Getitem):
            key = self.folder.fold_str(node.arg)
            self._member(node.node, key, "item", node)
        elif isinstance(node, nodes.Filter):
            self._filter(node)
        elif isinstance(node, nodes.Call):
            self._call(node)
        elif isinstance(node, nodes.Name) and node.ctx == "load":
            self._name(node)
        elif isinstance(node, nodes.Const) and isinstance(node.value, str):
            self._constant(node, node.value)
        elif isinstance(node, nodes.Include | nodes.Import | nodes.FromImport | nodes.Extends):
            self._inclusion(node)
        elif isinstance(node, nodes.Mul | nodes.Pow):
            self._keep(R.arithmetic_issue(self.folder, node))
        elif isinstance(node, nodes.For):
            work, issue = R.loop_work(self.folder, node, work, self._free("range"))
            self._keep(issue)
        if isinstance(node, _BUILDERS):
            self._built(node)
        return work

    # -- names reached through attributes, items and filters -------------------------------

    def _member(
        self, base: nodes.Node | None, name: str | None, how: str, node: nodes.Node
    ) -> None:
        """Judge an access to ``name`` (``None`` when computed) on ``base``."""
        if base is not None:
            self._global_base(base, name, node)
        if name is None:
            return
        where = describe(node)
        if N.DUNDER.match(name) or name in N.REFLECTIVE_ATTRS:
            self._add(
                Check.INTERNALS,
                node,
                f"{how} access to {name!r} in `{where}`: the path template-injection payloads "
                "take to Python classes, globals and builtins",
                f"{how} {name}",
            )
        elif name in N.COMMAND_ATTRS and how != "item":
            self._add(
                Check.COMMAND, node, f"{how} access to {name!r} in `{where}`", f"{how} {name}"
            )
        elif name in N.FORMAT_METHODS and how != "attribute":
            self._add(
                Check.REFLECTION,
                node,
                f"{how} access to {name!r} in `{where}` obtains str.format, which walks "
                "attributes of its arguments",
                f"{how} {name}",
            )
        elif name.startswith("_") and how != "item":
            self._add(
                Check.INTERNALS,
                node,
                f"{how} access to private name {name!r} in `{where}` (Jinja's sandbox refuses it)",
                f"{how} {name}",
                Severity.MEDIUM,
                Confidence.LOW,
            )

    def _global_base(self, base: nodes.Node, name: str | None, node: nodes.Node) -> None:
        if not (isinstance(base, nodes.Name) and base.name in N.GLOBAL_OBJECTS):
            return
        if not self._free(base.name):
            return
        if base.name == "self" and name in self.blocks and isinstance(node, nodes.Getattr):
            self._self_ok.add(id(base))
            return
        self._self_ok.add(id(base))
        self._add(
            Check.GLOBALS,
            node,
            f"`{describe(node)}` reaches into the Jinja global {base.name!r}; its functions "
            "carry __globals__ (the module namespace) and are the usual sandbox escape",
            f"global {base.name}",
        )

    def _filter(self, node: nodes.Filter) -> None:
        self._filter_call(node.name, node.args, node.kwargs, node)
        if node.name in N.WIDTH_FILTERS:
            self._keep(R.width_issue(self.folder, node))

    def _filter_call(
        self,
        name: str,
        args: Sequence[nodes.Expr],
        kwargs: Sequence[nodes.Pair | nodes.Keyword],
        node: nodes.Node,
    ) -> None:
        """A filter applied with ``args``; ``map`` applies the filter its first argument names."""
        if name == "attr":
            arg = args[0] if args else None
            attr = self.folder.fold_str(arg)
            if attr is None:
                self._add(
                    Check.REFLECTION,
                    node,
                    f"`{describe(node)}` looks up an attribute whose name is computed at "
                    "render time",
                    "attr filter with computed name",
                )
            elif not _special(attr):
                self._add(
                    Check.REFLECTION,
                    node,
                    f"`{describe(node)}` looks up attribute {attr!r} with the attr filter, "
                    "which chat templates have no use for",
                    f"attr filter {attr}",
                    Severity.MEDIUM,
                )
            base = node.node if isinstance(node, nodes.Filter) and node.name == "attr" else None
            self._member(base, attr, "attr filter", node)
            return
        if name == "map" and args:
            # NOTE: ``map('attr', '__class__')`` runs the named filter on every item.
            inner = self.folder.fold_str(args[0])
            if inner is None:
                self._add(
                    Check.REFLECTION,
                    node,
                    f"`{describe(node)}` maps a filter whose name is computed at render time",
                    "map with computed filter",
                )
            elif inner != "map":
                self._filter_call(inner, args[1:], kwargs, node)
            return
        if name not in N.ATTRIBUTE_FILTERS:
            return
        path = next((k.value for k in kwargs if k.key == "attribute"), None)
        index = N.ATTRIBUTE_POSITIONS[name]
        if path is None and index is not None and len(args) > index:
            path = args[index]
        if path is None:
            return
        text = self.folder.fold_str(path)
        if text is None:
            self._add(
                Check.REFLECTION,
                node,
                f"`{describe(node)}` uses an attribute path computed at render time",
                f"{name} with computed attribute",
                Severity.MEDIUM,
            )
            return
        for part in text.split("."):
            self._member(None, part, f"|{name} attribute", node)

    # -- calls and free names --------------------------------------------------------------

    def _call(self, node: nodes.Call) -> None:
        target = node.node
        if isinstance(target, nodes.Name) and self._free(target.name):
            name = target.name
            if name in N.CODE_CALLS:
                self._add(
                    Check.COMMAND, node, f"`{describe(node)}` calls Python's {name}", f"call {name}"
                )
            elif name in N.REFLECTION_CALLS:
                self._add(
                    Check.REFLECTION,
                    node,
                    f"`{describe(node)}` calls {name}, a Python reflection builtin",
                    f"call {name}",
                )
            elif name == "range":
                self._keep(R.range_size(self.folder, node)[1])
        elif isinstance(target, nodes.Getattr):
            if target.attr in N.COMMAND_CALLS:
                self._add(
                    Check.COMMAND,
                    node,
                    f"`{describe(node)}` calls a method named {target.attr!r}",
                    f"call .{target.attr}",
                )
            elif target.attr in N.FORMAT_METHODS:
                self._format_call(node, target)

    def _format_call(self, node: nodes.Call, target: nodes.Getattr) -> None:
        fmt = self.folder.fold_str(target.node)
        if fmt is None:
            if target.attr == "format_map":
                self._add(
                    Check.REFLECTION,
                    node,
                    f"`{describe(node)}` formats with a computed format string",
                    "format_map with computed format",
                    Severity.MEDIUM,
                )
            return
        fields = _FIELD_TRAVERSAL.findall(fmt)
        if not fields:
            return
        dunder = any("__" in f for f in fields)
        self._add(
            Check.INTERNALS if dunder else Check.REFLECTION,
            node,
            f"format string {fields[0]!r} walks attributes of its arguments",
            f"format field {fields[0]}",
            None if dunder else Severity.HIGH,
        )

    def _name(self, node: nodes.Name) -> None:
        if not self._free(node.name):
            return
        if node.name in N.MODULE_NAMES:
            self._add(
                Check.COMMAND,
                node,
                f"the template refers to {node.name!r}, a Python module or builtin namespace",
                f"name {node.name}",
            )
        elif node.name == "self" and id(node) not in self._self_ok:
            self._add(
                Check.GLOBALS,
                node,
                "the template uses `self` (its own TemplateReference), a known path to the "
                "rendering context",
                "global self",
            )

    def _constant(self, node: nodes.Const, text: str) -> None:
        match = N.DUNDER_INSIDE.search(text)
        if match:
            self._add(
                Check.INTERNALS,
                node,
                f"string constant mentions {match.group(0)} (not used as a name here)",
                f"mentions {match.group(0)}",
                Severity.MEDIUM,
                Confidence.LOW,
            )

    def _built(self, node: nodes.Node) -> None:
        """A string assembled from pieces that spells a dunder or a command name."""
        if isinstance(node, nodes.Call | nodes.Getitem | nodes.Filter) and not _folds(node):
            return
        text = self.folder.fold_str(node)
        if text is None or len(text) > 200:
            return
        match = N.DUNDER_INSIDE.search(text) or N.DUNDER.match(text)
        if match:
            self._add(
                Check.INTERNALS,
                node,
                f"the template assembles the name {match.group(0)!r} from pieces",
                f"builds {match.group(0)}",
                Severity.HIGH,
            )
        elif text in N.COMMAND_ATTRS or text in N.MODULE_NAMES:
            self._add(
                Check.COMMAND,
                node,
                f"the template assembles the name {text!r} from pieces",
                f"builds {text}",
                Severity.HIGH,
            )

    # -- inclusion -------------------------------------------------------------------------

    def _inclusion(
        self, node: nodes.Include | nodes.Import | nodes.FromImport | nodes.Extends
    ) -> None:
        kind = {
            nodes.Include: "include",
            nodes.Import: "import",
            nodes.FromImport: "from-import",
            nodes.Extends: "extends",
        }[type(node)]
        name = self.folder.fold_str(node.template)
        shown = repr(name) if name is not None else "a computed name"
        self._add(
            Check.INCLUSION,
            node,
            f"{{% {kind} %}} of {shown}: a chat template is self-contained; with a loader "
            "configured this reads other files",
            f"{kind} {name if name is not None else '<computed>'}",
        )


def _special(name: str) -> bool:
    """Whether a name is judged on its own (internals, private, command, format)."""
    return bool(
        N.DUNDER.match(name)
        or name.startswith("_")
        or name in N.REFLECTIVE_ATTRS
        or name in N.COMMAND_ATTRS
        or name in N.FORMAT_METHODS
    )


def _folds(node: nodes.Node) -> bool:
    """Whether a call, filter or subscript is one of the string operations worth folding."""
    if isinstance(node, nodes.Filter):
        return node.name in {
            "join",
            "format",
            "replace",
            "reverse",
            "string",
            "lower",
            "upper",
            "first",
            "last",
        }
    if isinstance(node, nodes.Call):
        target = node.node
        return isinstance(target, nodes.Getattr) and target.attr in {"join", "format", "replace"}
    return isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Slice)
