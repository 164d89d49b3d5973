"""``requirements*.txt`` (pip's format): includes, constraints, hashes, markers, URLs and VCS.

Understood: line continuations, comments, ``-r/--requirement`` and ``-c/--constraint`` includes
(relative paths only, at most :data:`MAX_INCLUDE_DEPTH` deep, cycles refused), per-requirement
``--hash``, ``-e/--editable``, PEP 508 lines (``name[extras] specifier ; marker``), ``name @ url``,
bare archive URLs and ``git+…#egg=name``. Global options (``--index-url``, ``--find-links``…)
are accepted and ignored. A ``# via`` annotation from pip-compile that does not name a ``-r``
file marks the requirement as transitive. Nothing is fetched: a URL include is an error.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from bastion.scan.deps.lockfiles._model import (
    Dependency,
    Lockfile,
    LockfileError,
    normalize_name,
    read_text,
)

MAX_INCLUDE_DEPTH = 10
_GLOBAL_OPTIONS = {
    "-i", "--index-url", "--extra-index-url", "--no-index", "-f", "--find-links",
    "--pre", "--trusted-host", "--prefer-binary", "--require-hashes", "--no-binary",
    "--only-binary", "--use-feature", "--config-settings", "--global-option",
}  # fmt: skip
_EGG = re.compile(r"[#&]egg=([A-Za-z0-9_.\-\[\],]+)")
_URL = re.compile(r"^(https?|file|ftp)://|^(git|hg|svn|bzr)\+", re.IGNORECASE)


@dataclass
class _State:
    root: Path
    seen: set[Path] = field(default_factory=set)
    dependencies: list[Dependency] = field(default_factory=list)
    constraints: list[Dependency] = field(default_factory=list)


def parse_requirements(path: Path) -> Lockfile:
    """Parse a requirements file and everything it includes."""
    state = _State(path.parent)
    _parse_file(path, state, depth=0, constraint=False)
    return Lockfile(path, "requirements", tuple(state.dependencies), tuple(state.constraints))


def _logical_lines(text: str) -> list[tuple[int, str, str]]:
    """(first line number, content without comment, trailing comment) per logical line."""
    result: list[tuple[int, str, str]] = []
    buffer, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not buffer:
            start = number
        line = raw.rstrip()
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        buffer += line
        content, comment = _split_comment(buffer)
        result.append((start, content.strip(), comment))
        buffer = ""
    if buffer:
        content, comment = _split_comment(buffer)
        result.append((start, content.strip(), comment))
    return result


def _split_comment(line: str) -> tuple[str, str]:
    match = re.search(r"(^|\s)#", line)
    if match is None:
        return line, ""
    return line[: match.start()], line[match.end() :].strip()


def _parse_file(path: Path, state: _State, *, depth: int, constraint: bool) -> None:
    resolved = path.resolve()
    if resolved in state.seen:
        raise LockfileError(str(path), "included twice (an include cycle)")
    state.seen.add(resolved)
    lines = _logical_lines(read_text(path))
    index = 0
    while index < len(lines):
        number, content, _ = lines[index]
        via = _via(lines, index + 1)
        index += 1
        if not content:
            continue
        if content.startswith("-"):
            _option(content, path, number, state, depth)
            continue
        dep = _requirement(content, path, number, transitive=via)
        (state.constraints if constraint else state.dependencies).append(dep)


def _via(lines: list[tuple[int, str, str]], index: int) -> bool:
    """Whether the comment lines after a requirement say ``# via <package>`` (pip-compile)."""
    names: list[str] = []
    while index < len(lines) and not lines[index][1]:
        comment = lines[index][2]
        if comment.startswith("via"):
            names.append(comment[3:].strip())
        elif names and comment:
            names.append(comment)
        elif not comment:
            break
        index += 1
    return bool(names) and not any(n.startswith("-r") or n.startswith("-c") for n in names)


def _option(content: str, path: Path, number: int, state: _State, depth: int) -> None:
    try:
        parts = shlex.split(content, comments=False)
    except ValueError as exc:
        raise LockfileError(str(path), f"cannot parse option line: {exc}", number) from None
    flag, _, inline = parts[0].partition("=")
    value = inline or (parts[1] if len(parts) > 1 else "")
    if flag in ("-r", "--requirement", "-c", "--constraint"):
        _include(value, path, number, state, depth, flag in ("-c", "--constraint"))
    elif flag in ("-e", "--editable"):
        if not value:
            raise LockfileError(str(path), "-e needs a path or URL", number)
        state.dependencies.append(_editable(value, path, number))
    elif flag not in _GLOBAL_OPTIONS:
        raise LockfileError(str(path), f"unknown option {flag!r}", number)


def _include(
    target: str, path: Path, number: int, state: _State, depth: int, constraint: bool
) -> None:
    if not target:
        raise LockfileError(str(path), "-r/-c needs a file name", number)
    if _URL.match(target) or target.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", target):
        raise LockfileError(
            str(path), f"include {target!r} must be a relative path (nothing is fetched)", number
        )
    if depth + 1 > MAX_INCLUDE_DEPTH:
        raise LockfileError(str(path), f"includes nested deeper than {MAX_INCLUDE_DEPTH}", number)
    included = path.parent / target
    if not included.is_file():
        raise LockfileError(str(path), f"included file {target!r} not found", number)
    _parse_file(included, state, depth=depth + 1, constraint=constraint)


def _editable(value: str, path: Path, number: int) -> Dependency:
    egg = _EGG.search(value)
    name = egg.group(1).split("[")[0] if egg else Path(value.split("#")[0].rstrip("/")).name
    if not name or name in (".", ".."):
        name = path.parent.resolve().name
    return Dependency(
        name=normalize_name(name),
        version=None,
        specifier=None,
        source=str(path),
        line=number,
        url=value,
    )


def _requirement(content: str, path: Path, number: int, *, transitive: bool) -> Dependency:
    text, hashes = _strip_hashes(content, path, number)
    if _URL.match(text) or text.startswith((".", "/")):
        egg = _EGG.search(text)
        if egg is None:
            raise LockfileError(
                str(path), f"URL requirement without a name (add #egg=NAME): {text[:80]!r}", number
            )
        name = egg.group(1).split("[")[0]
        return Dependency(
            normalize_name(name), None, None, str(path), number, hashes, text, not transitive
        )
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        raise LockfileError(str(path), f"invalid requirement: {exc}", number) from None
    specifiers = list(req.specifier)
    version = None
    if (
        len(specifiers) == 1
        and specifiers[0].operator in ("==", "===")
        and "*" not in str(specifiers[0].version)
    ):
        version = specifiers[0].version
    return Dependency(
        name=normalize_name(req.name),
        version=version,
        specifier=None if version else str(req.specifier),
        source=str(path),
        line=number,
        hashes=hashes,
        url=req.url,
        is_direct=not transitive,
        extras=tuple(sorted(req.extras)),
        markers=str(req.marker) if req.marker else None,
    )


def _strip_hashes(content: str, path: Path, number: int) -> tuple[str, tuple[str, ...]]:
    hashes: list[str] = []

    def take(match: re.Match[str]) -> str:
        value = match.group(1)
        if ":" not in value:
            raise LockfileError(str(path), f"--hash {value!r} is not ALG:HEX", number)
        alg, _, digest = value.partition(":")
        hashes.append(f"{alg.lower()}:{digest.lower()}")
        return " "

    text = re.sub(r"\s--hash[=\s]\s*(\S+)", take, " " + content)
    text = re.sub(r"\s--(config-settings|global-option|install-option)[=\s]\s*\S+", " ", text)
    other = re.search(r"\s(--?[A-Za-z][\w-]*)", text)
    if other is not None:
        raise LockfileError(str(path), f"unsupported option {other.group(1)}", number)
    return text.strip(), tuple(hashes)
