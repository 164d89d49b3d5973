"""Standards coverage: for each item of a standard, which rules check it and what was found.

>>> from bastion.registry import default_registry
>>> from bastion.report.coverage import build_coverage
>>> from bastion.standards import load_standard
>>> report = build_coverage(load_standard("owasp-ml"), default_registry(), (), target="demo")
>>> "BST-PKL-001" in report.item("ML06:2023").rules
True

The mapping is derived, never kept by hand: an item is covered by every registered rule whose
references name it (an ATLAS technique also by rules naming one of its sub-techniques). An item
no rule names is a gap, shown with the standard data's sentence on why bastion cannot check it.
Rules belong to the command that raises them (``scan``, ``verify``, ``assess``, ``serve``,
``posture check``), so a report on a scan says which items only another command checks.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from bastion.core import References, Severity
from bastion.registry import Registry
from bastion.rules import Rule
from bastion.standards import Standard, StandardItem

_NIST_RMF = re.compile(r"^(GOVERN|MAP|MEASURE|MANAGE) \d+\.\d+$")
_COMMANDS = (
    ("BST-INT-", "bastion verify"),
    ("BST-GW-", "bastion serve"),
    ("BST-POS-", "bastion posture check"),
    ("BST-ASR-", "bastion assess"),
    ("BST-APR-", "bastion assess"),
    ("BST-APD-", "bastion assess"),
)
#: Which commands' rules a run of each kind exercises.
RUN_COMMANDS: dict[str, frozenset[str]] = {
    "scan": frozenset({"bastion scan"}),
    "verify": frozenset({"bastion verify"}),
    "assess": frozenset({"bastion assess"}),
    "gateway": frozenset({"bastion serve"}),
    "posture": frozenset({"bastion posture check", "bastion scan"}),
}
_GENERIC_GAP = "No registered bastion rule references this item."


def command_of(rule_id: str) -> str:
    """The command that raises a rule."""
    return next((cmd for prefix, cmd in _COMMANDS if rule_id.startswith(prefix)), "bastion scan")


class Status(str, Enum):
    """What the report says about an item."""

    FOUND = "found"  # checked, and something was found
    CLEAN = "clean"  # checked by this run, nothing found
    ELSEWHERE = "other-command"  # rules exist, but another command runs them
    GAP = "not-checked"  # no rule references it


@dataclass(frozen=True)
class ObservedFinding:
    """A finding as the coverage report needs it (from a scan, or a stored run)."""

    rule_id: str
    severity: Severity
    where: str
    message: str
    references: References = field(default_factory=References)


@dataclass(frozen=True)
class ItemCoverage:
    """One item: its rules (direct and via sub-techniques), findings, status, commands."""

    item: StandardItem
    rules: tuple[str, ...]
    via_subitems: tuple[str, ...]
    findings: tuple[ObservedFinding, ...]
    status: Status
    commands: tuple[str, ...]

    @property
    def gap(self) -> str:
        """Why bastion cannot check the item (only meaningful when not covered)."""
        return self.item.gap or _GENERIC_GAP

    @property
    def worst(self) -> Severity | None:
        """The worst severity found for the item."""
        return max((f.severity for f in self.findings), default=None)


@dataclass(frozen=True)
class CoverageReport:
    """The whole report for one standard and one scan or run."""

    standard: Standard
    target: str
    source: str
    items: tuple[ItemCoverage, ...]
    outside_catalog: tuple[tuple[str, tuple[str, ...]], ...]
    findings_total: int
    findings_unmapped: int

    def item(self, ident: str) -> ItemCoverage:
        """The coverage of one item (KeyError if the standard has no such item)."""
        for entry in self.items:
            if entry.item.id == ident:
                return entry
        raise KeyError(ident)

    def counts(self) -> dict[Status, int]:
        """Items per status, every status present."""
        found = Counter(i.status for i in self.items)
        return {status: found.get(status, 0) for status in Status}

    def groups(self) -> dict[str, dict[Status, int]]:
        """Items per status within each group, groups in data order."""
        out: dict[str, dict[Status, int]] = {}
        for entry in self.items:
            row = out.setdefault(entry.item.group, dict.fromkeys(Status, 0))
            row[entry.status] += 1
        return out


def references_of(refs: References, standard: Standard) -> tuple[str, ...]:
    """The ids in ``refs`` that belong to ``standard``'s id space (listed or not)."""
    values: tuple[str, ...] = getattr(refs, standard.field)
    if standard.id == "owasp-ml":
        return tuple(v for v in values if v.startswith("ML"))
    if standard.id == "owasp-llm":
        return tuple(v for v in values if v.startswith("LLM"))
    if standard.field == "nist":
        return tuple(v for v in values if _NIST_RMF.match(v))
    return values


def _covers(item: StandardItem, ref: str) -> tuple[bool, bool]:
    """(direct, via a sub-item)."""
    return ref == item.id, ref.startswith(item.id + ".")


def build_coverage(
    standard: Standard,
    registry: Registry,
    findings: Iterable[ObservedFinding],
    *,
    target: str,
    source: str = "scan",
    run_kind: str = "scan",
) -> CoverageReport:
    """Derive the coverage of ``standard`` from ``registry`` and map ``findings`` onto it."""
    rules: tuple[Rule, ...] = registry.rules()
    rule_refs = {r.id: references_of(r.references, standard) for r in rules}
    ran = RUN_COMMANDS.get(run_kind, frozenset({"bastion scan"}))
    observed = tuple(findings)
    known_ids = {i.id for i in standard.items}
    mapped = 0
    per_finding: list[tuple[ObservedFinding, frozenset[str]]] = []
    for finding in observed:
        refs = set(rule_refs.get(finding.rule_id, ()))
        refs.update(references_of(finding.references, standard))
        per_finding.append((finding, frozenset(refs)))
        if finding.rule_id in rule_refs:
            mapped += 1
    items = []
    for item in standard.items:
        direct = tuple(r for r, refs in rule_refs.items() if item.id in refs)
        via = tuple(
            r
            for r, refs in rule_refs.items()
            if r not in direct and any(_covers(item, ref)[1] for ref in refs)
        )
        hits = tuple(f for f, refs in per_finding if any(any(_covers(item, ref)) for ref in refs))
        commands = tuple(sorted({command_of(r) for r in (*direct, *via)}))
        if hits:
            status = Status.FOUND
        elif not (direct or via):
            status = Status.GAP
        elif ran.intersection(commands):
            status = Status.CLEAN
        else:
            status = Status.ELSEWHERE
        items.append(ItemCoverage(item, direct, via, hits, status, commands))
    outside: dict[str, list[str]] = {}
    for rule_id, named in rule_refs.items():
        for ref in named:
            if ref not in known_ids and not any(ref.startswith(k + ".") for k in known_ids):
                outside.setdefault(ref, []).append(rule_id)
    return CoverageReport(
        standard=standard,
        target=target,
        source=source,
        items=tuple(items),
        outside_catalog=tuple((k, tuple(v)) for k, v in sorted(outside.items())),
        findings_total=len(observed),
        findings_unmapped=len(observed) - mapped,
    )


_LABEL = {
    Status.FOUND: "findings",
    Status.CLEAN: "checked, nothing found",
    Status.ELSEWHERE: "checked by another command",
    Status.GAP: "not checked by bastion",
}


def status_label(status: Status) -> str:
    """Human wording of a status."""
    return _LABEL[status]


def _cell(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split()).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _rules_cell(entry: ItemCoverage, limit: int = 8) -> str:
    """The rule ids, or per family counts when there are many (``BST-PKL ×12``)."""
    if len(entry.rules) <= limit:
        names = [f"`{r}`" for r in entry.rules]
    else:
        families = Counter(r.rsplit("-", 1)[0] for r in entry.rules)
        names = [f"`{family}` ×{count}" for family, count in sorted(families.items())]
    if entry.via_subitems:
        names.append(f"({len(entry.via_subitems)} via sub-techniques)")
    return ", ".join(names) or "—"


def render_markdown(report: CoverageReport) -> str:
    """The report as Markdown."""
    std = report.standard
    counts = report.counts()
    lines = [
        f"# {std.title} ({std.edition}): bastion coverage",
        "",
        f"Target: `{_cell(report.target, 300)}` ({report.source}). "
        f"{report.findings_total} finding(s), {report.findings_unmapped} from rules this bastion "
        "does not know.",
        "",
        " · ".join(f"**{counts[s]}** {status_label(s)}" for s in Status),
        "",
    ]
    if std.note:
        lines += [f"_{std.note}_", ""]
    lines += [
        "| item | name | status | rules (from the registry) | findings |",
        "|---|---|---|---|---|",
    ]
    for entry in report.items:
        found = ""
        if entry.findings:
            worst = entry.worst.label if entry.worst is not None else ""
            found = f"{len(entry.findings)} (worst {worst})"
        status = status_label(entry.status)
        if entry.status is Status.ELSEWHERE:
            status += f" ({', '.join(entry.commands)})"
        lines.append(
            f"| {entry.item.id} | {_cell(entry.item.name, 100)} | {status} "
            f"| {_rules_cell(entry)} | {found} |"
        )
    lines.append("")
    found_items = [e for e in report.items if e.findings]
    if found_items:
        lines += ["## Findings per item", ""]
        for entry in found_items:
            lines.append(f"### {entry.item.id} {entry.item.name}")
            lines.append("")
            for f in entry.findings[:50]:
                where = _cell(f.where, 120)
                lines.append(f"- {f.severity.label} `{f.rule_id}` `{where}`: {_cell(f.message)}")
            if len(entry.findings) > 50:
                lines.append(f"- … and {len(entry.findings) - 50} more")
            lines.append("")
    gaps = [e for e in report.items if e.status is Status.GAP]
    if gaps:
        lines += ["## What bastion cannot check", ""]
        lines += [f"- **{e.item.id} {e.item.name}**: {_cell(e.gap, 400)}" for e in gaps]
        lines.append("")
    if report.outside_catalog:
        lines += [
            "## Referenced by rules, not in this catalog",
            "",
            *(
                f"- `{ref}`: {', '.join(f'`{r}`' for r in rules[:8])}"
                for ref, rules in report.outside_catalog
            ),
            "",
        ]
    lines.append(f"Source: {std.source}")
    return "\n".join(lines) + "\n"
