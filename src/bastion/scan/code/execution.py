"""Checks for code that runs code: ``eval``/``exec``/``compile`` and shell commands.

Literal arguments are not injection: ``eval("1 + 1")`` and ``os.system("nvidia-smi")`` are left
alone (a literal shell command is still read for exposed servers and plain-HTTP downloads, see
:mod:`.commands`). What is reported is code or a shell line *built* at run time.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from bastion.core import Severity
from bastion.scan.code import rules as R
from bastion.scan.code.base import TABLE, Hit, Site, is_false, is_true
from bastion.scan.code.commands import analyze_command
from bastion.scan.code.facts import ModuleFacts, Scope, argument, keyword

_DYNAMIC = {
    "builtins.eval": (0, "source"),
    "builtins.exec": (0, "source"),
    "builtins.compile": (0, "source"),
}
_SHELL_ALWAYS = frozenset(
    {
        "os.system",
        "os.popen",
        "subprocess.getoutput",
        "subprocess.getstatusoutput",
        "commands.getoutput",
        "commands.getstatusoutput",
        "asyncio.create_subprocess_shell",
    }
)
_SUBPROCESS = frozenset(
    {
        "subprocess.run",
        "subprocess.call",
        "subprocess.check_call",
        "subprocess.check_output",
        "subprocess.Popen",
        "asyncio.create_subprocess_exec",
    }
)


@TABLE.register(names=tuple(_DYNAMIC))
def dynamic_code(site: Site, facts: ModuleFacts) -> Iterator[Hit]:
    """``eval``/``exec``/``compile`` of something that is not a literal."""
    assert site.qual is not None
    source = argument(site.node, *_DYNAMIC[site.qual])
    scope = site.call.scope
    if source is None or facts.constant(source, scope) is not None:
        return
    func = site.qual.split(".", 1)[1]
    if func != "compile" and _is_compile_call(source, facts, scope):
        return  # the compile() call is the one reported, with its source
    yield Hit.at(
        site.node,
        R.DYNAMIC_EVAL,
        f"{func}() of a value built at run time: whoever controls it runs Python code.",
        f"{func}(<expr>)",
        severity=Severity.LOW if func == "compile" else None,
    )


def _is_compile_call(expr: ast.expr, facts: ModuleFacts, scope: Scope, depth: int = 0) -> bool:
    if isinstance(expr, ast.Name):
        values = facts.values_of(expr.id, scope)
        if not values or depth > 3:
            return False
        return all(_is_compile_call(v, facts, s, depth + 1) for v, s in values)
    return isinstance(expr, ast.Call) and facts.qualname(expr.func, scope) == "builtins.compile"


def _command_text(expr: ast.expr, facts: ModuleFacts, scope: Scope) -> str | None:
    """A literal command line: a string, or a list/tuple of literal words."""
    value = facts.constant(expr, scope)
    if isinstance(value, str):
        return value
    if isinstance(expr, ast.List | ast.Tuple):
        words = [facts.constant(e, scope) for e in expr.elts]
        if all(isinstance(w, str) for w in words):
            return " ".join(str(w) for w in words)
    return None


@TABLE.register(names=tuple(_SHELL_ALWAYS | _SUBPROCESS))
def shell(site: Site, facts: ModuleFacts) -> Iterator[Hit]:
    """Shell lines built from variables; literal ones are read for exposure and HTTP."""
    assert site.qual is not None
    node, scope = site.node, site.call.scope
    command = argument(node, 0, "cmd") or keyword(node, "args") or keyword(node, "command")
    if command is None:
        return
    literal = _command_text(command, facts, scope)
    if literal is not None:
        yield from command_hits(literal, node)
        return
    if site.qual in _SHELL_ALWAYS:
        uses_shell, computed = True, False
    else:
        flag = keyword(node, "shell")
        uses_shell = flag is not None and not is_false(flag)
        computed = uses_shell and not is_true(flag)
    if not uses_shell or isinstance(command, ast.List | ast.Tuple):
        return
    yield Hit.at(
        node,
        R.SHELL_INJECTION,
        f"{site.qual}() runs a shell command built at run time"
        + (" (shell= computed at run time)" if computed else "")
        + ": a value with ; | $( ) runs extra commands.",
        f"{site.qual}(<expr>, shell=True)",
        severity=Severity.MEDIUM if computed else None,
    )


def command_hits(command: str, node: ast.AST) -> Iterator[Hit]:
    """Exposed servers and plain-HTTP downloads in a literal command run from code."""
    for issue in analyze_command(command):
        if issue.kind == "exposed-server":
            yield Hit.at(
                node,
                R.EXPOSED_SERVER,
                f"Runs {issue.detail}.",
                issue.detail,
            )
        elif issue.kind in {"http-download", "http-index"}:
            yield Hit.at(node, R.HTTP_DOWNLOAD, f"Command {issue.detail}.", issue.detail)
