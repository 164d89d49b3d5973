"""Parsed YAML/JSON documents as immutable values that remember their line numbers.

The loader (:mod:`.yamlload`) turns PyYAML's node graph into these values: a :class:`YMap`,
:class:`YSeq` or :class:`YScalar`, each with the 1-based line where it starts. Checks navigate
with the typed accessors (``m.map("spec")``, ``m.text("image")``, ``m.flag("privileged")``) so a
field of the wrong type reads as absent instead of raising.

>>> from bastion.scan.configs.yamlload import load_yaml
>>> doc = load_yaml("kind: Pod\\nspec:\\n  hostNetwork: true\\n").documents[0]
>>> spec = doc.root.map("spec")
>>> spec.flag("hostNetwork"), spec.line_of("hostNetwork")
(True, 3)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

ScalarValue = str | int | float | bool | None


@dataclass(frozen=True, eq=False)
class YScalar:
    """A scalar: its resolved value (YAML 1.1 core types), source text and line."""

    value: ScalarValue
    line: int
    raw: str = ""
    #: ``|`` or ``>`` for block scalars, a quote character for quoted ones, else ``None``.
    style: str | None = None

    def as_text(self) -> str | None:
        """The value as a string (numbers and booleans as written); ``None`` for null."""
        if self.value is None:
            return None
        if isinstance(self.value, str):
            return self.value
        return self.raw or str(self.value)


@dataclass(frozen=True, eq=False)
class YSeq:
    """A sequence of nodes."""

    items: tuple[Node, ...]
    line: int

    def maps(self) -> Iterator[YMap]:
        """The items that are mappings."""
        return (item for item in self.items if isinstance(item, YMap))

    def texts(self) -> Iterator[tuple[str, int]]:
        """(text, line) of the scalar items that are not null."""
        for item in self.items:
            if isinstance(item, YScalar):
                text = item.as_text()
                if text is not None:
                    yield text, item.line


@dataclass(frozen=True, eq=False)
class YMap:
    """A mapping with string keys (later duplicate keys win, as most decoders do)."""

    entries: Mapping[str, Node]
    key_lines: Mapping[str, int]
    line: int

    def __contains__(self, key: str) -> bool:
        return key in self.entries

    def get(self, key: str) -> Node | None:
        """The value under ``key``, of any type."""
        return self.entries.get(key)

    def map(self, key: str) -> YMap | None:
        """The value under ``key`` if it is a mapping."""
        value = self.entries.get(key)
        return value if isinstance(value, YMap) else None

    def seq(self, key: str) -> YSeq | None:
        """The value under ``key`` if it is a sequence."""
        value = self.entries.get(key)
        return value if isinstance(value, YSeq) else None

    def maps(self, key: str) -> Iterator[YMap]:
        """The mappings in the sequence under ``key`` (nothing if absent or not a sequence)."""
        value = self.entries.get(key)
        return value.maps() if isinstance(value, YSeq) else iter(())

    def text(self, key: str) -> str | None:
        """The scalar under ``key`` as text; ``None`` if absent, null or not a scalar."""
        value = self.entries.get(key)
        return value.as_text() if isinstance(value, YScalar) else None

    def flag(self, key: str) -> bool | None:
        """The boolean under ``key``; ``None`` if absent or not a YAML boolean."""
        value = self.entries.get(key)
        if isinstance(value, YScalar) and isinstance(value.value, bool):
            return value.value
        return None

    def number(self, key: str) -> int | float | None:
        """The number under ``key`` (booleans excluded)."""
        value = self.entries.get(key)
        if isinstance(value, YScalar) and not isinstance(value.value, bool):
            if isinstance(value.value, int | float):
                return value.value
        return None

    def line_of(self, key: str) -> int:
        """The line of ``key`` (the mapping's own line when the key is absent)."""
        return self.key_lines.get(key, self.line)

    def path(self, *keys: str) -> Node | None:
        """The value at a path of keys, or ``None`` where any step is missing."""
        node: Node | None = self
        for key in keys:
            if not isinstance(node, YMap):
                return None
            node = node.entries.get(key)
        return node

    def map_at(self, *keys: str) -> YMap | None:
        """The mapping at a path of keys."""
        node = self.path(*keys)
        return node if isinstance(node, YMap) else None

    def keys(self) -> Iterator[str]:
        """The keys in document order."""
        return iter(self.entries)

    def items(self) -> Iterator[tuple[str, Node]]:
        """(key, value) pairs in document order."""
        return iter(self.entries.items())


Node = YMap | YSeq | YScalar


@dataclass(frozen=True)
class Document:
    """One document of a multi-document file: its 1-based index, first line and root."""

    index: int
    line: int
    root: Node | None
