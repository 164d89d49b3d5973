"""Helpers every findings module shares: severity from a verdict, display paths, percentages."""

from __future__ import annotations

from pathlib import Path

from bastion.core import Severity
from bastion.rules import Rule

LIST_LIMIT = 100


def display_path(source: str, base_dir: Path) -> str:
    """A location path: relative to the project when inside it, else as given."""
    if "://" in source:
        return source
    try:
        return Path(source).resolve().relative_to(base_dir.resolve()).as_posix()
    except ValueError:
        return source


def severity_for(rule: Rule, violated: bool, override: Severity | None) -> Severity:
    """``info`` within policy; otherwise the section's override or the rule's severity."""
    if not violated:
        return Severity.INFO
    return override if override is not None else rule.severity


def pct(value: float) -> str:
    """A fraction as a percentage with one decimal."""
    return f"{100 * value:.1f}%"
