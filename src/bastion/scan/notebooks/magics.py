"""IPython syntax in code cells: shell escapes, line and cell magics, help syntax.

:func:`split_cell` turns a cell into plain Python for the AST rules, line for line (every magic
line becomes ``pass`` or a blank at the same indentation, so line numbers still point into the
cell; where a prefix such as ``%time`` is cut, ``column_shift`` says by how much), and collects
the shell command lines (``!cmd``, ``%pip``, ``%%bash``…) for
:mod:`bastion.scan.code.commands`. Magics that run other files or languages (``%run``,
``%%html``, ``%%sql``…) are neutralised, never followed.

>>> cell = split_cell("!pip install torch\\nimport os\\n%time x = os.getcwd()")
>>> cell.python.splitlines(), cell.column_shift
(['pass', 'import os', 'x = os.getcwd()'], {3: 6})
>>> [(c.line, c.command) for c in cell.commands]
[(1, 'pip install torch')]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: Cell magics whose body is shell.
_SHELL_CELLS = frozenset({"bash", "sh", "system", "script"})
#: Cell magics whose body is still Python.
_PYTHON_CELLS = frozenset({"time", "timeit", "capture", "prun", "debug", "cython_inline"})
#: Line magics that run a shell command (their argument).
_SHELL_LINE_MAGICS = frozenset({"pip", "conda", "mamba", "micromamba", "uv", "sx", "system", "sc"})
#: Line magics whose argument is a Python statement.
_PYTHON_LINE_MAGICS = frozenset({"time", "timeit", "prun", "capture"})
_HELP = re.compile(r"^(\?{1,2}[\w.]+|[\w.\[\]()]+\?{1,2})\s*$")
_ASSIGN_SHELL = re.compile(r"^(\s*[A-Za-z_][\w.]*\s*=\s*)(!|%sx\s|%system\s)(.*)$")


@dataclass(frozen=True)
class CommandLine:
    """A shell command found in a cell (``line`` is 1-based within the cell)."""

    line: int
    column: int
    command: str


@dataclass(frozen=True)
class CellCode:
    """A cell split into Python (``None`` when the cell is not Python) and shell commands."""

    python: str | None
    commands: tuple[CommandLine, ...]
    note: str | None = None
    #: Characters cut from the start of a line (``%time ``): add them back to columns.
    column_shift: dict[int, int] = field(default_factory=dict)


def split_cell(source: str) -> CellCode:
    """Separate a cell's Python from its IPython syntax, keeping line numbers."""
    lines = source.split("\n")
    first = lines[0].strip() if lines else ""
    if first.startswith("%%"):
        return _cell_magic(first[2:], lines)
    commands: list[CommandLine] = []
    out: list[str] = []
    shift: dict[int, int] = {}
    continuing: CommandLine | None = None
    for number, line in enumerate(lines, start=1):
        if continuing is not None:
            joined = continuing.command[:-1] + " " + line.strip()
            continuing = CommandLine(continuing.line, continuing.column, joined)
            out.append("")
            if not line.rstrip().endswith("\\"):
                commands.append(continuing)
                continuing = None
            continue
        converted, command = _line(line, number)
        if command is None and converted.strip() not in {"pass", line.strip()}:
            shift[number] = len(line) - len(converted)  # a ``%time `` prefix was cut
        out.append(converted)
        if command is not None:
            if command.command.rstrip().endswith("\\"):
                continuing = command
            else:
                commands.append(command)
    if continuing is not None:
        commands.append(continuing)
    return CellCode("\n".join(out), tuple(commands), column_shift=shift)


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _line(line: str, number: int) -> tuple[str, CommandLine | None]:
    stripped = line.lstrip()
    indent = _indent(line)
    column = len(indent) + 1
    if stripped.startswith("!"):
        return indent + "pass", CommandLine(number, column, stripped[1:].strip())
    assigned = _ASSIGN_SHELL.match(line)
    if assigned:
        command = CommandLine(number, len(assigned.group(1)) + 1, assigned.group(3).strip())
        return assigned.group(1) + "None", command
    if stripped.startswith("%") and not stripped.startswith("%%"):
        name, _, rest = stripped[1:].partition(" ")
        if name in _SHELL_LINE_MAGICS:
            command_text = rest if name in {"sx", "system", "sc"} else f"{name} {rest}"
            return indent + "pass", CommandLine(number, column, command_text.strip())
        if name in _PYTHON_LINE_MAGICS and rest.strip():
            return indent + rest.lstrip(), None
        return indent + "pass", None
    if _HELP.match(stripped):
        return indent + "pass", None
    return line, None


def _cell_magic(header: str, lines: list[str]) -> CellCode:
    name, _, args = header.partition(" ")
    body = lines[1:]
    if name in _PYTHON_CELLS:
        inner = split_cell("\n".join(body))
        python = "\n" + (inner.python or "")
        shifted = tuple(CommandLine(c.line + 1, c.column, c.command) for c in inner.commands)
        columns = {line + 1: cut for line, cut in inner.column_shift.items()}
        return CellCode(python, shifted, column_shift=columns)
    if name in _SHELL_CELLS and (name != "script" or args.split()[:1] in (["bash"], ["sh"])):
        commands = [
            CommandLine(i, 1, text.strip())
            for i, text in enumerate(lines[1:], start=2)
            if text.strip() and not text.lstrip().startswith("#")
        ]
        return CellCode(None, tuple(_join_continuations(commands)), f"%%{name} cell")
    if name in {"writefile", "file"} and args.strip().endswith(".py"):
        return CellCode("\n" + "\n".join(body), (), f"%%{name} {args.strip()}")
    return CellCode(None, (), f"%%{name} cell (not Python)")


def _join_continuations(commands: list[CommandLine]) -> list[CommandLine]:
    joined: list[CommandLine] = []
    for command in commands:
        if joined and joined[-1].command.endswith("\\"):
            last = joined[-1]
            joined[-1] = CommandLine(
                last.line, last.column, last.command[:-1] + " " + command.command
            )
        else:
            joined.append(command)
    return joined
