"""Conda ``environment.yml``: conda packages (``numpy=1.26.4=py311h…``) and its ``pip:`` list.

The YAML is composed with PyYAML's safe loader (no tags, no objects) and only the expected shape
is walked (a mapping whose ``dependencies`` is a list of strings and one ``pip`` list), so aliases
cannot make the reader loop or blow up. Conda entries get ecosystem ``conda``; a pip entry is
read like a requirements line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from bastion.errors import MissingDependencyError
from bastion.scan.deps.lockfiles._model import (
    Dependency,
    Lockfile,
    LockfileError,
    normalize_name,
    read_text,
)

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*")


def _compose(text: str, path: Path) -> Any:
    try:
        import yaml
    except ImportError as exc:
        raise MissingDependencyError("pyyaml", "deps", "Reading environment.yml") from exc
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise LockfileError(str(path), f"invalid YAML: {exc}") from None


def parse_environment(path: Path) -> Lockfile:
    """Every conda and pip dependency of an ``environment.yml`` (all direct)."""
    import yaml

    root = _compose(read_text(path), path)
    if root is None:
        return Lockfile(path, "environment.yml", ())
    if not isinstance(root, yaml.MappingNode):
        raise LockfileError(str(path), "top level is not a mapping")
    deps_node = next(
        (v for k, v in root.value if isinstance(k, yaml.ScalarNode) and k.value == "dependencies"),
        None,
    )
    if deps_node is None:
        return Lockfile(path, "environment.yml", ())
    if not isinstance(deps_node, yaml.SequenceNode):
        raise LockfileError(
            str(path), "'dependencies' is not a list", deps_node.start_mark.line + 1
        )
    result: list[Dependency] = []
    for item in deps_node.value:
        line = item.start_mark.line + 1
        if isinstance(item, yaml.ScalarNode):
            result.append(_conda_entry(str(item.value), path, line))
        elif isinstance(item, yaml.MappingNode):
            for key, value in item.value:
                if not (isinstance(key, yaml.ScalarNode) and key.value == "pip"):
                    raise LockfileError(str(path), "unexpected mapping in dependencies", line)
                if not isinstance(value, yaml.SequenceNode):
                    raise LockfileError(str(path), "'pip' is not a list", line)
                for entry in value.value:
                    if not isinstance(entry, yaml.ScalarNode):
                        raise LockfileError(
                            str(path), "pip entries must be strings", entry.start_mark.line + 1
                        )
                    result.append(_pip_entry(str(entry.value), path, entry.start_mark.line + 1))
        else:
            raise LockfileError(str(path), "dependencies entries must be strings", line)
    return Lockfile(path, "environment.yml", tuple(result))


def _conda_entry(text: str, path: Path, line: int) -> Dependency:
    """``[channel::]name[ version[ build]]`` or ``name=version=build`` / ``name>=1.2``."""
    spec = text.strip().split("::", 1)[-1]
    match = _NAME.match(spec)
    if match is None:
        raise LockfileError(str(path), f"cannot read conda spec {text[:80]!r}", line)
    name, rest = match.group(0), spec[match.end() :].strip()
    if rest and rest[0] not in "=<>!~" and " " in spec:
        rest = rest.split()[0]  # "numpy 1.26.4 py311h…": version then build
        rest = rest if rest[0] in "=<>!~" else "==" + rest
    version: str | None = None
    specifier: str | None = rest
    if rest.startswith("==") and "*" not in rest and "," not in rest:
        version, specifier = rest[2:], None
    elif rest.startswith("=") and not rest.startswith("=="):
        pinned, _, build = rest[1:].partition("=")
        if build and "*" not in pinned:
            version, specifier = pinned, None  # name=1.26.4=build: an exact pin
        else:
            specifier = f"=={pinned}" if "*" in pinned else f"=={pinned}.*"  # conda fuzzy match
    if specifier is not None and specifier and specifier[0] not in "=<>!~":
        raise LockfileError(str(path), f"cannot read conda version in {text[:80]!r}", line)
    return Dependency(
        name=normalize_name(name),
        version=version,
        specifier=specifier,
        source=str(path),
        line=line,
        ecosystem="conda",
    )


def _pip_entry(text: str, path: Path, line: int) -> Dependency:
    if text.startswith("-"):
        raise LockfileError(str(path), f"pip options are not supported here: {text[:40]!r}", line)
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        raise LockfileError(str(path), f"invalid pip requirement: {exc}", line) from None
    specs = list(req.specifier)
    version = None
    if len(specs) == 1 and specs[0].operator == "==" and "*" not in specs[0].version:
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
        group="pip",
    )
