"""Column checks on a data sample: personal data columns and spreadsheet formulas.

>>> from bastion.scan.data.sample import Column
>>> hits = personal_data_columns([Column("contact", [(2, "ana@corp.io"), (3, "bo@corp.io")])])
>>> [(h.column, h.kind, h.count) for h in hits]
[('contact', 'email', 2)]

Personal data is found with the notebook-output detectors (:mod:`bastion.scan.notebooks.pii`),
which validate what they match (Luhn, mod-97, placeholder domains) and mask the evidence.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bastion.core import Severity
from bastion.scan.data.sample import Column
from bastion.scan.notebooks.pii import find_personal_data

#: Non-empty cells of a column checked for personal data.
PII_CELLS = 2000
#: Share of checked cells that must match for a column to count as personal data.
PII_SHARE = 0.3
_KIND_NAMES = {
    "email": "e-mail addresses",
    "phone": "phone numbers",
    "card": "payment card numbers",
    "iban": "IBANs",
}
_HEADER_HINTS = {
    "email": re.compile(r"e[-_ ]?mail", re.I),
    "phone": re.compile(r"phone|mobile|\btel\b|telephone|msisdn", re.I),
    "card": re.compile(r"card|\bcc[-_ ]?(num|no)|\bpan\b|ccn", re.I),
    "iban": re.compile(r"iban|account", re.I),
}
_FORMULA = re.compile(r"^[\t\r]*[=+\-@]\s*(?P<fn>[A-Za-z_][A-Za-z0-9_.]*)\s*\(")
_DDE = re.compile(r"^[\t\r]*[=+\-@].*\w+\|.*!", re.S)
#: Spreadsheet functions that fetch URLs, show remote content or run code.
DANGEROUS_FUNCTIONS = frozenset(
    {
        "HYPERLINK", "WEBSERVICE", "IMPORTXML", "IMPORTDATA", "IMPORTHTML", "IMPORTFEED",
        "IMPORTRANGE", "IMAGE", "FILTERXML", "CALL", "REGISTER", "REGISTER.ID", "EXEC", "DDE",
        "DDEAUTO", "RTD", "SHELL", "CMD", "MSEXCEL", "INFO",
    }
)  # fmt: skip


@dataclass(frozen=True)
class PersonalDataColumn:
    """A column that holds one kind of personal data."""

    column: str
    kind: str
    count: int
    checked: int
    line: int
    evidence: str

    @property
    def severity(self) -> Severity:
        """Payment cards and bank accounts are high; contact details medium."""
        return Severity.HIGH if self.kind in ("card", "iban") else Severity.MEDIUM

    @property
    def label(self) -> str:
        """``e-mail addresses``, ``IBANs``…"""
        return _KIND_NAMES.get(self.kind, self.kind)


def personal_data_columns(
    columns: Iterable[Column], check: Callable[[], None] | None = None
) -> list[PersonalDataColumn]:
    """Columns where enough sampled cells are personal data of one kind."""
    found = []
    for column in columns:
        counts: dict[str, int] = {}
        first: dict[str, tuple[int, str]] = {}
        checked = 0
        for line, cell in column.cells[:PII_CELLS]:
            checked += 1
            if check is not None and checked % 200 == 0:
                check()
            for kind, match in {m.kind: m for m in find_personal_data(cell, limit=4)}.items():
                counts[kind] = counts.get(kind, 0) + 1
                first.setdefault(kind, (line, match.evidence))
        for kind, count in counts.items():
            hint = _HEADER_HINTS.get(kind)
            hinted = hint is not None and hint.search(column.name) is not None
            if count >= max(1, PII_SHARE * checked) or (hinted and count >= 1):
                line, evidence = first[kind]
                found.append(PersonalDataColumn(column.name, kind, count, checked, line, evidence))
    return found


@dataclass(frozen=True)
class FormulaColumn:
    """Cells of one column that a spreadsheet would evaluate as formulas."""

    column: str
    count: int
    line: int
    example: str
    dangerous: bool


def formula_columns(columns: Iterable[Column]) -> list[FormulaColumn]:
    """Columns with formula cells (one result per column, dangerous ones flagged)."""
    found = []
    for column in columns:
        count, first, dangerous = 0, None, False
        for line, cell in column.cells:
            match = _FORMULA.match(cell)
            dde = _DDE.match(cell) is not None
            if match is None and not dde:
                continue
            count += 1
            risky = dde or (match is not None and match.group("fn").upper() in DANGEROUS_FUNCTIONS)
            if first is None or (risky and not dangerous):
                first = (line, cell)
            dangerous = dangerous or risky
        if first is not None:
            example = first[1].strip()[:80]
            found.append(FormulaColumn(column.name, count, first[0], example, dangerous))
    return found
