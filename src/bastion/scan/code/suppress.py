"""Inline suppressions: ``# bastion: ignore[RULE-ID] reason`` in code, configs and notebooks.

A directive applies to findings of the named rules on its own line or, when the comment stands
alone on its line, on the next line. For findings without a line (a notebook cell's saved
outputs) a directive anywhere in that cell's source applies. A reason is required: a directive
without one (or without a rule id) suppresses nothing and is itself reported as
``BST-CODE-019``. Suppressed findings are not dropped: the verdict lists them with the reason.

>>> [(d.line, d.ids, d.reason) for d in parse_directives(
...     "x = pickle.loads(b)  # bastion: ignore[BST-CODE-003] bytes from our own cache")]
[(1, ('BST-CODE-003',), 'bytes from our own cache')]
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bastion.core import Finding, Location
from bastion.scan.blob import FileBlob
from bastion.scan.code.rules import SUPPRESSION_NO_REASON
from bastion.scan.code.source import read_text
from bastion.scan.limits import Limits

_DIRECTIVE = re.compile(r"#\s*bastion\s*:\s*ignore\b(?P<rest>.*)$", re.IGNORECASE)
_BRACKETS = re.compile(r"^\s*\[(?P<ids>[^\]]*)\]\s*[-:—–,;]*\s*(?P<reason>.*?)\s*$")
_RULE_ID = re.compile(r"^BST-[A-Z][A-Z0-9]*-\d{3}$")
_MIN_REASON = 3
_CACHE_FILES = 256


@dataclass(frozen=True)
class Directive:
    """One ``bastion: ignore`` comment."""

    line: int
    column: int
    ids: tuple[str, ...]
    reason: str
    standalone: bool
    problem: str | None = None

    @property
    def valid(self) -> bool:
        """Whether it suppresses anything (rule ids and a reason)."""
        return self.problem is None


def parse_directives(text: str) -> list[Directive]:
    """Every directive in a text, valid or not, in line order."""
    if "bastion" not in text:
        return []
    found: list[Directive] = []
    pos = text.find("bastion")
    while pos >= 0:
        start = text.rfind("\n", 0, pos) + 1
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        line_text = text[start:end]
        match = _DIRECTIVE.search(line_text)
        if match is not None:
            line = text.count("\n", 0, start) + 1
            found.append(_directive(line, line_text, match))
        pos = text.find("bastion", end)
    return found


def _directive(line: int, line_text: str, match: re.Match[str]) -> Directive:
    column = match.start() + 1
    standalone = not line_text[: match.start()].strip()
    brackets = _BRACKETS.match(match.group("rest"))
    if brackets is None:
        return Directive(line, column, (), "", standalone, "names no rule id in [brackets]")
    ids = tuple(i.upper() for i in re.split(r"[,\s]+", brackets.group("ids")) if i)
    reason = brackets.group("reason")
    bad = [i for i in ids if not _RULE_ID.match(i)]
    if not ids:
        return Directive(line, column, ids, reason, standalone, "names no rule id")
    if bad:
        return Directive(line, column, ids, reason, standalone, f"bad rule id {bad[0]!r}")
    if len(reason.strip(" .-_#")) < _MIN_REASON:
        return Directive(line, column, ids, reason, standalone, "gives no reason")
    return Directive(line, column, ids, reason, standalone)


def directive_findings(
    directives: list[Directive], location: Location, line_offset: int = 0
) -> Iterator[Finding]:
    """``BST-CODE-019`` for each directive that suppresses nothing."""
    for directive in directives:
        if directive.problem is None:
            continue
        at = Location(
            location.path,
            location.member,
            line=directive.line + line_offset,
            column=directive.column,
            cell=location.cell,
        )
        ids = ",".join(directive.ids) or "-"
        yield SUPPRESSION_NO_REASON.finding(
            at,
            f"Suppression comment {directive.problem}; it suppresses nothing. "
            "Write '# bastion: ignore[RULE-ID] why this is acceptable'.",
            evidence=f"bastion: ignore[{ids}]",
        )


class DirectiveMap:
    """The valid directives of one text (or notebook cell), by line."""

    def __init__(self, directives: list[Directive]) -> None:
        self._by_line = {d.line: d for d in directives if d.valid}

    def reason_for(self, rule_id: str, line: int | None) -> str | None:
        """The reason that suppresses ``rule_id`` at ``line`` (any line when ``None``)."""
        if line is None:
            for directive in self._by_line.values():
                if rule_id in directive.ids:
                    return directive.reason
            return None
        same = self._by_line.get(line)
        if same is not None and rule_id in same.ids:
            return same.reason
        above = self._by_line.get(line - 1)
        if above is not None and above.standalone and rule_id in above.ids:
            return above.reason
        return None


class InlineSuppressor:
    """A policy ``Suppressor``: reads the directives of the files findings point into.

    Built from the scan target; files are re-read lazily (bounded like the scan) only when a
    finding points into them, and their directives are cached.
    """

    #: Reported as SARIF ``inSource`` suppressions.
    kind = "inSource"

    def __init__(self, target: Path, limits: Limits | None = None) -> None:
        self._target = target
        self._root = target if target.is_dir() else target.parent
        self._single = None if target.is_dir() else target.name
        self._limits = limits or Limits()
        self._cache: OrderedDict[tuple[str, int | None], DirectiveMap] = OrderedDict()

    def __call__(self, finding: Finding) -> str | None:
        """The reason a finding is suppressed inline, or ``None``."""
        loc = finding.location
        if loc.member is not None or (loc.line is None and loc.cell is None):
            return None
        directives = self._directives(loc.path, loc.cell)
        if directives is None:
            return None
        reason = directives.reason_for(finding.rule_id, loc.line)
        return reason

    def _directives(self, rel: str, cell: int | None) -> DirectiveMap | None:
        key = (rel, cell)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        text = self._read(rel, cell)
        if text is None:
            return None
        found = DirectiveMap(parse_directives(text))
        self._cache[key] = found
        if len(self._cache) > _CACHE_FILES:
            self._cache.popitem(last=False)
        return found

    def _read(self, rel: str, cell: int | None) -> str | None:
        path = self._resolve(rel)
        if path is None:
            return None
        try:
            blob = FileBlob(path)
            try:
                if cell is not None:
                    from bastion.scan.notebooks.parse import cell_sources

                    sources = cell_sources(blob, self._limits)
                    return sources[cell] if 0 <= cell < len(sources) else None
                return read_text(blob, self._limits.max_text_bytes, python=True).text
            finally:
                blob.close()
        except Exception:
            # The scan already reported what is wrong with this file; no suppression from it.
            return None

    def _resolve(self, rel: str) -> Path | None:
        if self._single is not None:
            return self._target if rel == self._single else None
        if rel.startswith("/") or ".." in rel.split("/"):
            return None
        path = self._root / rel
        if path.is_symlink() or not path.is_file():
            return None
        return path
