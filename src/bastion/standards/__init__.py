"""The standards bastion maps its rules to, shipped as data: OWASP ML Top 10 (2023), OWASP LLM
Top 10 (2025), the MITRE ATLAS techniques relevant to ML pipelines, NIST AI RMF subcategories.

>>> from bastion.standards import load_standard
>>> std = load_standard("owasp-ml")
>>> std.items[5].id, std.items[5].name
('ML06:2023', 'AI Supply Chain Attacks')

Each item has an id, a name, a group (ATLAS tactic, AI RMF category) and, where no rule covers
it today, a sentence saying why bastion cannot check it. Which rules cover an item is never kept
here: it is derived from the rule registry's references (:mod:`bastion.report.coverage`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from bastion.errors import BastionError

#: The ``--standard`` names, in display order.
STANDARDS: tuple[str, ...] = ("owasp-ml", "owasp-llm", "atlas", "nist-ai-rmf")
_FIELDS = ("owasp", "atlas", "nist")


class StandardError(BastionError):
    """A standard's data file is missing or malformed (a packaging bug): names the file."""


@dataclass(frozen=True)
class StandardItem:
    """One control, risk or technique of a standard."""

    id: str
    name: str
    group: str
    parent: str | None = None
    gap: str | None = None


@dataclass(frozen=True)
class Standard:
    """A standard: its items, and which :class:`~bastion.core.References` field names them."""

    id: str
    title: str
    edition: str
    field: str
    source: str
    note: str
    items: tuple[StandardItem, ...]

    def item(self, ident: str) -> StandardItem | None:
        """An item by id."""
        return next((i for i in self.items if i.id == ident), None)


def _text(data: dict[str, object], key: str, where: str, optional: bool = False) -> str:
    value = data.get(key)
    if value is None and optional:
        return ""
    if not isinstance(value, str) or not value:
        raise StandardError(f"{where}: '{key}' must be a non-empty string")
    return value


@cache
def load_standard(name: str) -> Standard:
    """The standard shipped as ``bastion/standards/<name>.json``."""
    if name not in STANDARDS:
        raise StandardError(f"unknown standard {name!r} (one of: {', '.join(STANDARDS)})")
    where = f"bastion/standards/{name}.json"
    try:
        raw = resources.files("bastion.standards").joinpath(f"{name}.json").read_text("utf-8")
        data = json.loads(raw)
    except (OSError, ValueError) as exc:
        raise StandardError(f"{where}: cannot read: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise StandardError(f"{where}: expected an object with an 'items' list")
    field = _text(data, "field", where)
    if field not in _FIELDS:
        raise StandardError(f"{where}: 'field' must be one of {', '.join(_FIELDS)}")
    items: list[StandardItem] = []
    for index, entry in enumerate(data["items"]):
        at = f"{where}: items[{index}]"
        if not isinstance(entry, dict):
            raise StandardError(f"{at}: must be an object")
        items.append(
            StandardItem(
                id=_text(entry, "id", at),
                name=_text(entry, "name", at),
                group=_text(entry, "group", at),
                parent=_text(entry, "parent", at, optional=True) or None,
                gap=_text(entry, "gap", at, optional=True) or None,
            )
        )
    ids = [i.id for i in items]
    if len(set(ids)) != len(ids):
        raise StandardError(f"{where}: duplicate item ids")
    return Standard(
        id=_text(data, "id", where),
        title=_text(data, "title", where),
        edition=_text(data, "edition", where),
        field=field,
        source=_text(data, "source", where),
        note=_text(data, "note", where, optional=True),
        items=tuple(items),
    )


__all__ = ["STANDARDS", "Standard", "StandardError", "StandardItem", "load_standard"]
