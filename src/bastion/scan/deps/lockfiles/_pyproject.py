"""``pyproject.toml``: PEP 621 ``[project]`` dependencies and optional dependencies, PEP 735
``[dependency-groups]``, and Poetry's ``[tool.poetry]`` dependencies and groups.

Poetry constraints are translated to PEP 440 specifiers (``^1.2`` → ``>=1.2,<2.0``, ``~1.2.3`` →
``>=1.2.3,<1.3.0``, ``*`` → any) so every reader returns the same kind of specifier.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from bastion.scan.deps.lockfiles._model import (
    Dependency,
    LineIndex,
    Lockfile,
    LockfileError,
    normalize_name,
    read_text,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

MAX_GROUP_INCLUDES = 64
#: One Poetry constraint clause: an optional operator and a version (``^1.2``, ``>= 1.0``, ``*``).
_TOKEN = re.compile(r"(\^|~=|~|===|==|!=|<=|>=|<|>|=)?\s*([0-9A-Za-z*][0-9A-Za-z.*+!_-]*)")


def load_toml(path: Path) -> tuple[dict[str, Any], LineIndex]:
    """Parse a TOML file; syntax errors become :class:`LockfileError` with the position."""
    text = read_text(path)
    try:
        return tomllib.loads(text), LineIndex(text)
    except tomllib.TOMLDecodeError as exc:
        raise LockfileError(str(path), f"invalid TOML: {exc}") from None


def parse_pyproject(path: Path) -> Lockfile:
    """Every dependency declared in ``pyproject.toml`` (all direct)."""
    data, index = load_toml(path)
    deps: list[Dependency] = []
    project = data.get("project")
    if isinstance(project, dict):
        deps.extend(_pep508_list(project.get("dependencies", []), path, index, None, "project"))
        optional = project.get("optional-dependencies", {})
        if not isinstance(optional, dict):
            raise LockfileError(str(path), "[project.optional-dependencies] must be a table")
        for group, items in optional.items():
            deps.extend(_pep508_list(items, path, index, f"optional:{group}", "project"))
    groups = data.get("dependency-groups")
    if groups is not None:
        if not isinstance(groups, dict):
            raise LockfileError(str(path), "[dependency-groups] must be a table")
        for group in groups:
            items = _expand_group(groups, str(group), path, set())
            deps.extend(_pep508_list(items, path, index, str(group), "dependency-groups"))
    tool = data.get("tool")
    poetry = tool.get("poetry") if isinstance(tool, dict) else None
    if isinstance(poetry, dict):
        deps.extend(_poetry(poetry, path, index))
    return Lockfile(path, "pyproject", tuple(deps))


def direct_names(path: Path) -> set[str]:
    """Normalized names a ``pyproject.toml`` declares (for marking lock entries direct)."""
    try:
        return {d.name for d in parse_pyproject(path).dependencies}
    except LockfileError:
        return set()


def _expand_group(groups: dict[str, Any], name: str, path: Path, stack: set[str]) -> list[str]:
    if name in stack or len(stack) > MAX_GROUP_INCLUDES:
        raise LockfileError(str(path), f"dependency group {name!r} includes itself")
    items = groups.get(name)
    if not isinstance(items, list):
        raise LockfileError(str(path), f"dependency group {name!r} is not a list")
    result: list[str] = []
    for item in items:
        if isinstance(item, str):
            result.append(item)
        elif isinstance(item, dict) and isinstance(item.get("include-group"), str):
            result.extend(_expand_group(groups, item["include-group"], path, stack | {name}))
        else:
            raise LockfileError(str(path), f"dependency group {name!r} has an invalid entry")
    return result


def _pep508_list(
    items: object, path: Path, index: LineIndex, group: str | None, table: str
) -> list[Dependency]:
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise LockfileError(str(path), f"{table} dependencies must be a list of strings")
    start = (index.find(rf"^\[{table}") or 1) - 1
    deps = []
    for item in items:
        line = index.find(_quoted(item), start) or index.find(_quoted(item))
        try:
            req = Requirement(item)
        except InvalidRequirement as exc:
            raise LockfileError(str(path), f"invalid requirement {item!r}: {exc}", line) from None
        deps.append(_from_requirement(req, path, line, group))
    return deps


def _quoted(item: str) -> str:
    return r"""["']""" + re.escape(item) + r"""["']"""


def _from_requirement(
    req: Requirement, path: Path, line: int | None, group: str | None
) -> Dependency:
    specs = list(req.specifier)
    version = None
    if len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version:
        version = specs[0].version
    return Dependency(
        name=normalize_name(req.name),
        version=version,
        specifier=None if version else str(req.specifier),
        source=str(path),
        line=line,
        url=req.url,
        extras=tuple(sorted(req.extras)),
        markers=str(req.marker) if req.marker else None,
        group=group,
    )


def _poetry(poetry: dict[str, Any], path: Path, index: LineIndex) -> list[Dependency]:
    tables: list[tuple[str | None, str, object]] = [
        (None, r"^\[tool\.poetry\.dependencies\]", poetry.get("dependencies", {})),
        ("dev", r"^\[tool\.poetry\.dev-dependencies\]", poetry.get("dev-dependencies", {})),
    ]
    groups = poetry.get("group", {})
    if isinstance(groups, dict):
        for name, body in groups.items():
            deps = body.get("dependencies", {}) if isinstance(body, dict) else {}
            header = rf"^\[tool\.poetry\.group\.{name}\.dependencies\]"
            tables.append((str(name), header, deps))
    result: list[Dependency] = []
    for group, header, table in tables:
        if not isinstance(table, dict):
            raise LockfileError(str(path), f"poetry dependencies of {group or 'main'} not a table")
        start = (index.find(header) or 1) - 1
        for raw_name, spec in table.items():
            if str(raw_name).lower() == "python":
                continue
            line = index.key_line(str(raw_name), start)
            result.append(_poetry_dependency(str(raw_name), spec, path, line, group))
    return result


def _poetry_dependency(
    name: str, spec: object, path: Path, line: int | None, group: str | None
) -> Dependency:
    if isinstance(spec, list):  # multiple-constraints form: use the first, keep markers apart
        spec = spec[0] if spec else "*"
    url = None
    extras: tuple[str, ...] = ()
    markers = None
    constraint = "*"
    if isinstance(spec, str):
        constraint = spec
    elif isinstance(spec, dict):
        constraint = str(spec.get("version", "*"))
        for key in ("git", "url", "path"):
            if isinstance(spec.get(key), str):
                url = spec[key] if key != "git" else f"git+{spec[key]}"
                ref = spec.get("rev") or spec.get("tag") or spec.get("branch")
                if key == "git" and isinstance(ref, str):
                    url += f"@{ref}"
        raw_extras = spec.get("extras", [])
        if isinstance(raw_extras, list):
            extras = tuple(sorted(str(e) for e in raw_extras))
        if isinstance(spec.get("markers"), str):
            markers = spec["markers"]
        if markers is None and isinstance(spec.get("python"), str):
            markers = _python_marker(spec["python"], path, line)
    else:
        raise LockfileError(str(path), f"poetry dependency {name!r} has an invalid value", line)
    specifier = poetry_to_pep440(constraint, path, line)
    version = specifier[2:] if specifier.startswith("==") and "," not in specifier else None
    if version and "*" in version:
        version = None
    return Dependency(
        name=normalize_name(name),
        version=version,
        specifier=None if version else specifier,
        source=str(path),
        line=line,
        url=url,
        extras=extras,
        markers=markers,
        group=group,
    )


def _python_marker(constraint: str, path: Path, line: int | None) -> str | None:
    try:
        spec = poetry_to_pep440(constraint, path, line)
    except LockfileError:
        return None  # e.g. "^3.8 || ^3.10": no single marker; the dependency itself is fine
    clauses = [f"python_full_version {_split_op(s)}" for s in spec.split(",") if s]
    return " and ".join(clauses) or None


def _split_op(spec: str) -> str:
    for op in ("===", "==", "!=", "<=", ">=", "~=", "<", ">"):
        if spec.startswith(op):
            return f'{op} "{spec[len(op) :]}"'
    return f'== "{spec}"'


def poetry_to_pep440(constraint: str, path: Path, line: int | None) -> str:
    """Translate a Poetry constraint (``^``, ``~``, ``*``, bare versions, ``||``) to PEP 440."""
    text = constraint.strip()
    if "||" in text:
        raise LockfileError(
            str(path), f"constraint {text!r} uses '||', which has no PEP 440 equivalent", line
        )
    out: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        tokens = _TOKEN.findall(part)
        if "".join(op + value for op, value in tokens) != part.replace(" ", ""):
            raise LockfileError(str(path), f"cannot read constraint {text!r}", line)
        for op, value in tokens:
            if value == "*" and not op:
                continue
            if op == "^":
                out.extend(_caret(value, path, line))
            elif op == "~":
                out.extend(_tilde(value, path, line))
            elif op in ("", "="):
                out.append(f"=={value}")
            else:
                out.append(f"{op}{value}")
    return ",".join(out)


def _numbers(version: str, path: Path, line: int | None) -> list[int]:
    try:
        return [int(p) for p in version.split(".")[:3] if p != "*"]
    except ValueError:
        raise LockfileError(str(path), f"cannot read version {version!r}", line) from None


def _caret(version: str, path: Path, line: int | None) -> list[str]:
    nums = _numbers(version, path, line)
    if not nums:
        return []
    first = next((i for i, n in enumerate(nums) if n != 0), len(nums) - 1)
    upper = nums[: first + 1]
    upper[-1] += 1
    upper += [0] * (len(nums) - len(upper))
    return [f">={version}", f"<{'.'.join(map(str, upper))}"]


def _tilde(version: str, path: Path, line: int | None) -> list[str]:
    nums = _numbers(version, path, line)
    if not nums:
        return []
    upper = [nums[0] + 1] if len(nums) == 1 else [nums[0], nums[1] + 1]
    upper += [0] * (len(nums) - len(upper))
    return [f">={version}", f"<{'.'.join(map(str, upper))}"]
