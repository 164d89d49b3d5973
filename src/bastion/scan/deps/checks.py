"""Every dependency check on one parsed manifest or lock file, as :class:`DepIssue` values.

>>> issues = check_file(parsed, database=None)      # doctest: +SKIP

:class:`ParsedFile` says what was read (format, dependencies, text) and which of the parsed
dependencies this file should report: its own, and those of ``-r`` includes that will not be
scanned as files of their own (``-r common.txt``); an included ``requirements-base.txt`` is
reported by its own scan, except for hashes this file requires of it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bastion.core import Severity
from bastion.scan.deps.indexes import (
    IndexSetting,
    pyproject_settings,
    requirements_settings,
    setting_issues,
)
from bastion.scan.deps.issues import DepIssue
from bastion.scan.deps.lockfiles import Dependency, Lockfile
from bastion.scan.deps.osv import sort_ids
from bastion.scan.deps.osv_export import VulnDbError
from bastion.scan.deps.pins import (
    SIBLING_LOCKS,
    development_file,
    hash_issues,
    pyproject_unpinned,
    unpinned_issues,
    url_issues,
)
from bastion.scan.deps.rules import (
    KNOWN_CONFUSION,
    KNOWN_VULNERABILITY,
    MALICIOUS_PACKAGE,
    TYPOSQUAT,
    VULN_CHECK_SKIPPED,
    VULN_DB_USED,
)
from bastion.scan.deps.typosquat import find_typosquat
from bastion.scan.deps.vulndb import DatabaseChoice
from bastion.scan.deps.vulns import VulnerabilityHit, find_vulnerabilities

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class ParsedFile:
    """A parsed dependency file and which of its dependencies it reports."""

    path: Path
    format: str
    lock: Lockfile
    text: str
    #: Whether a file another scan covers (an included requirements file) is reported elsewhere.
    scanned_elsewhere: Callable[[str], bool]

    def own(self) -> list[Dependency]:
        """Dependencies this file reports: its own and those of unscanned includes."""
        return [d for d in self.lock.dependencies if not self.scanned_elsewhere(d.source)]

    def is_own_line(self, dep: Dependency) -> bool:
        """Whether the dependency is written in this very file."""
        return dep.source == str(self.path)


def _pins(parsed: ParsedFile) -> dict[str, str]:
    """Versions fixed by ``-c`` constraint files."""
    return {c.name: c.version for c in parsed.lock.constraints if c.version}


def _requirements_issues(parsed: ParsedFile) -> list[DepIssue]:
    own = parsed.own()
    issues: list[DepIssue] = []
    name = parsed.path.name.lower()
    compiled = parsed.path.with_suffix(".txt")
    if not name.startswith("constraints") and not (
        parsed.path.suffix == ".in" and compiled.is_file()
    ):
        low = development_file(str(parsed.path)) or parsed.path.suffix == ".in"
        why = "a pip-compile input" if parsed.path.suffix == ".in" else "development requirements"
        issues += unpinned_issues(own, _pins(parsed), low=low, why_low=why)
    settings = requirements_settings(parsed.text)
    everything = list(parsed.lock.dependencies)
    require = any(s.option == "require-hashes" for s in settings)
    hashed = any(d.hashes for d in everything)
    if require or hashed:
        why = "this file sets --require-hashes" if require else "other requirements carry --hash"
        children: dict[str, list[Dependency]] = {}
        for dep in everything:
            if parsed.scanned_elsewhere(dep.source):
                children.setdefault(dep.source, []).append(dep)
        targets = own + [
            d for deps in children.values() if not any(x.hashes for x in deps) for d in deps
        ]
        issues += hash_issues(targets, required=True, why=why)
    every_hashed = bool(own) and all(d.hashes for d in own)
    issues += setting_issues(settings, str(parsed.path), hashes_everywhere=every_hashed)
    return issues


def _lockfile_issues(parsed: ParsedFile) -> list[DepIssue]:
    deps = parsed.own()
    hashed = any(d.hashes for d in deps)
    return hash_issues(deps, required=hashed, why="other entries of this lock file carry hashes")


def _pyproject_issues(parsed: ParsedFile) -> list[DepIssue]:
    issues: list[DepIssue] = []
    folder = parsed.path.parent
    locked = any((folder / n).is_file() for n in SIBLING_LOCKS) or any(folder.glob("pylock.*.toml"))
    if not locked:
        issues += pyproject_unpinned(parsed.own(), str(parsed.path))
    try:
        data = tomllib.loads(parsed.text)
    except tomllib.TOMLDecodeError:
        return issues  # NOTE: the reader already parsed it; unreachable in practice
    settings: list[IndexSetting] = pyproject_settings(data, parsed.text)
    issues += setting_issues(settings, str(parsed.path), hashes_everywhere=False)
    return issues


def _typosquat_issues(deps: list[Dependency]) -> list[DepIssue]:
    issues = []
    seen: set[str] = set()
    for dep in deps:
        if dep.ecosystem != "pypi" or dep.name in seen:
            continue
        seen.add(dep.name)
        found = find_typosquat(dep.name)
        if found is None:
            continue
        if found.reason == "known-confusion":
            issues.append(
                DepIssue(
                    KNOWN_CONFUSION,
                    dep.source,
                    dep.line,
                    f"{dep.name} is not the package meant: {found.detail}. Depend on "
                    f"{found.target}.",
                    evidence=f"{dep.name} -> {found.target}",
                    severity=Severity.MEDIUM if found.placeholder else Severity.HIGH,
                    remediation=f"Replace {dep.name} with {found.target}.",
                )
            )
        else:
            issues.append(
                DepIssue(
                    TYPOSQUAT,
                    dep.source,
                    dep.line,
                    f"{dep.name} looks like a typosquat of {found.target}: it {found.detail}. "
                    f"Check that {dep.name} is really the package you mean.",
                    evidence=f"{dep.name} ~ {found.target}",
                    properties={"target": found.target, "reason": found.reason},
                )
            )
    return issues


def _hit_issue(dep: Dependency, hit: VulnerabilityHit, db_note: str) -> DepIssue:
    ids = ", ".join(sort_ids(hit.ids))
    where = "" if dep.is_direct else " (a transitive dependency)"
    summary = f": {hit.summary}" if hit.summary else ""
    if hit.malicious:
        return DepIssue(
            MALICIOUS_PACKAGE,
            dep.source,
            dep.line,
            f"{dep.name} {hit.version}{where} is a known malicious package{summary} ({ids}).",
            evidence=f"{dep.name}=={hit.version} {hit.primary}",
            properties={"ids": list(hit.ids), "vuln_db": db_note},
        )
    if hit.fix:
        fixed = f" Fixed in {hit.fix}."
        remediation = f"Upgrade {dep.name} to {hit.fix} or later and re-lock."
    else:
        fixed = " No fixed version is published."
        remediation = f"No fix is published: replace or remove {dep.name}, or isolate its use."
    rated = "" if hit.severity is not None else " (not rated by the advisory; shown as medium)"
    return DepIssue(
        KNOWN_VULNERABILITY,
        dep.source,
        dep.line,
        f"{dep.name} {hit.version}{where} has a known vulnerability{summary} ({ids}).{fixed}"
        f"{rated}",
        evidence=f"{dep.name}=={hit.version} {hit.primary}",
        severity=hit.severity or Severity.MEDIUM,
        remediation=remediation,
        properties={
            "ids": list(hit.ids),
            "fixed": list(hit.fixed),
            "package": dep.name,
            "version": hit.version,
            "vuln_db": db_note,
        },
    )


def vulnerability_issues(parsed: ParsedFile, choice: DatabaseChoice) -> list[DepIssue]:
    """Known vulnerabilities of pinned PyPI dependencies, or a note that none were looked for."""
    pins = _pins(parsed)
    pinned: list[tuple[Dependency, str]] = []
    seen: set[tuple[str, str]] = set()
    for dep in parsed.own():
        version = dep.version or pins.get(dep.name)
        if dep.ecosystem != "pypi" or not version or (dep.name, version) in seen:
            continue
        seen.add((dep.name, version))
        pinned.append((dep, version))
    if not pinned:
        return []
    source = str(parsed.path)
    database = choice.database
    if database is None:
        why = f" ({choice.problem})" if choice.problem else ""
        return [
            DepIssue(
                VULN_CHECK_SKIPPED,
                source,
                None,
                f"{len(pinned)} pinned dependencies were not checked for known vulnerabilities: "
                f"no vulnerability data{why}. Run 'bastion db update' (or pass --vuln-db PATH).",
                evidence="vulnerability matching not performed",
            )
        ]
    note = database.describe()
    try:
        issues = [
            _hit_issue(dep, hit, note)
            for dep, version in pinned
            for hit in find_vulnerabilities(database, dep.name, version)
        ]
    except VulnDbError as exc:
        return vulnerability_issues(parsed, DatabaseChoice(None, str(exc)))
    issues.append(
        DepIssue(
            VULN_DB_USED,
            source,
            None,
            f"{len(pinned)} pinned dependencies checked against {note}.",
            evidence="vulnerability data used",
            properties={
                "vuln_db": database.location,
                "data_date": database.stats.newest,
                "imported": database.stats.imported,
                "advisories": database.stats.advisories,
            },
        )
    )
    return issues


def check_file(parsed: ParsedFile, choice: DatabaseChoice) -> list[DepIssue]:
    """Every check for one file, in a stable order."""
    own = parsed.own()
    issues: list[DepIssue] = []
    if parsed.format == "requirements":
        issues += _requirements_issues(parsed)
    elif parsed.format == "environment.yml":
        issues += unpinned_issues(own, {}, low=False)
    elif parsed.format == "pyproject":
        issues += _pyproject_issues(parsed)
    else:
        issues += _lockfile_issues(parsed)
    for dep in own:
        issues += url_issues(dep)
    issues += _typosquat_issues(own)
    issues += vulnerability_issues(parsed, choice)
    return issues
