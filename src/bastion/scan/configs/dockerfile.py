"""A Dockerfile parser: parser directives, line continuations, heredocs, exec (JSON) and shell
forms, flags, ``ARG`` substitution in ``FROM``, and stages.

It follows BuildKit's frontend where security checks depend on it: the ``escape`` directive
changes the continuation character, comment and blank lines inside a continuation are dropped,
``RUN``/``COPY``/``ADD`` heredocs (``<<EOF``, ``<<-EOF``, quoted delimiters) consume the lines
up to their delimiter, and ``ARG``s declared before the first ``FROM`` are substituted into
``FROM`` lines with their defaults. Nothing is executed or fetched.

>>> df = parse_dockerfile("ARG PY=3.11\\nFROM python:${PY}-slim AS base\\nRUN pip install \\\\\\n"
...                       "    torch\\nFROM base\\nUSER app\\n")
>>> [(s.name, s.base, s.parent) for s in df.stages]
[('base', 'python:3.11-slim', None), (None, 'base', 0)]
>>> df.stages[0].instructions[0].value, df.stages[0].instructions[0].line
('pip install     torch', 3)
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field

_DIRECTIVE = re.compile(r"^#\s*([A-Za-z]+)\s*=\s*(\S+)\s*$")
_HEREDOC = re.compile(r"<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_.-]*)\2")
_FLAG = re.compile(r"^--([A-Za-z][A-Za-z0-9-]*)(?:=(\"[^\"]*\"|'[^']*'|\S*))?(?:\s+|$)")
_VARIABLE = re.compile(
    r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))"
)
_HEREDOC_INSTRUCTIONS = frozenset({"RUN", "COPY", "ADD"})
_JSON_INSTRUCTIONS = frozenset({"RUN", "CMD", "ENTRYPOINT", "SHELL", "COPY", "ADD", "VOLUME"})
#: Physical lines one file may have before the rest is ignored (the analyzer reports it).
MAX_LINES = 200_000


@dataclass(frozen=True)
class Heredoc:
    """A heredoc body and the line of its first body line."""

    name: str
    body: str
    line: int


@dataclass(frozen=True)
class Instruction:
    """One instruction, continuation lines joined, with its flags and exec-form arguments."""

    keyword: str
    line: int
    value: str
    flags: tuple[tuple[str, str], ...] = ()
    exec_form: tuple[str, ...] | None = None
    heredocs: tuple[Heredoc, ...] = ()
    #: (offset in ``value``, physical line) where each joined physical line starts.
    line_starts: tuple[tuple[int, int], ...] = ()

    def flag(self, name: str) -> str | None:
        """The last value of ``--name`` (``""`` for a bare flag), or ``None``."""
        found = None
        for key, value in self.flags:
            if key == name:
                found = value
        return found

    def flag_values(self, name: str) -> list[str]:
        """Every value of a repeatable flag (``--mount``)."""
        return [value for key, value in self.flags if key == name]

    def line_at(self, offset: int) -> int:
        """The physical line of an offset in :attr:`value`."""
        line = self.line
        for start, physical in self.line_starts:
            if start > offset:
                break
            line = physical
        return line


@dataclass(frozen=True)
class Stage:
    """A build stage: its ``FROM`` (substituted), name, parent stage and instructions."""

    index: int
    line: int
    base: str
    base_raw: str
    name: str | None
    #: Index of the earlier stage this one is built ``FROM``, if any.
    parent: int | None
    instructions: tuple[Instruction, ...] = field(default=())


@dataclass(frozen=True)
class Dockerfile:
    """The parsed file: directives, global ``ARG`` defaults, stages, and what was left out."""

    directives: Mapping[str, str]
    global_args: Mapping[str, str | None]
    stages: tuple[Stage, ...]
    #: Instructions before the first FROM: the global ARGs (and invalid ones, kept as written).
    preamble: tuple[Instruction, ...] = ()
    truncated: bool = False


def parse_dockerfile(text: str) -> Dockerfile:
    """Parse a Dockerfile; malformed lines become instructions the checks ignore."""
    lines = text.split("\n")
    truncated = len(lines) > MAX_LINES
    lines = [line.rstrip("\r") for line in lines[:MAX_LINES]]
    directives, first = _directives(lines)
    escape = directives.get("escape", "\\")
    escape = escape if escape in {"\\", "`"} else "\\"
    instructions = list(_instructions(lines, first, escape))
    return _stages(directives, instructions, truncated)


def _directives(lines: list[str]) -> tuple[dict[str, str], int]:
    found: dict[str, str] = {}
    for index, line in enumerate(lines):
        match = _DIRECTIVE.match(line.strip())
        if not match or match.group(1).lower() in found:
            return found, index
        found[match.group(1).lower()] = match.group(2)
    return found, len(lines)


def _instructions(lines: list[str], index: int, escape: str) -> list[Instruction]:
    out: list[Instruction] = []
    while index < len(lines):
        stripped = lines[index].strip()
        if not stripped or stripped.startswith("#"):
            index += 1
            continue
        start_line = index + 1
        parts: list[str] = []
        starts: list[tuple[int, int]] = []
        length = 0
        while index < len(lines):
            raw = lines[index]
            body = raw.rstrip()
            if parts and (not body.strip() or body.lstrip().startswith("#")):
                index += 1  # blank and comment lines inside a continuation are dropped
                continue
            continued = body.endswith(escape) and not body.endswith(escape * 2)
            piece = body[:-1] if continued else raw
            starts.append((length, index + 1))
            parts.append(piece)
            length += len(piece)
            index += 1
            if not continued:
                break
        logical = "".join(parts)
        keyword, _, rest = logical.strip().partition(" ")
        keyword = keyword.upper()
        lead = len(logical) - len(logical.lstrip()) + len(keyword) + 1
        heredocs: list[Heredoc] = []
        if keyword in _HEREDOC_INSTRUCTIONS:
            for match in _HEREDOC.finditer(rest):
                body_lines: list[str] = []
                body_start = index + 1
                while index < len(lines):
                    line = lines[index]
                    index += 1
                    check = line.lstrip("\t") if match.group(1) else line
                    if check == match.group(3):
                        break
                    body_lines.append(line)
                heredocs.append(Heredoc(match.group(3), "\n".join(body_lines), body_start))
        out.append(_instruction(keyword, start_line, rest, lead, starts, tuple(heredocs)))
    return out


def _instruction(
    keyword: str,
    line: int,
    rest: str,
    lead: int,
    starts: list[tuple[int, int]],
    heredocs: tuple[Heredoc, ...],
) -> Instruction:
    flags: list[tuple[str, str]] = []
    value = rest.lstrip()
    skipped = lead + (len(rest) - len(value))
    while value.startswith("--"):
        match = _FLAG.match(value)
        if match is None:
            break
        flags.append((match.group(1).lower(), (match.group(2) or "").strip("\"'")))
        skipped += match.end()
        value = value[match.end() :]
    exec_form: tuple[str, ...] | None = None
    if keyword in _JSON_INSTRUCTIONS and value.lstrip().startswith("["):
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if isinstance(parsed, list) and all(isinstance(item, str) for item in parsed):
            exec_form = tuple(parsed)
    line_starts = tuple((max(0, offset - skipped), physical) for offset, physical in starts)
    return Instruction(keyword, line, value, tuple(flags), exec_form, heredocs, line_starts)


def _stages(
    directives: dict[str, str], instructions: list[Instruction], truncated: bool
) -> Dockerfile:
    global_args: dict[str, str | None] = {}
    preamble: list[Instruction] = []
    stages: list[Stage] = []
    current: list[Instruction] = []
    header: Instruction | None = None

    def close() -> None:
        if header is not None:
            stages.append(_stage(len(stages), header, tuple(current), global_args, stages))

    for instruction in instructions:
        if instruction.keyword == "FROM":
            close()
            header, current = instruction, []
        elif header is None:
            if instruction.keyword == "ARG":
                global_args.update(arg_pairs(instruction.value))
            preamble.append(instruction)
        else:
            current.append(instruction)
    close()
    return Dockerfile(directives, global_args, tuple(stages), tuple(preamble), truncated)


def _stage(
    index: int,
    header: Instruction,
    instructions: tuple[Instruction, ...],
    global_args: Mapping[str, str | None],
    earlier: list[Stage],
) -> Stage:
    words = header.value.split()
    raw = words[0] if words else ""
    name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
    base = substitute(raw, global_args)
    resolved = base if base is not None else raw
    parent = None
    for stage in earlier:
        if (stage.name and stage.name.lower() == resolved.lower()) or resolved == str(stage.index):
            parent = stage.index
    return Stage(index, header.line, resolved, raw, name, parent, instructions)


def arg_pairs(value: str) -> dict[str, str | None]:
    """``ARG`` declarations: ``NAME`` (no default) or ``NAME=default``, several per line."""
    pairs: dict[str, str | None] = {}
    for word in _split(value):
        name, eq, default = word.partition("=")
        if name:
            pairs[name] = default if eq else None
    return pairs


def env_pairs(value: str) -> list[tuple[str, str]]:
    """``ENV`` settings: ``K=v K2="v 2"`` or the legacy ``K value with spaces``."""
    words = _split(value)
    if words and "=" not in words[0]:
        name, _, rest = value.strip().partition(" ")
        return [(name, rest.strip())]
    return [(w.partition("=")[0], w.partition("=")[2]) for w in words if "=" in w]


def _split(value: str) -> list[str]:
    try:
        return shlex.split(value, comments=False, posix=True)
    except ValueError:
        return value.split()


def substitute(text: str, scope: Mapping[str, str | None]) -> str | None:
    """``text`` with ``$VAR``/``${VAR}``/``${VAR:-default}`` replaced; ``None`` if unresolved."""
    unresolved = False

    def replace(match: re.Match[str]) -> str:
        nonlocal unresolved
        name = match.group(1) or match.group(4)
        operator, word = match.group(2), match.group(3) or ""
        value = scope.get(name)
        if operator in {":-", "-"}:
            return value if value else word
        if operator in {":+", "+"}:
            return word if value else ""
        if value is None:
            unresolved = True
            return match.group(0)
        return value

    result = _VARIABLE.sub(replace, text)
    return None if unresolved else result
