"""OSV records, reduced to what matching PyPI versions needs, and the matching itself.

>>> record = {"id": "GHSA-47fc-vmwq-366v", "aliases": ["CVE-2022-45907"],
...           "affected": [{"package": {"ecosystem": "PyPI", "name": "torch"},
...                         "ranges": [{"type": "ECOSYSTEM",
...                                     "events": [{"introduced": "0"}, {"fixed": "1.13.1"}]}]}]}
>>> advisory = advisory_from_osv(record)
>>> [m.fixed for m in advisory.matches("torch", "1.13.0")]
[('1.13.1',)]
>>> advisory.matches("torch", "1.13.1")
()

Matching follows the OSV schema's evaluation algorithm (``IncludedInVersions`` or
``IncludedInRanges``, events sorted by version, ``limit`` events bounding the range) with PEP 440
ordering from ``packaging``: epochs, pre-, post- and dev-releases order as pip orders them. A
local version (``2.1.0+cu118``) is compared with its local part for ranges (it sorts just after
``2.1.0``, as pip sees it) and by its public part against the explicit ``versions`` list. Only
``ECOSYSTEM`` ranges are used (``GIT`` ranges need the repository). An event version that is not
PEP 440 makes the range wider, never narrower: an unreadable ``introduced`` counts as ``0`` and an
unreadable ``fixed``/``last_affected``/``limit`` is ignored, so bad data can only add findings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from packaging.version import InvalidVersion, Version

from bastion.core import Severity
from bastion.scan.deps.cvss import severity_from_vector
from bastion.scan.deps.lockfiles import normalize_name

_EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")
_GHSA_SEVERITY = {
    "LOW": Severity.LOW,
    "MODERATE": Severity.MEDIUM,
    "MEDIUM": Severity.MEDIUM,
    "HIGH": Severity.HIGH,
    "CRITICAL": Severity.CRITICAL,
}
_ORDER = re.compile(r"^(CVE|GHSA|PYSEC|OSV|MAL)-")
MAX_SUMMARY = 240


@dataclass(frozen=True)
class Affected:
    """One ``affected[]`` entry for a PyPI package: its ECOSYSTEM ranges and listed versions."""

    name: str
    ranges: tuple[tuple[tuple[str, str], ...], ...]
    versions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Match:
    """A version an advisory affects, and the fixed versions of the ranges that contain it."""

    fixed: tuple[str, ...]
    by_list: bool = False


@dataclass(frozen=True)
class Advisory:
    """An OSV record as bastion keeps it (withdrawn records and other ecosystems are dropped)."""

    id: str
    aliases: tuple[str, ...]
    summary: str
    severity: Severity | None
    vector: str | None
    modified: str | None
    affected: tuple[Affected, ...]

    @property
    def malicious(self) -> bool:
        """An OpenSSF malicious-packages record (``MAL-…``)."""
        return self.id.startswith("MAL-")

    @property
    def ids(self) -> tuple[str, ...]:
        """The record's own id and its aliases."""
        return (self.id, *self.aliases)

    def matches(self, name: str, version: str) -> tuple[Match, ...]:
        """How ``name`` at ``version`` is affected (empty when it is not)."""
        found = []
        for entry in self.affected:
            if entry.name == name:
                match = affected_match(entry, version)
                if match is not None:
                    found.append(match)
        return tuple(found)

    def to_json(self) -> list[Any]:
        """A compact JSON form for the index file."""
        return [
            self.id,
            list(self.aliases),
            self.summary,
            self.severity.label if self.severity is not None else None,
            self.vector,
            self.modified,
            [
                [a.name, [list(map(list, r)) for r in a.ranges], list(a.versions)]
                for a in self.affected
            ],
        ]

    @classmethod
    def from_json(cls, item: list[Any]) -> Advisory:
        """Inverse of :meth:`to_json`."""
        ident, aliases, summary, severity, vector, modified, affected = item
        return cls(
            ident,
            tuple(aliases),
            summary,
            Severity.parse(severity) if severity else None,
            vector,
            modified,
            tuple(
                Affected(
                    name,
                    tuple(tuple((str(k), str(v)) for k, v in r) for r in ranges),
                    tuple(versions),
                )
                for name, ranges, versions in affected
            ),
        )


def parse_version(text: str) -> Version | None:
    """A PEP 440 version, or ``None``."""
    try:
        return Version(text)
    except (InvalidVersion, TypeError):
        return None


def _range_match(events: tuple[tuple[str, str], ...], version: Version) -> Match | None:
    limits = [parse_version(v) for k, v in events if k == "limit" and v != "*"]
    bounded = [lim for lim in limits if lim is not None]
    if bounded and not any(version < lim for lim in bounded):
        return None
    ordered: list[tuple[Version, str]] = []
    for kind, text in events:
        if kind == "limit":
            continue
        parsed = Version("0") if kind == "introduced" and text == "0" else parse_version(text)
        if parsed is None:
            if kind != "introduced":
                continue  # unreadable upper bound: ignored, the range only grows
            parsed = Version("0")
        ordered.append((parsed, kind))
    # NOTE: at equal versions an "introduced" sorts first, so "fixed: 1.0, introduced: 1.0"
    # (a re-introduction) ends affected, as the timeline reads.
    ordered.sort(key=lambda item: (item[0], item[1] != "introduced"))
    affected = False
    for parsed, kind in ordered:
        if kind == "introduced" and version >= parsed:
            affected = True
        elif kind == "fixed" and version >= parsed:
            affected = False
        elif kind == "last_affected" and version > parsed:
            affected = False
    if not affected:
        return None
    fixes = sorted((p for p, k in ordered if k == "fixed" and p > version), key=lambda p: p)
    return Match(fixed=(str(fixes[0]),) if fixes else ())


def affected_match(entry: Affected, version_text: str) -> Match | None:
    """Whether one ``affected[]`` entry covers a version; ``None`` when it does not."""
    version = parse_version(version_text)
    if version is None:
        return Match(fixed=(), by_list=True) if version_text in entry.versions else None
    public = Version(version.public)
    for listed in entry.versions:
        other = parse_version(listed)
        if (other is not None and other == public) or listed == version_text:
            fixes = [m.fixed for r in entry.ranges if (m := _range_match(r, version))]
            return Match(fixed=tuple(sorted({f for fx in fixes for f in fx})), by_list=True)
    for events in entry.ranges:
        match = _range_match(events, version)
        if match is not None:
            return match
    return None


def _severity(record: Mapping[str, Any]) -> tuple[Severity | None, str | None]:
    specific = record.get("database_specific")
    rated = None
    if isinstance(specific, Mapping) and isinstance(specific.get("severity"), str):
        rated = _GHSA_SEVERITY.get(specific["severity"].strip().upper())
    vectors: list[str] = []
    for holder in [record, *(a for a in _list(record.get("affected")) if isinstance(a, Mapping))]:
        vectors.extend(
            item["score"]
            for item in _list(holder.get("severity"))
            if isinstance(item, Mapping) and isinstance(item.get("score"), str)
        )
    vectors.sort(key=lambda v: (not v.startswith("CVSS:3"), not v.startswith("CVSS:4")))
    vector = vectors[0] if vectors else None
    if rated is None and vector is not None:
        rated = severity_from_vector(vector)
    if rated is None and str(record.get("id", "")).startswith("MAL-"):
        rated = Severity.CRITICAL
    return rated, vector


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _affected(items: Iterable[Any]) -> list[Affected]:
    found = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        package = item.get("package")
        if not isinstance(package, Mapping) or package.get("ecosystem") != "PyPI":
            continue
        name = package.get("name")
        if not isinstance(name, str) or not name:
            continue
        ranges = []
        for rng in _list(item.get("ranges")):
            if not isinstance(rng, Mapping) or rng.get("type") != "ECOSYSTEM":
                continue
            events = tuple(
                (kind, str(event[kind]))
                for event in _list(rng.get("events"))
                if isinstance(event, Mapping)
                for kind in _EVENT_KINDS
                if kind in event and isinstance(event[kind], str | int | float)
            )
            if events:
                ranges.append(events)
        versions = tuple(str(v) for v in _list(item.get("versions")) if isinstance(v, str))
        if ranges or versions:
            found.append(Affected(normalize_name(name), tuple(ranges), versions))
    return found


def advisory_from_osv(record: Mapping[str, Any]) -> Advisory | None:
    """The PyPI part of an OSV record, or ``None`` (withdrawn, no id, no PyPI package)."""
    ident = record.get("id")
    if not isinstance(ident, str) or not ident or record.get("withdrawn"):
        return None
    affected = _affected(_list(record.get("affected")))
    if not affected:
        return None
    aliases = tuple(str(a) for a in _list(record.get("aliases")) if isinstance(a, str))
    summary = record.get("summary") or record.get("details") or ""
    text = " ".join(str(summary).split())
    if len(text) > MAX_SUMMARY:
        text = text[: MAX_SUMMARY - 1] + "…"
    severity, vector = _severity(record)
    modified = record.get("modified")
    return Advisory(
        id=ident,
        aliases=tuple(dict.fromkeys(a for a in aliases if a != ident)),
        summary=text,
        severity=severity,
        vector=vector,
        modified=modified if isinstance(modified, str) else None,
        affected=tuple(affected),
    )


def primary_id(ids: Iterable[str]) -> str:
    """The id a group of aliases is known by: CVE first, then GHSA, PYSEC, others."""
    ordered = sorted(set(ids))
    for prefix in ("CVE-", "GHSA-", "PYSEC-", "MAL-"):
        for ident in ordered:
            if ident.startswith(prefix):
                return ident
    return ordered[0]


def sort_ids(ids: Iterable[str]) -> list[str]:
    """Ids in report order: CVE, GHSA, PYSEC, OSV, MAL, then the rest, each sorted."""
    rank = {"CVE": 0, "GHSA": 1, "PYSEC": 2, "OSV": 3, "MAL": 4}

    def key(ident: str) -> tuple[int, str]:
        match = _ORDER.match(ident)
        return (rank[match.group(1)] if match else 9, ident)

    return sorted(set(ids), key=key)
