"""Matching pinned dependencies against advisories, with aliases merged into one result.

>>> for hit in find_vulnerabilities(database, "torch", "1.13.0"):      # doctest: +SKIP
...     print(hit.primary, hit.ids, hit.fixed)
CVE-2022-45907 ('CVE-2022-45907', 'GHSA-47fc-vmwq-366v', 'PYSEC-2022-43015') ('1.13.1',)

Records that name each other (``aliases`` on either side, transitively) describe one
vulnerability: they become one :class:`VulnerabilityHit` with every id, the worst severity any
of them gives, and the smallest version that fixes all of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from packaging.version import Version

from bastion.core import Severity
from bastion.scan.deps.osv import Advisory, parse_version, primary_id, sort_ids
from bastion.scan.deps.vulndb import VulnDatabase


@dataclass(frozen=True)
class VulnerabilityHit:
    """One vulnerability (all its aliases) affecting one package version."""

    name: str
    version: str
    ids: tuple[str, ...]
    records: tuple[str, ...]
    summary: str
    severity: Severity | None
    fixed: tuple[str, ...]
    malicious: bool
    modified: str | None

    @property
    def primary(self) -> str:
        """The id the vulnerability is known by (CVE first)."""
        return primary_id(self.ids)

    @property
    def fix(self) -> str | None:
        """The smallest version that fixes every merged record, if one is known."""
        return self.fixed[-1] if self.fixed else None


def _groups(advisories: Iterable[Advisory]) -> list[list[Advisory]]:
    """Union-find over ids and aliases."""
    parent: dict[str, str] = {}

    def find(item: str) -> str:
        while parent.setdefault(item, item) != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    items = list(advisories)
    for advisory in items:
        for alias in advisory.aliases:
            root_a, root_b = find(advisory.id), find(alias)
            if root_a != root_b:
                parent[root_b] = root_a
    grouped: dict[str, list[Advisory]] = {}
    for advisory in items:
        grouped.setdefault(find(advisory.id), []).append(advisory)
    return list(grouped.values())


def _max_fix(candidates: list[tuple[str, ...]]) -> tuple[str, ...]:
    """Per record, its smallest fix; overall, every distinct one in ascending order."""
    firsts: list[Version] = []
    for fixes in candidates:
        parsed = sorted(v for f in fixes if (v := parse_version(f)) is not None)
        if parsed:
            firsts.append(parsed[0])
    return tuple(str(v) for v in sorted(set(firsts)))


def find_vulnerabilities(
    database: VulnDatabase, name: str, version: str
) -> tuple[VulnerabilityHit, ...]:
    """Every vulnerability affecting ``name`` (normalized) at ``version``, aliases merged."""
    matched: list[tuple[Advisory, tuple[str, ...]]] = []
    for advisory in database.advisories_for(name):
        matches = advisory.matches(name, version)
        if matches:
            fixes = tuple(sorted({f for m in matches for f in m.fixed}))
            matched.append((advisory, fixes))
    fixes_of = {a.id: f for a, f in matched}
    hits = []
    for group in _groups(a for a, _ in matched):
        ids = sort_ids(i for a in group for i in a.ids)
        ratings = [a.severity for a in group if a.severity is not None]
        summary = next((a.summary for a in sorted(group, key=lambda a: a.id) if a.summary), "")
        modified = max((a.modified for a in group if a.modified), default=None)
        hits.append(
            VulnerabilityHit(
                name=name,
                version=version,
                ids=tuple(ids),
                records=tuple(sorted(a.id for a in group)),
                summary=summary,
                severity=max(ratings) if ratings else None,
                fixed=_max_fix([fixes_of[a.id] for a in group]),
                malicious=any(a.malicious for a in group),
                modified=modified,
            )
        )
    return tuple(sorted(hits, key=lambda h: (not h.malicious, h.primary)))
