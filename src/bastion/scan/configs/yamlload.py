"""Bounded, position-aware loading of YAML (and JSON) documents into :mod:`.tree` values.

libyaml's parser (PyYAML's pure-Python one where libyaml is missing) produces *events*; a small
composer here builds the tree from them, never constructing Python objects from tags, and checks
the limits as it goes: event count, nesting depth, the deadline, and the size each document
would have with every alias expanded. That size is summed bottom-up as nodes complete (an alias
adds the size of the node it names), so a "billion laughs" file is stopped after a few hundred
events instead of being expanded, and an alias to a node still being built (a cycle) is refused.
Aliased nodes are shared, not copied. Documents before a parse error are kept: what is
parseable is checked.

>>> load = load_yaml("a: &x [1, 2]\\nb: *x\\n---\\nkind: Pod\\n")
>>> [d.index for d in load.documents], load.problem is None
([1, 2], True)
>>> load_yaml("a: [1\\n").problem.kind.value
'malformed'
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

from bastion.scan.configs.tree import Document, Node, ScalarValue, YMap, YScalar, YSeq
from bastion.scan.limits import MiB

_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_MERGE = "tag:yaml.org,2002:merge"
_SCALARS = SafeConstructor()


@dataclass(frozen=True)
class YamlLimits:
    """Bounds on one file: characters, documents, composed nodes, nesting, alias expansion."""

    max_chars: int = 8 * MiB
    max_documents: int = 1000
    max_nodes: int = 200_000
    max_depth: int = 64
    #: Nodes the document would have with every alias expanded.
    max_expanded: int = 1_000_000


class ProblemKind(str, Enum):
    """Why loading stopped before the end of the file."""

    MALFORMED = "malformed"
    LIMIT = "limit"
    BOMB = "bomb"


@dataclass(frozen=True)
class LoadProblem:
    """What stopped the loader, where (1-based line, when known) and a human explanation."""

    kind: ProblemKind
    line: int | None
    detail: str


@dataclass(frozen=True)
class YamlLoad:
    """The documents read (all of them, or those before ``problem``)."""

    documents: tuple[Document, ...]
    problem: LoadProblem | None = None


class _Stop(Exception):
    def __init__(self, kind: ProblemKind, line: int | None, detail: str) -> None:
        super().__init__(detail)
        self.problem = LoadProblem(kind, line, detail)


_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_MERGE = "tag:yaml.org,2002:merge"
_SCALARS = SafeConstructor()
_RESOLVER = Resolver()
_PARSER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class _Frame:
    """A collection whose end event has not come yet."""

    is_map: bool
    line: int
    anchor: str | None
    #: Sequence items, or mapping keys and values alternately.
    items: list[Node | None] = field(default_factory=list)
    #: Key texts (``None`` for complex keys) and whether each is a merge key, for mappings.
    keys: list[tuple[str | None, bool, int]] = field(default_factory=list)
    size: int = 1


def load_yaml(
    text: str,
    *,
    limits: YamlLimits | None = None,
    check: Callable[[], None] | None = None,
    json: bool = False,
) -> YamlLoad:
    """Every document of ``text`` as :mod:`.tree` values, within ``limits``.

    ``json=True`` reads JSON through the same loader (tabs, legal JSON white space that YAML
    refuses outside strings, become spaces, a raw tab inside a JSON string being invalid anyway;
    ``\\ud83d\\ude00`` surrogate-pair escapes, which YAML refuses, become ``\\U0001F600``).
    ``check`` is called every few thousand events (a deadline); it may raise to stop.
    """
    limits = limits or YamlLimits()
    if len(text) > limits.max_chars:
        detail = f"{len(text)} characters (limit {limits.max_chars}); not parsed"
        return YamlLoad((), LoadProblem(ProblemKind.LIMIT, None, detail))
    if json:
        text = _json_as_yaml(text)
    composer = _Composer(limits, check)
    parser = _PARSER(text)
    try:
        while parser.check_event():
            composer.feed(parser.get_event())  # type: ignore[no-untyped-call]
    except _Stop as stop:
        return YamlLoad(tuple(composer.documents), stop.problem)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = int(mark.line) + 1 if mark is not None else None
        problem = LoadProblem(ProblemKind.MALFORMED, line, _describe(exc))
        return YamlLoad(tuple(composer.documents), problem)
    except yaml.YAMLError as exc:
        detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        return YamlLoad(tuple(composer.documents), LoadProblem(ProblemKind.MALFORMED, None, detail))
    finally:
        parser.dispose()
    return YamlLoad(tuple(composer.documents))


_SURROGATE_PAIR = re.compile(r"(\\+)u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})")


def _json_as_yaml(text: str) -> str:
    """JSON text YAML 1.1 reads the same way: tabs as spaces, surrogate pairs as ``\\U``."""
    text = text.replace("\t", " ")
    if "\\u" not in text:
        return text

    def pair(match: re.Match[str]) -> str:
        slashes = match.group(1)
        if len(slashes) % 2 == 0:
            return match.group(0)  # an escaped backslash followed by text, not an escape
        high, low = int(match.group(2), 16), int(match.group(3), 16)
        code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
        return f"{slashes[:-1]}\\U{code:08X}"

    return _SURROGATE_PAIR.sub(pair, text)


def _describe(exc: yaml.MarkedYAMLError) -> str:
    parts = [p for p in (exc.context, exc.problem) if p]
    return "; ".join(parts)[:200] or type(exc).__name__


class _Composer:
    """Events → tree values, one document at a time, bounded."""

    def __init__(self, limits: YamlLimits, check: Callable[[], None] | None) -> None:
        self._limits = limits
        self._check = check
        self._events = 0
        self._stack: list[_Frame] = []
        self._anchors: dict[str, tuple[Node, int]] = {}
        self._open_anchors: set[str] = set()
        self._root: Node | None = None
        self._doc_line = 1
        self.documents: list[Document] = []

    def feed(self, event: yaml.Event) -> None:
        """Consume one parser event."""
        self._events += 1
        line = int(event.start_mark.line) + 1 if event.start_mark is not None else None
        if not self._events & 0xFFF and self._check is not None:
            self._check()
        if self._events > self._limits.max_nodes:
            raise _Stop(ProblemKind.LIMIT, line, f"more than {self._limits.max_nodes} YAML nodes")
        if isinstance(event, yaml.DocumentStartEvent):
            self._start_document(line or 1)
        elif isinstance(event, yaml.DocumentEndEvent):
            self.documents.append(Document(len(self.documents) + 1, self._doc_line, self._root))
        elif isinstance(event, yaml.ScalarEvent):
            self._scalar(event, line or 1)
        elif isinstance(event, yaml.AliasEvent):
            self._alias(str(event.anchor), line)
        elif isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            self._open(event, line or 1)
        elif isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
            self._close()

    def _start_document(self, line: int) -> None:
        if len(self.documents) >= self._limits.max_documents:
            detail = f"more than {self._limits.max_documents} documents; the rest was not checked"
            raise _Stop(ProblemKind.LIMIT, line, detail)
        self._anchors = {}
        self._root = None
        self._doc_line = line

    def _scalar(self, event: yaml.ScalarEvent, line: int) -> None:
        tag = event.tag
        if tag is None or tag == "!":
            tag = _RESOLVER.resolve(ScalarNode, event.value, event.implicit)  # type: ignore[no-untyped-call]
        node = YScalar(_convert_scalar(tag, event.value), line, event.value, event.style or None)
        self._complete(node, 1, event.anchor, merge=tag == _MERGE)

    def _alias(self, anchor: str, line: int | None) -> None:
        if anchor in self._open_anchors:
            raise _Stop(ProblemKind.BOMB, line, "an alias refers to its own ancestor (a cycle)")
        found = self._anchors.get(anchor)
        if found is None:
            raise _Stop(ProblemKind.MALFORMED, line, f"alias *{anchor} names no anchor")
        node, size = found
        self._complete(node, size, None)

    def _open(self, event: yaml.CollectionStartEvent, line: int) -> None:
        if len(self._stack) >= self._limits.max_depth:
            detail = f"collections nested deeper than {self._limits.max_depth} levels"
            raise _Stop(ProblemKind.LIMIT, line, detail)
        anchor = event.anchor
        if anchor is not None:
            self._open_anchors.add(anchor)
        self._stack.append(_Frame(isinstance(event, yaml.MappingStartEvent), line, anchor))

    def _close(self) -> None:
        frame = self._stack.pop()
        if frame.anchor is not None:
            self._open_anchors.discard(frame.anchor)
        node: Node
        if frame.is_map:
            node = _mapping(frame)
        else:
            node = YSeq(tuple(item for item in frame.items if item is not None), frame.line)
        self._complete(node, frame.size, frame.anchor)

    def _complete(self, node: Node, size: int, anchor: str | None, *, merge: bool = False) -> None:
        if anchor is not None:
            self._anchors[anchor] = (node, size)
        if not self._stack:
            self._root = node
            return
        parent = self._stack[-1]
        parent.size += size
        if parent.size > self._limits.max_expanded:
            raise _Stop(
                ProblemKind.BOMB,
                parent.line,
                f"aliases expand the document to more than {self._limits.max_expanded} nodes "
                "(a 'billion laughs' bomb)",
            )
        if parent.is_map and len(parent.items) % 2 == 0:
            key = node.raw if isinstance(node, YScalar) else None
            parent.keys.append((key, merge, node.line))
        parent.items.append(node)


def _mapping(frame: _Frame) -> YMap:
    entries: dict[str, Node] = {}
    lines: dict[str, int] = {}
    merged: list[Node] = []
    for (key, is_merge, key_line), value in zip(frame.keys, frame.items[1::2], strict=False):
        if value is None:
            continue
        if is_merge:
            merged.append(value)
        elif key is not None:
            entries.pop(key, None)  # a duplicate key moves to its last position
            entries[key] = value
            lines[key] = key_line
    if merged:
        sources: list[Node] = []
        for value in merged:
            sources.extend(value.items if isinstance(value, YSeq) else (value,))
        combined: dict[str, Node] = {}
        combined_lines: dict[str, int] = {}
        for source in reversed(sources):  # the first mapping listed wins among merged ones
            if isinstance(source, YMap):
                combined.update(source.entries)
                combined_lines.update(source.key_lines)
        combined.update(entries)  # explicit keys win over merged ones
        combined_lines.update(lines)
        entries, lines = combined, combined_lines
    return YMap(entries, lines, frame.line)


def _convert_scalar(tag: str, value: str) -> ScalarValue:
    """YAML 1.1 core types only; anything else (timestamps, custom tags) stays text."""
    node = ScalarNode(tag, value)
    try:
        if tag == _NULL:
            return None
        if tag == _BOOL:
            return bool(_SCALARS.construct_yaml_bool(node))
        if tag == _INT:
            return int(_SCALARS.construct_yaml_int(node))
        if tag == _FLOAT:
            return float(_SCALARS.construct_yaml_float(node))
    except (ValueError, TypeError, OverflowError):
        pass
    return value
