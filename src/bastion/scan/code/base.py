"""What code checks share: the :class:`Hit` they return and the table that dispatches calls to them.

A check is a function ``(site, facts) -> Iterable[Hit]`` registered for the canonical names it is
about (``torch.load``), for a method name on any receiver (``from_pretrained``, ``extractall``)
or for a keyword argument (``trust_remote_code``). The analyzer resolves each recorded call once
and runs every check registered for it.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from bastion.core import Confidence, Severity
from bastion.rules import Rule
from bastion.scan.code.facts import CallSite, ModuleFacts


@dataclass(frozen=True)
class Hit:
    """A rule match at a node: the analyzer turns it into a finding with a location."""

    rule: Rule
    line: int
    col_offset: int
    message: str
    evidence: str
    severity: Severity | None = None
    confidence: Confidence | None = None

    @classmethod
    def at(
        cls,
        node: ast.AST,
        rule: Rule,
        message: str,
        evidence: str,
        *,
        severity: Severity | None = None,
        confidence: Confidence | None = None,
    ) -> Hit:
        """A hit located at ``node`` (its first line, byte column as the AST gives it)."""
        return cls(
            rule,
            getattr(node, "lineno", 1),
            getattr(node, "col_offset", 0),
            message,
            evidence,
            severity,
            confidence,
        )


@dataclass(frozen=True)
class Site:
    """A recorded call with its resolved name."""

    call: CallSite
    qual: str | None

    @property
    def node(self) -> ast.Call:
        """The call expression."""
        return self.call.node

    @property
    def name(self) -> str:
        """The resolved name, or the method name when the receiver is unknown."""
        return self.qual or self.call.tail


Check = Callable[[Site, ModuleFacts], Iterable[Hit]]


@dataclass
class CheckTable:
    """Checks indexed by what triggers them."""

    by_name: dict[str, list[Check]] = field(default_factory=dict)
    by_tail: dict[str, list[Check]] = field(default_factory=dict)
    by_keyword: dict[str, list[Check]] = field(default_factory=dict)
    rules: list[Rule] = field(default_factory=list)

    def register(
        self,
        *,
        names: Iterable[str] = (),
        tails: Iterable[str] = (),
        keywords: Iterable[str] = (),
    ) -> Callable[[Check], Check]:
        """Decorator: run the check for these canonical names, method names or keywords."""

        def add(check: Check) -> Check:
            for name in names:
                self.by_name.setdefault(name, []).append(check)
                self.by_tail.setdefault(name.rsplit(".", 1)[-1], [])
            for tail in tails:
                self.by_tail.setdefault(tail, []).append(check)
            for kw in keywords:
                self.by_keyword.setdefault(kw, []).append(check)
            return check

        return add

    def checks_for(self, site: Site) -> list[Check]:
        """Every check that applies to a call, each once, in registration order."""
        found: list[Check] = []
        if site.qual is not None:
            found.extend(self.by_name.get(site.qual, ()))
        found.extend(self.by_tail.get(site.call.tail, ()))
        for kw in site.node.keywords:
            if kw.arg is not None:
                found.extend(self.by_keyword.get(kw.arg, ()))
        return list(dict.fromkeys(found))

    @property
    def tails(self) -> frozenset[str]:
        """Method/function names worth recording during the AST pass."""
        return frozenset(self.by_tail)

    @property
    def keywords(self) -> frozenset[str]:
        """Keyword arguments worth recording during the AST pass."""
        return frozenset(self.by_keyword)


#: The table every check module registers into (filled at import of the check modules).
TABLE = CheckTable()


def is_true(expr: ast.expr | None) -> bool:
    """``True`` literally."""
    return isinstance(expr, ast.Constant) and expr.value is True


def is_false(expr: ast.expr | None) -> bool:
    """``False`` literally (``0`` counts, as the libraries test truthiness)."""
    return isinstance(expr, ast.Constant) and expr.value in (False, 0) and expr.value is not None


def short(name: str) -> str:
    """The last two components of a dotted name, for messages (``pickle.loads``)."""
    return ".".join(name.split(".")[-2:])
