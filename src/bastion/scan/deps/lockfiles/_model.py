"""The values every lockfile reader produces: :class:`Dependency`, :class:`Lockfile`, the error."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from bastion.errors import BastionError

_NORMALIZE = re.compile(r"[-_.]+")
#: Largest manifest or lockfile read (real ones are well under a few MiB).
MAX_LOCKFILE_BYTES = 32 * 1024 * 1024


def normalize_name(name: str) -> str:
    """PEP 503 normalized project name: lower case, runs of ``-_.`` become ``-``."""
    return _NORMALIZE.sub("-", name).lower().strip()


class LockfileError(BastionError):
    """A manifest or lockfile cannot be read: names the file, the line when known, the problem."""

    def __init__(self, path: str, problem: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {problem}")
        self.path = path
        self.line = line
        self.problem = problem


@dataclass(frozen=True)
class Dependency:
    """One package a project declares or pins.

    ``version`` is set when the file pins one exact version (``==1.2.3``, a lock entry);
    otherwise ``specifier`` holds the constraint (``>=1.2,<2``; empty when unconstrained).
    ``is_direct`` is true for what the project itself asks for (a manifest entry, or a lock entry
    the project's manifest names), false for transitive lock entries. ``hashes`` are
    ``"<alg>:<hex>"``. ``group`` names the optional/dev group (``dev``, ``optional:gpu``) or is
    ``None`` for the main dependencies. ``ecosystem`` is ``pypi`` or ``conda``.
    """

    name: str
    version: str | None
    specifier: str | None
    source: str
    line: int | None = None
    hashes: tuple[str, ...] = ()
    url: str | None = None
    is_direct: bool = True
    extras: tuple[str, ...] = ()
    markers: str | None = None
    group: str | None = None
    ecosystem: str = "pypi"

    @property
    def purl(self) -> str:
        """The package URL (``pkg:pypi/requests@2.32.3``; a direct URL as a qualifier)."""
        name = quote(self.name, safe="")
        text = f"pkg:{self.ecosystem}/{name}"
        if self.version:
            text += "@" + quote(self.version, safe="")
        qualifiers: dict[str, str] = {}
        if self.url:
            key = "vcs_url" if _is_vcs(self.url) else "download_url"
            qualifiers[key] = self.url
        if qualifiers:
            text += "?" + "&".join(
                f"{k}={quote(v, safe=':/')}" for k, v in sorted(qualifiers.items())
            )
        return text


def _is_vcs(url: str) -> bool:
    return url.split("+", 1)[0] in ("git", "hg", "svn", "bzr") and "+" in url.split(":", 1)[0]


@dataclass(frozen=True)
class Lockfile:
    """A parsed file: its format, what it declares or pins, and constraint-only entries."""

    path: Path
    format: str
    dependencies: tuple[Dependency, ...]
    constraints: tuple[Dependency, ...] = ()


def read_text(path: Path) -> str:
    """A manifest's text, bounded; a clear :class:`LockfileError` when it cannot be read."""
    try:
        if path.stat().st_size > MAX_LOCKFILE_BYTES:
            raise LockfileError(str(path), f"larger than {MAX_LOCKFILE_BYTES} bytes")
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise LockfileError(str(path), "file not found") from None
    except IsADirectoryError:
        raise LockfileError(str(path), "is a directory") from None
    except UnicodeDecodeError as exc:
        raise LockfileError(str(path), f"not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise LockfileError(str(path), f"cannot read: {exc.strerror or exc}") from exc


class LineIndex:
    """Finds the line of a key or table in a text format that reports no positions (TOML)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def find(self, pattern: str, start: int = 0) -> int | None:
        """1-based number of the first line at or after ``start`` (0-based) matching."""
        regex = re.compile(pattern)
        for index in range(start, len(self.lines)):
            if regex.search(self.lines[index]):
                return index + 1
        return None

    def headers(self, pattern: str) -> list[int]:
        """0-based indexes of every line matching (e.g. each ``[[package]]``)."""
        regex = re.compile(pattern)
        return [i for i, line in enumerate(self.lines) if regex.match(line.strip())]

    def key_line(self, name: str, start: int = 0) -> int | None:
        """The line declaring ``name`` as a key or quoted string, at or after ``start``."""
        escaped = re.escape(name)
        return self.find(rf"""(^|[\s"'{{,\[])["']?{escaped}["']?\s*[=\[<>~!;@ "']""", start)
