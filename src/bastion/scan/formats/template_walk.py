"""The vocabulary of chat-template inspection: issues, expression rendering, bindings.

:class:`TemplateIssue` is what every check produces. :func:`bindings` and
:func:`constant_env` read what a template assigns, so later checks know which names are the
template's own variables (not Jinja globals) and which variables hold constant strings (so a
name stored in a variable is judged like the name itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from jinja2 import nodes

from bastion.core import Confidence, Severity
from bastion.scan.formats.template_fold import Folded, Folder, _Unknown


class Check(str, Enum):
    """What kind of problem a template issue is."""

    INTERNALS = "internals"
    REFLECTION = "reflection"
    GLOBALS = "globals"
    COMMAND = "command"
    INCLUSION = "inclusion"
    RESOURCES = "resources"
    SYNTAX = "syntax"


@dataclass(frozen=True)
class TemplateIssue:
    """One problem in one template; ``line`` is 1-based within the template."""

    check: Check
    message: str
    evidence: str
    line: int | None
    severity: Severity | None = None
    confidence: Confidence | None = None


def describe(node: nodes.Node, budget: int = 6) -> str:
    """A short source-like rendering of an expression, for messages and evidence."""
    if budget <= 0:
        return "…"
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Const):
        return repr(node.value)[:24]
    if isinstance(node, nodes.Getattr):
        return f"{describe(node.node, budget - 1)}.{node.attr}"
    if isinstance(node, nodes.Getitem):
        return f"{describe(node.node, budget - 1)}[{describe(node.arg, 1)}]"
    if isinstance(node, nodes.Call):
        return f"{describe(node.node, budget - 1)}()"
    if isinstance(node, nodes.Filter):
        base = describe(node.node, budget - 1) if node.node is not None else ""
        return f"{base}|{node.name}"
    if isinstance(node, nodes.BinExpr):
        left, right = describe(node.left, budget - 1), describe(node.right, budget - 1)
        return f"{left} {node.operator} {right}"
    if isinstance(node, nodes.Concat):
        return " ~ ".join(describe(n, budget - 1) for n in node.nodes[:4])
    if isinstance(node, nodes.Tuple):
        return "()" if not node.items else "(…)"
    if isinstance(node, nodes.List):
        return "[]" if not node.items else "[…]"
    return "…"


def range_len(args: list[int]) -> int | None:
    """Number of items ``range(*args)`` yields, or ``None`` when the call is invalid."""
    if not 1 <= len(args) <= 3:
        return None
    start, stop, step = (0, args[0], 1) if len(args) == 1 else (args[0], args[1], 1)
    if len(args) == 3:
        step = args[2]
    if step == 0:
        return None
    return max(0, -(-(stop - start) // step))


def bindings(tree: nodes.Template) -> tuple[set[str], dict[str, list[nodes.Node]], set[str]]:
    """Names the template binds, the values of its plain assignments, and its block names."""
    bound: set[str] = set()
    values: dict[str, list[nodes.Node]] = {}
    kinds = (nodes.Assign, nodes.AssignBlock, nodes.For, nodes.Macro, nodes.CallBlock)
    for node in tree.find_all((*kinds, nodes.With, nodes.Import, nodes.FromImport)):
        if isinstance(node, nodes.Assign) and isinstance(node.target, nodes.Name):
            values.setdefault(node.target.name, []).append(node.node)
        targets: list[nodes.Node] = []
        if isinstance(node, nodes.Assign | nodes.AssignBlock | nodes.For):
            targets.append(node.target)
        elif isinstance(node, nodes.Macro | nodes.CallBlock):
            targets.extend(node.args)
        elif isinstance(node, nodes.With):
            targets.extend(node.targets)
        if isinstance(node, nodes.Macro):
            bound.add(node.name)
        elif isinstance(node, nodes.Import):
            bound.add(node.target)
        elif isinstance(node, nodes.FromImport):
            bound.update(n if isinstance(n, str) else n[1] for n in node.names)
        for target in targets:
            if isinstance(target, nodes.Name):
                bound.add(target.name)
            bound.update(n.name for n in target.find_all(nodes.Name))
    blocks = {b.name for b in tree.find_all(nodes.Block)}
    return bound, values, blocks


def constant_env(values: dict[str, list[nodes.Node]]) -> dict[str, Folded]:
    """Variables whose every assignment folds to one and the same value."""
    env: dict[str, Folded] = {}
    for _ in range(3):  # a few rounds resolve chains such as a = 'x'; b = a ~ 'y'
        folder = Folder(env)
        changed = False
        for name, exprs in values.items():
            folded = [folder.fold(e) for e in exprs]
            first = folded[0]
            if isinstance(first, _Unknown) or any(v != first for v in folded[1:]):
                continue
            if name not in env or env[name] != first:
                env[name] = first
                changed = True
        if not changed:
            break
    return env
