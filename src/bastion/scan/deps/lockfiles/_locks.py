"""Lock files: ``poetry.lock``, ``uv.lock``, ``pylock.toml`` (PEP 751) and ``Pipfile.lock``.

Every entry is one exactly pinned package with its hashes and source. Whether an entry is direct
comes from the project: ``uv.lock``'s own root package lists it, or the ``pyproject.toml`` /
``Pipfile`` beside the lock declares it; without either, entries are reported as transitive.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from bastion.scan.deps.lockfiles._model import (
    Dependency,
    LineIndex,
    Lockfile,
    LockfileError,
    normalize_name,
    read_text,
)
from bastion.scan.deps.lockfiles._pyproject import direct_names, load_toml


def _table_list(data: dict[str, Any], key: str, path: Path) -> list[dict[str, Any]]:
    items = data.get(key, [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise LockfileError(str(path), f"[[{key}]] must be an array of tables")
    return items


def _name_version(item: dict[str, Any], path: Path, line: int | None) -> tuple[str, str | None]:
    name, version = item.get("name"), item.get("version")
    if not isinstance(name, str) or not name:
        raise LockfileError(str(path), "a package entry has no name", line)
    if version is not None and not isinstance(version, str):
        raise LockfileError(str(path), f"package {name!r} has a non-string version", line)
    return name, version


def _hash(value: object) -> str | None:
    if isinstance(value, str) and ":" in value:
        alg, _, digest = value.partition(":")
        return f"{alg.lower()}:{digest.lower()}"
    return None


def _siblings(path: Path) -> set[str]:
    pyproject = path.with_name("pyproject.toml")
    return direct_names(pyproject) if pyproject.is_file() else set()


def parse_poetry_lock(path: Path) -> Lockfile:
    """``poetry.lock``: ``[[package]]`` with ``files`` (or legacy ``[metadata.files]``)."""
    data, index = load_toml(path)
    headers = index.headers(r"^\[\[package\]\]$")
    legacy = (
        data.get("metadata", {}).get("files", {}) if isinstance(data.get("metadata"), dict) else {}
    )
    direct = _siblings(path)
    deps = []
    for number, item in enumerate(_table_list(data, "package", path)):
        line = headers[number] + 1 if number < len(headers) else None
        name, version = _name_version(item, path, line)
        files = item.get("files") or (legacy.get(name) if isinstance(legacy, dict) else None) or []
        hashes = tuple(h for f in files if isinstance(f, dict) and (h := _hash(f.get("hash"))))
        url = None
        source = item.get("source")
        if isinstance(source, dict) and source.get("type") in ("git", "url", "file", "directory"):
            url = str(source.get("url", ""))
            if source.get("type") == "git":
                ref = source.get("resolved_reference") or source.get("reference")
                url = f"git+{url}" + (f"@{ref}" if ref else "")
        group = None
        if item.get("category") == "dev" or item.get("groups") == ["dev"]:
            group = "dev"
        deps.append(
            Dependency(
                name=normalize_name(name),
                version=version,
                specifier=None,
                source=str(path),
                line=line,
                hashes=hashes,
                url=url,
                is_direct=normalize_name(name) in direct,
                markers=item.get("markers") if isinstance(item.get("markers"), str) else None,
                group=group,
            )
        )
    return Lockfile(path, "poetry.lock", tuple(deps))


def _uv_root_direct(packages: list[dict[str, Any]]) -> tuple[set[str], set[str]]:
    """(names of the workspace's own packages, names they depend on directly)."""
    roots, direct = set(), set()
    for item in packages:
        source = item.get("source")
        if isinstance(source, dict) and ("editable" in source or "virtual" in source):
            roots.add(normalize_name(str(item.get("name", ""))))
            lists = [item.get("dependencies") or []]
            for key in ("optional-dependencies", "dev-dependencies"):
                table = item.get(key)
                if isinstance(table, dict):
                    lists.extend(table.values())
            for entries in lists:
                for entry in entries if isinstance(entries, list) else []:
                    if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                        direct.add(normalize_name(entry["name"]))
    return roots, direct


def parse_uv_lock(path: Path) -> Lockfile:
    """``uv.lock``: ``[[package]]`` with ``source``, ``sdist`` and ``wheels`` hashes."""
    data, index = load_toml(path)
    packages = _table_list(data, "package", path)
    headers = index.headers(r"^\[\[package\]\]$")
    roots, direct = _uv_root_direct(packages)
    deps = []
    for number, item in enumerate(packages):
        line = headers[number] + 1 if number < len(headers) else None
        name, version = _name_version(item, path, line)
        if normalize_name(name) in roots:
            continue
        artifacts = [item.get("sdist"), *list(item.get("wheels") or [])]
        hashes = tuple(h for a in artifacts if isinstance(a, dict) and (h := _hash(a.get("hash"))))
        url = None
        source = item.get("source")
        if isinstance(source, dict):
            if isinstance(source.get("git"), str):
                url = f"git+{source['git']}"
            elif isinstance(source.get("url"), str):
                url = source["url"]
            elif isinstance(source.get("path"), str) or isinstance(source.get("directory"), str):
                url = str(source.get("path") or source.get("directory"))
        deps.append(
            Dependency(
                normalize_name(name), version, None, str(path), line, hashes, url,
                normalize_name(name) in direct,
            )
        )  # fmt: skip
    return Lockfile(path, "uv.lock", tuple(deps))


def parse_pylock(path: Path) -> Lockfile:
    """``pylock.toml`` (PEP 751): ``[[packages]]`` with ``vcs``/``archive``/``sdist``/``wheels``."""
    data, index = load_toml(path)
    version = data.get("lock-version")
    if not isinstance(version, str) or not version.startswith("1."):
        raise LockfileError(str(path), f"unsupported lock-version {version!r} (expected 1.x)")
    headers = index.headers(r"^\[\[packages\]\]$")
    direct = _siblings(path)
    deps = []
    for number, item in enumerate(_table_list(data, "packages", path)):
        line = headers[number] + 1 if number < len(headers) else None
        name, pinned = _name_version(item, path, line)
        artifacts: list[Any] = [item.get("archive"), item.get("sdist"), *(item.get("wheels") or [])]
        hashes: list[str] = []
        for artifact in artifacts:
            table = artifact.get("hashes") if isinstance(artifact, dict) else None
            if isinstance(table, dict):
                hashes.extend(f"{k.lower()}:{str(v).lower()}" for k, v in table.items())
        url = None
        vcs = item.get("vcs")
        archive = item.get("archive")
        directory = item.get("directory")
        if isinstance(vcs, dict):
            url = f"{vcs.get('type', 'git')}+{vcs.get('url') or vcs.get('path')}"
            if vcs.get("commit-id"):
                url += f"@{vcs['commit-id']}"
        elif isinstance(archive, dict):
            url = str(archive.get("url") or archive.get("path"))
        elif isinstance(directory, dict):
            url = str(directory.get("path"))
        marker = item.get("marker")
        deps.append(
            Dependency(
                name=normalize_name(name),
                version=pinned,
                specifier=None,
                source=str(path),
                line=line,
                hashes=tuple(hashes),
                url=url,
                is_direct=normalize_name(name) in direct,
                markers=marker if isinstance(marker, str) else None,
            )
        )
    return Lockfile(path, "pylock.toml", tuple(deps))


def parse_pipfile_lock(path: Path) -> Lockfile:
    """``Pipfile.lock`` (JSON): ``default`` and ``develop`` sections."""
    text = read_text(path)
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise LockfileError(str(path), f"invalid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("default", {}), dict):
        raise LockfileError(str(path), "not a Pipfile.lock (no 'default' section)")
    index = LineIndex(text)
    direct = _pipfile_direct(path.with_name("Pipfile"))
    deps = []
    for section, group in (("default", None), ("develop", "dev")):
        entries = data.get(section, {})
        if not isinstance(entries, dict):
            raise LockfileError(str(path), f"'{section}' is not an object")
        start = (index.find(rf'^\s*"{section}"\s*:') or 1) - 1
        for raw_name, entry in entries.items():
            line = index.find(rf'^\s*"{re.escape(raw_name)}"\s*:', start)
            if not isinstance(entry, dict):
                raise LockfileError(str(path), f"entry {raw_name!r} is not an object", line)
            deps.append(_pipfile_entry(str(raw_name), entry, path, line, group, direct))
    return Lockfile(path, "Pipfile.lock", tuple(deps))


def _pipfile_entry(
    name: str, entry: dict[str, Any], path: Path, line: int | None, group: str | None,
    direct: set[str],
) -> Dependency:  # fmt: skip
    raw = entry.get("version")
    version = raw[2:] if isinstance(raw, str) and raw.startswith("==") else None
    url = None
    if isinstance(entry.get("git"), str):
        url = f"git+{entry['git']}" + (f"@{entry['ref']}" if entry.get("ref") else "")
    elif isinstance(entry.get("file"), str) or isinstance(entry.get("path"), str):
        url = str(entry.get("file") or entry.get("path"))
    raw_extras, raw_hashes = entry.get("extras"), entry.get("hashes")
    extras = raw_extras if isinstance(raw_extras, list) else []
    hashes = raw_hashes if isinstance(raw_hashes, list) else []
    return Dependency(
        name=normalize_name(name),
        version=version,
        specifier=None if version else (raw if isinstance(raw, str) and raw != "*" else ""),
        source=str(path),
        line=line,
        hashes=tuple(h for x in hashes if (h := _hash(x))),
        url=url,
        is_direct=normalize_name(name) in direct,
        extras=tuple(sorted(str(e) for e in extras)),
        markers=entry.get("markers") if isinstance(entry.get("markers"), str) else None,
        group=group,
    )


def _pipfile_direct(pipfile: Path) -> set[str]:
    if not pipfile.is_file():
        return set()
    try:
        data, _ = load_toml(pipfile)
    except LockfileError:
        return set()
    names: set[str] = set()
    for section in ("packages", "dev-packages"):
        table = data.get(section)
        if isinstance(table, dict):
            names.update(normalize_name(str(k)) for k in table)
    return names
