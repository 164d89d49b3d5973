"""Resource checks of chat templates: work a template asks the server to do on each request.

``range()`` beyond what Jinja's sandbox allows, nested constant loops, repetition of strings and
lists, huge exponents and widths, and nesting depth. Every size is computed from folded
constants (never by evaluating the template), so a check costs nothing however large the number.
"""

from __future__ import annotations

from jinja2 import nodes

from bastion.scan.formats.template_fold import Folder
from bastion.scan.formats.template_walk import Check, TemplateIssue, describe, range_len

#: The largest ``range()`` Jinja's sandbox allows.
MAX_RANGE = 100_000
#: Iterations of nested constant-bounded loops considered abusive.
MAX_LOOP_WORK = 10_000_000
#: Statement nesting considered abusive (real templates stay under 10).
MAX_BLOCK_DEPTH = 32
#: Expression nesting considered abusive.
MAX_EXPR_DEPTH = 120
#: Size of a string, sequence, width or exponent a template may ask for before it is abuse.
MAX_BUILT = 1_000_000


def _issue(node: nodes.Node, message: str, evidence: str) -> TemplateIssue:
    return TemplateIssue(Check.RESOURCES, message, evidence, getattr(node, "lineno", None))


def depth_issue(node: nodes.Node, blocks: int, exprs: int) -> TemplateIssue | None:
    """Statements or expressions nested deeper than any real template nests them."""
    if blocks > MAX_BLOCK_DEPTH:
        return _issue(node, f"statements nest {blocks} deep", "deep nesting")
    if exprs > MAX_EXPR_DEPTH:
        return _issue(node, f"expressions nest {exprs} deep", "deep nesting")
    return None


def range_size(folder: Folder, node: nodes.Call) -> tuple[int | None, TemplateIssue | None]:
    """The length of a ``range()`` call with constant arguments, and an issue when too long."""
    args = [folder.fold_int(a) for a in node.args]
    if not args or node.kwargs:
        return None, None
    known = [a for a in args if a is not None]
    count = range_len(known) if len(known) == len(args) else None
    if count is not None and count > MAX_RANGE:
        message = f"`range()` of {count} items (Jinja's sandbox refuses more than {MAX_RANGE})"
        return count, _issue(node, message, f"range of {count}")
    return count, None


def loop_work(
    folder: Folder, node: nodes.For, work: int, range_is_builtin: bool
) -> tuple[int, TemplateIssue | None]:
    """Iterations of the loop body counting enclosing constant loops, and an issue if abusive.

    ``work`` is the product of the enclosing constant loops' sizes (1 outside any). Loops over
    data (messages, tools) count as one: their size is the request's, not the template's.
    """
    count: int | None = None
    iterable = node.iter
    if range_is_builtin and isinstance(iterable, nodes.Call):
        if isinstance(iterable.node, nodes.Name) and iterable.node.name == "range":
            count = range_size(folder, iterable)[0]
    inner = work * max(count or 1, 1)
    if work > 1 and inner > MAX_LOOP_WORK >= work:
        message = f"nested loops over constant ranges run {inner} iterations"
        return inner, _issue(node, message, "nested loop work")
    return inner, None


def arithmetic_issue(folder: Folder, node: nodes.Mul | nodes.Pow) -> TemplateIssue | None:
    """Repetition into a huge string or list, or an exponent producing a huge number."""
    left, right = folder.fold(node.left), folder.fold(node.right)
    if isinstance(node, nodes.Mul):
        if isinstance(right, str | tuple):
            left, right = right, left
        if isinstance(left, str | tuple) and isinstance(right, int) and not isinstance(right, bool):
            size = len(left) * right
            if size > MAX_BUILT:
                message = f"`{describe(node)}` repeats a value into {size} items"
                return _issue(node, message, "huge repetition")
        return None
    if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
        bits = abs(left).bit_length() * right
        if bits > MAX_BUILT:
            message = f"`{left} ** {right}` computes a number of about {bits} bits"
            return _issue(node, message, "huge power")
    return None


def width_issue(folder: Folder, node: nodes.Filter) -> TemplateIssue | None:
    """A width or count filter (``center``, ``indent``, ``batch``…) asked for a huge size."""
    width = folder.fold_int(node.args[0]) if node.args else None
    if width is not None and width > MAX_BUILT:
        message = f"`{describe(node)}` asks for a width of {width}"
        return _issue(node, message, f"{node.name} width {width}")
    return None
