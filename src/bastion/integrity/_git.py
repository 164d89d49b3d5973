"""The source commit of a project, read from ``.git`` directly (no ``git`` process).

Running ``git`` inside an untrusted checkout can execute its configuration (``core.fsmonitor``,
hooks), so bastion reads ``HEAD``, loose refs and ``packed-refs`` as plain files instead. The
remote URL is returned without any user name or token it may embed.
"""

from __future__ import annotations

import configparser
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_MAX_FILE = 16 * 1024 * 1024


@dataclass(frozen=True)
class GitSource:
    """A commit and, when configured, the ``origin`` remote (credentials removed)."""

    commit: str
    uri: str | None
    ref: str | None


def _read(path: Path) -> str | None:
    try:
        if path.stat().st_size > _MAX_FILE:
            return None
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def find_git_dir(start: Path) -> tuple[Path, Path] | None:
    """``(git_dir, common_dir)`` of the repository containing ``start``, if any."""
    here = start.resolve()
    for directory in (here, *here.parents):
        dot = directory / ".git"
        if dot.is_dir():
            return dot, dot
        if dot.is_file():
            text = _read(dot) or ""
            match = re.match(r"gitdir:\s*(.+)", text.strip())
            if not match:
                return None
            git_dir = (directory / match.group(1).strip()).resolve()
            common = _read(git_dir / "commondir")
            common_dir = (git_dir / common.strip()).resolve() if common else git_dir
            return git_dir, common_dir
    return None


def _resolve_ref(ref: str, git_dir: Path, common_dir: Path) -> str | None:
    if not ref.startswith("refs/") or ".." in ref.split("/"):
        return None
    for base in (git_dir, common_dir):
        text = _read(base / ref)
        if text and _SHA.match(text.strip()):
            return text.strip()
    packed = _read(common_dir / "packed-refs") or ""
    for line in packed.splitlines():
        parts = line.strip().split(" ", 1)
        if len(parts) == 2 and parts[1] == ref and _SHA.match(parts[0]):
            return parts[0]
    return None


def strip_credentials(url: str) -> str:
    """``https://user:token@host/repo`` → ``https://host/repo``; scp-style URLs unchanged."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.scheme and parts.hostname and (parts.username or parts.password):
        host = parts.hostname + (f":{parts.port}" if parts.port else "")
        return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return url


def _origin(common_dir: Path) -> str | None:
    text = _read(common_dir / "config")
    if not text:
        return None
    parser = configparser.RawConfigParser(strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return None
    section = 'remote "origin"'
    if parser.has_option(section, "url"):
        return strip_credentials(parser.get(section, "url").strip())
    return None


def read_source(start: Path) -> GitSource | None:
    """The checked-out commit of the repository around ``start`` (``None`` when not a repo)."""
    found = find_git_dir(start)
    if found is None:
        return None
    git_dir, common_dir = found
    head = (_read(git_dir / "HEAD") or "").strip()
    ref = None
    if head.startswith("ref:"):
        ref = head[4:].strip()
        commit = _resolve_ref(ref, git_dir, common_dir)
    else:
        commit = head if _SHA.match(head) else None
    if commit is None:
        return None
    return GitSource(commit, _origin(common_dir), ref)
