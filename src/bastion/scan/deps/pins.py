"""Pinning, hash and URL checks on parsed dependency files (``BST-DEP-003`` to ``-007``).

>>> from bastion.scan.deps.lockfiles import Dependency
>>> dep = Dependency("tool", None, None, "requirements.txt", 3, url="git+https://h/o/r.git@main")
>>> [i.rule.id for i in url_issues(dep)]
['BST-DEP-005']
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from bastion.core import Severity
from bastion.scan.deps.issues import DepIssue
from bastion.scan.deps.lockfiles import Dependency
from bastion.scan.deps.rules import (
    MISSING_HASHES,
    PLAIN_HTTP_URL,
    UNPINNED,
    URL_WITHOUT_HASH,
    VCS_WITHOUT_COMMIT,
)

_COMMIT = re.compile(r"^[0-9a-fA-F]{40}$|^[0-9a-fA-F]{64}$")
_VCS = ("git+", "hg+", "svn+", "bzr+")
_HASH_FRAGMENT = re.compile(r"(^|&)(sha256|sha384|sha512|md5|sha1|blake2b)=[0-9a-fA-F]+")
_DEV_WORDS = re.compile(r"(^|[-_.])(dev|develop|test|tests|testing|docs?|lint|ci|typing|bench)")
#: Lock files that pin what a ``pyproject.toml`` declares.
SIBLING_LOCKS = (
    "uv.lock",
    "poetry.lock",
    "pdm.lock",
    "Pipfile.lock",
    "pylock.toml",
    "requirements.txt",
    "requirements.lock",
    "conda-lock.yml",
)
#: Conda entries that are the interpreter and installer, not dependencies to pin.
_CONDA_TOOLS = frozenset({"python", "pip"})


def _vcs_refs(url: str) -> list[str]:
    """Every place a commit id can sit in a VCS URL: ``@ref``, ``#<sha>`` (uv), ``?rev=``."""
    main, _, fragment = url.partition("#")
    refs = [fragment] if fragment and "=" not in fragment else []
    parts = urlsplit(main.split("+", 1)[1] if "+" in main.split(":", 1)[0] else main)
    if "@" in parts.path:
        refs.append(parts.path.rsplit("@", 1)[1])
    for pair in parts.query.split("&"):
        key, _, value = pair.partition("=")
        if key in ("rev", "ref", "commit", "revision"):
            refs.append(value)
    return refs


def is_vcs(url: str) -> bool:
    """``git+…`` style requirement URLs and ``git://`` ones."""
    return url.lower().startswith(_VCS) or url.lower().startswith("git://")


def is_local(url: str) -> bool:
    """A path or ``file:`` URL: nothing is downloaded."""
    scheme = urlsplit(url).scheme.lower()
    return scheme in ("", "file") or (len(scheme) == 1 and url[1:2] == ":")


def _transport(url: str) -> str:
    lowered = url.lower()
    if lowered.startswith(_VCS):
        lowered = lowered.split("+", 1)[1]
    return urlsplit(lowered).scheme


def url_issues(dep: Dependency) -> list[DepIssue]:
    """Plain-HTTP downloads, VCS refs that are not commits, archives without a hash."""
    url = dep.url
    if not url or is_local(url):
        return []
    issues: list[DepIssue] = []
    shown = _redact(url)
    if _transport(url) in ("http", "git"):
        issues.append(
            DepIssue(
                PLAIN_HTTP_URL,
                dep.source,
                dep.line,
                f"{dep.name} is downloaded over {_transport(url)}:// ({shown}); anyone on the "
                "network path can replace what gets installed.",
                evidence=f"{dep.name} {shown}",
            )
        )
    if is_vcs(url):
        if not any(_COMMIT.match(ref) for ref in _vcs_refs(url)):
            refs = [r for r in _vcs_refs(url) if r]
            what = f"'{refs[-1]}'" if refs else "no ref (the default branch)"
            issues.append(
                DepIssue(
                    VCS_WITHOUT_COMMIT,
                    dep.source,
                    dep.line,
                    f"{dep.name} installs {what} of {shown}, not a commit: the repository decides "
                    "what gets installed next time.",
                    evidence=f"{dep.name} {shown}",
                )
            )
    elif not dep.hashes and not _HASH_FRAGMENT.search(url.partition("#")[2]):
        issues.append(
            DepIssue(
                URL_WITHOUT_HASH,
                dep.source,
                dep.line,
                f"{dep.name} is installed from {shown} with no hash to check it against.",
                evidence=f"{dep.name} {shown}",
            )
        )
    return issues


def _redact(url: str) -> str:
    """A URL without credentials (``https://user:token@host`` → ``https://***@host``)."""
    return re.sub(r"(?<=://)[^/@\s]+@", "***@", url)


def development_file(path: str) -> bool:
    """``requirements-dev.txt``, ``test-requirements.txt``, ``requirements/docs.txt``…"""
    name = posixpath.basename(path).lower()
    parent = posixpath.basename(posixpath.dirname(path)).lower()
    stem = name.rsplit(".", 1)[0]
    return bool(_DEV_WORDS.search(stem.replace("requirements", ""))) or bool(
        parent not in ("", "requirements") and _DEV_WORDS.search(parent)
    )


def unpinned_issues(
    deps: Iterable[Dependency], pins: dict[str, str], *, low: bool, why_low: str = ""
) -> list[DepIssue]:
    """One issue per dependency that allows more than one version (medium, or low)."""
    issues = []
    for dep in deps:
        if dep.version or dep.url or dep.name in pins:
            continue
        if dep.ecosystem == "conda" and dep.name in _CONDA_TOOLS:
            continue
        spec = dep.specifier or "any version"
        note = f" ({why_low})" if low and why_low else ""
        issues.append(
            DepIssue(
                UNPINNED,
                dep.source,
                dep.line,
                f"{dep.name} is not pinned ({spec}){note}: each install may get a different "
                "release.",
                evidence=f"{dep.name} {dep.specifier or '*'}",
                severity=Severity.LOW if low else None,
            )
        )
    return issues


def pyproject_unpinned(deps: Iterable[Dependency], source: str) -> list[DepIssue]:
    """One low issue for a ``pyproject.toml`` whose main dependencies float and that has no lock."""
    loose = [d for d in deps if d.group is None and not d.version and not d.url]
    if not loose:
        return []
    names = ", ".join(d.name for d in loose[:12]) + (", …" if len(loose) > 12 else "")
    return [
        DepIssue(
            UNPINNED,
            source,
            loose[0].line,
            f"{len(loose)} project dependencies are ranges ({names}) and no lock file "
            f"({', '.join(SIBLING_LOCKS[:4])}…) sits beside pyproject.toml: an application "
            "deployed from it installs whatever is newest. (A library should declare ranges; "
            "then disable this rule for it.)",
            evidence="pyproject ranges without lock: " + " ".join(sorted(d.name for d in loose)),
            severity=Severity.LOW,
        )
    ]


def hash_issues(deps: Iterable[Dependency], *, required: bool, why: str) -> list[DepIssue]:
    """Entries without hashes when the project checks hashes (URL/VCS/path entries exempt)."""
    items = list(deps)
    if not required:
        return []
    return [
        DepIssue(
            MISSING_HASHES,
            dep.source,
            dep.line,
            f"{dep.name} has no hash although {why}: its download is not verified.",
            evidence=f"{dep.name} no hash",
        )
        for dep in items
        if not dep.hashes and not dep.url
    ]
