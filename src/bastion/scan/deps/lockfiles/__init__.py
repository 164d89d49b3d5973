"""Reading Python dependency manifests and lockfiles into :class:`Dependency` records.

>>> from pathlib import Path
>>> from bastion.scan.deps.lockfiles import read_lockfile, find_lockfiles
>>> for dep in read_lockfile(Path("uv.lock")):             # doctest: +SKIP
...     print(dep.name, dep.version, dep.purl, dep.is_direct)
numpy 2.1.3 pkg:pypi/numpy@2.1.3 True

Formats (chosen by file name, see :func:`detect_format`): ``requirements*.txt`` and ``*.in``
(with ``-r``/``-c`` includes, hashes, markers, URLs, VCS), ``pyproject.toml`` (PEP 621, PEP 735
dependency groups, Poetry), ``poetry.lock``, ``uv.lock``, ``Pipfile.lock``, conda
``environment.yml``, ``pylock.toml`` / ``pylock.*.toml`` (PEP 751). Names are PEP 503 normalized;
specifiers are PEP 440 (Poetry's ``^``/``~`` translated). A file that cannot be read or parsed
raises :class:`LockfileError` naming the file, the line when known, and the problem. Nothing is
fetched and nothing is executed (``setup.py`` is not read).

This is a library for other checks (vulnerability matching, the AI-BOM): every value is frozen.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from pathlib import Path

from bastion.scan.deps.lockfiles._conda import parse_environment
from bastion.scan.deps.lockfiles._locks import (
    parse_pipfile_lock,
    parse_poetry_lock,
    parse_pylock,
    parse_uv_lock,
)
from bastion.scan.deps.lockfiles._model import (
    Dependency,
    Lockfile,
    LockfileError,
    normalize_name,
)
from bastion.scan.deps.lockfiles._pyproject import parse_pyproject, poetry_to_pep440
from bastion.scan.deps.lockfiles._requirements import parse_requirements

#: Format name → parser.
PARSERS: dict[str, Callable[[Path], Lockfile]] = {
    "requirements": parse_requirements,
    "pyproject": parse_pyproject,
    "poetry.lock": parse_poetry_lock,
    "uv.lock": parse_uv_lock,
    "Pipfile.lock": parse_pipfile_lock,
    "environment.yml": parse_environment,
    "pylock.toml": parse_pylock,
}

#: Lock files first: when a project has several, the most precise comes first.
_PATTERNS: tuple[tuple[str, str], ...] = (
    ("uv.lock", "uv.lock"),
    ("poetry.lock", "poetry.lock"),
    ("pylock.toml", "pylock.toml"),
    ("pylock.*.toml", "pylock.toml"),
    ("Pipfile.lock", "Pipfile.lock"),
    ("environment.yml", "environment.yml"),
    ("environment.yaml", "environment.yml"),
    ("requirements*.txt", "requirements"),
    ("requirements*.in", "requirements"),
    ("pyproject.toml", "pyproject"),
)


def detect_format(path: Path) -> str | None:
    """The format a file name denotes, or ``None``."""
    for pattern, fmt in _PATTERNS:
        if fnmatch.fnmatchcase(path.name, pattern):
            return fmt
    return None


def parse_lockfile(path: Path, fmt: str | None = None) -> Lockfile:
    """Parse one manifest or lockfile (format from the name unless given)."""
    fmt = fmt or detect_format(path)
    if fmt is None or fmt not in PARSERS:
        raise LockfileError(
            str(path), f"unknown dependency file format (known: {', '.join(PARSERS)})"
        )
    return PARSERS[fmt](path)


def read_lockfile(path: Path, fmt: str | None = None) -> tuple[Dependency, ...]:
    """The dependencies of one file (constraint-only entries excluded)."""
    return parse_lockfile(path, fmt).dependencies


def find_lockfiles(project: Path) -> tuple[Path, ...]:
    """Dependency files directly in ``project`` (and ``requirements/``), most precise first."""
    found: list[Path] = []
    candidates = [p for p in sorted(project.glob("*")) if p.is_file()]
    requirements_dir = project / "requirements"
    if requirements_dir.is_dir():
        candidates += [p for p in sorted(requirements_dir.glob("*.txt")) if p.is_file()]
    for pattern, _ in _PATTERNS:
        for path in candidates:
            matches = fnmatch.fnmatchcase(path.name, pattern)
            in_req_dir = path.parent == requirements_dir and pattern == "requirements*.txt"
            if (matches or in_req_dir) and path not in found:
                found.append(path)
    return tuple(found)


__all__ = [
    "PARSERS",
    "Dependency",
    "Lockfile",
    "LockfileError",
    "detect_format",
    "find_lockfiles",
    "normalize_name",
    "parse_lockfile",
    "poetry_to_pep440",
    "read_lockfile",
]
