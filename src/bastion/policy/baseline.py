"""Finding baselines: accept what is there today, fail only on what is new.

A baseline is a JSON file of finding fingerprints (rule + path + archive member + normalized
evidence; never line numbers), each with optional justification and expiry. ``bastion scan
--baseline FILE`` then blocks only on findings whose fingerprint is not in the file, or whose
entry has expired.

>>> from bastion.policy.baseline import Baseline
>>> Baseline(entries=()).fingerprints()
frozenset()
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from bastion import __version__
from bastion.core import Finding
from bastion.errors import ConfigError

SCHEMA = "bastion/baseline"
VERSION = "1"


@dataclass(frozen=True)
class BaselineEntry:
    """One accepted finding."""

    fingerprint: str
    rule_id: str
    path: str
    member: str | None = None
    title: str = ""
    justification: str | None = None
    expires: date | None = None

    def active(self, today: date) -> bool:
        """Whether the entry still suppresses (not past its expiry date)."""
        return self.expires is None or today <= self.expires


@dataclass(frozen=True)
class Baseline:
    """The accepted findings of a project."""

    entries: tuple[BaselineEntry, ...]
    created: str | None = None

    def fingerprints(self, today: date | None = None) -> frozenset[str]:
        """Fingerprints of entries that are still active."""
        day = today or datetime.now(timezone.utc).date()
        return frozenset(e.fingerprint for e in self.entries if e.active(day))

    @classmethod
    def from_findings(cls, findings: tuple[Finding, ...] | list[Finding]) -> Baseline:
        """A baseline accepting every given finding (deduplicated, in report order)."""
        seen: dict[str, BaselineEntry] = {}
        for finding in findings:
            seen.setdefault(
                finding.fingerprint,
                BaselineEntry(
                    fingerprint=finding.fingerprint,
                    rule_id=finding.rule_id,
                    path=finding.location.path,
                    member=finding.location.member,
                    title=finding.title,
                ),
            )
        return cls(tuple(seen.values()), datetime.now(timezone.utc).isoformat())

    def to_json(self) -> str:
        """The baseline file's text."""
        data: dict[str, Any] = {
            "schema": SCHEMA,
            "version": VERSION,
            "tool_version": __version__,
            "created": self.created,
            "findings": [
                {
                    "fingerprint": e.fingerprint,
                    "rule_id": e.rule_id,
                    "path": e.path,
                    **({"member": e.member} if e.member else {}),
                    "title": e.title,
                    "justification": e.justification,
                    "expires": e.expires.isoformat() if e.expires else None,
                }
                for e in self.entries
            ],
        }
        return json.dumps(data, indent=2) + "\n"


def load_baseline(path: Path) -> Baseline:
    """Read and validate a baseline file; errors name the file and the problem."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(str(path), "baseline file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), f"cannot read baseline: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(str(path), f"baseline is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ConfigError(str(path), f"not a bastion baseline (expected schema {SCHEMA!r})")
    items = data.get("findings")
    if not isinstance(items, list):
        raise ConfigError(str(path), "'findings' must be a list")
    entries = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("fingerprint"), str):
            raise ConfigError(str(path), f"findings[{index}] needs a string 'fingerprint'")
        expires = item.get("expires")
        try:
            expiry = date.fromisoformat(expires) if expires else None
        except (TypeError, ValueError):
            raise ConfigError(
                str(path), f"findings[{index}].expires must be a date (YYYY-MM-DD)"
            ) from None
        entries.append(
            BaselineEntry(
                fingerprint=item["fingerprint"],
                rule_id=str(item.get("rule_id", "")),
                path=str(item.get("path", "")),
                member=item.get("member"),
                title=str(item.get("title", "")),
                justification=item.get("justification"),
                expires=expiry,
            )
        )
    return Baseline(tuple(entries), data.get("created"))
