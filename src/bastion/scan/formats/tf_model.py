"""TensorFlow graphs as bastion reads them: SavedModel, MetaGraphDef, GraphDef and functions.

The binary protobuf (through :mod:`~bastion.scan.formats.protowire`) and the text format
(through :mod:`~bastion.scan.formats.pbtext`) are both read into the same small values:
a :class:`MetaGraph` holds its main graph and every library function as :class:`Scope` values,
each a list of :class:`NodeInfo` (name, op, inputs, the functions its attributes reference at
any nesting depth, its short string attributes, and the strings of a constant). Tensor payloads
are never copied: string constants stay views of the buffer until a check reads one.

Field numbers follow TensorFlow's ``saved_model.proto``, ``meta_graph.proto``, ``graph.proto``,
``node_def.proto``, ``function.proto``, ``attr_value.proto`` and ``tensor.proto``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from bastion.errors import AnalysisLimitError, MalformedInputError
from bastion.scan.formats.pbtext import TextMessage, TextScalar
from bastion.scan.formats.protowire import Buffer, Field, FieldBudget, WireType, iter_fields

#: Longest string attribute kept (paths and URLs are short; longer values are cut).
MAX_ATTR_CHARS = 4096
#: Most string values kept per attribute or constant.
MAX_STRINGS = 64
#: Deepest nesting of function-valued attributes followed (NameAttrList inside AttrValue).
MAX_ATTR_DEPTH = 16


class Item(Protocol):
    """One value of a field, binary or text."""

    @property
    def offset(self) -> int | None:
        """Byte offset (binary) or ``None``."""

    @property
    def line(self) -> int | None:
        """Line number (text) or ``None``."""

    def text(self, max_chars: int | None = None) -> str:
        """The value as a string."""

    def raw(self) -> Buffer:
        """The value's bytes (a view for binary input)."""

    def message(self) -> View:
        """The value as a nested message."""


class View(Protocol):
    """A message whose fields are looked up by number (binary) or name (text)."""

    def each(self, number: int, name: str) -> Iterator[Item]:
        """Every value of one field."""


class WireItem:
    """A binary field as an :class:`Item`."""

    __slots__ = ("_budget", "_field")

    def __init__(self, fld: Field, budget: FieldBudget) -> None:
        self._field = fld
        self._budget = budget

    @property
    def offset(self) -> int | None:
        """Offset of the field's key."""
        return self._field.offset

    @property
    def line(self) -> int | None:
        """Binary input has no lines."""
        return None

    def text(self, max_chars: int | None = None) -> str:
        """UTF-8 text of a string field, or the number of a numeric one."""
        if self._field.wire_type is not WireType.LEN:
            return str(self._field.int64)
        return self._field.text(None if max_chars is None else max_chars * 4)[:max_chars]

    def raw(self) -> Buffer:
        """The payload view."""
        return self._field.data

    def message(self) -> View:
        """Decode the payload as a message (one level deeper)."""
        fld = self._field
        return WireView(fld.data, base=fld.value_offset, depth=fld.depth + 1, budget=self._budget)


class WireView:
    """A binary message, its top-level fields indexed by number once."""

    __slots__ = ("_budget", "_fields")

    def __init__(self, buf: Buffer, *, base: int = 0, depth: int = 0, budget: FieldBudget) -> None:
        self._budget = budget
        self._fields: dict[int, list[Field]] = {}
        if isinstance(buf, memoryview) or buf:
            for fld in iter_fields(buf, base=base, depth=depth, budget=budget):
                self._fields.setdefault(fld.number, []).append(fld)

    def each(self, number: int, name: str) -> Iterator[Item]:
        """Values of field ``number`` (``name`` is for text input)."""
        return (WireItem(f, self._budget) for f in self._fields.get(number, ()))


class TextItem:
    """A text-format value as an :class:`Item`."""

    __slots__ = ("_value",)

    def __init__(self, value: TextScalar | TextMessage) -> None:
        self._value = value

    @property
    def offset(self) -> int | None:
        """Text input has no byte offsets."""
        return None

    @property
    def line(self) -> int | None:
        """Line where the value starts."""
        return self._value.line

    def text(self, max_chars: int | None = None) -> str:
        """The scalar's text."""
        if not isinstance(self._value, TextScalar):
            raise MalformedInputError(f"text format: line {self._value.line}: expected a scalar")
        return self._value.text[:max_chars]

    def raw(self) -> Buffer:
        """The scalar's bytes (strings are UTF-8 encoded)."""
        return self.text().encode("utf-8", "surrogateescape")

    def message(self) -> View:
        """The nested message."""
        if not isinstance(self._value, TextMessage):
            raise MalformedInputError(f"text format: line {self._value.line}: expected a message")
        return TextView(self._value)


class TextView:
    """A text-format message as a :class:`View`."""

    __slots__ = ("_msg",)

    def __init__(self, msg: TextMessage) -> None:
        self._msg = msg

    def each(self, number: int, name: str) -> Iterator[Item]:
        """Values of field ``name``."""
        return (TextItem(v) for v in self._msg.values(name))


@dataclass(frozen=True)
class NodeInfo:
    """One node of a graph or function body, reduced to what the checks need."""

    name: str
    op: str
    inputs: tuple[str, ...] = ()
    functions: tuple[str, ...] = ()
    strings: dict[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    constants: tuple[Buffer, ...] = ()
    offset: int | None = None
    line: int | None = None


@dataclass(frozen=True)
class Scope:
    """A list of nodes that run together: a main graph, a function body, an embedded graph."""

    kind: str
    name: str
    nodes: tuple[NodeInfo, ...]

    @property
    def label(self) -> str:
        """``function __inference_call_12`` or ``graph meta graph 0``."""
        return f"{self.kind} {self.name}"


@dataclass(frozen=True)
class SaverInfo:
    """The checkpoint saver a MetaGraphDef declares (tensor and op names)."""

    filename_tensor: str
    save_tensor: str
    restore_op: str


@dataclass(frozen=True)
class MetaGraph:
    """One MetaGraphDef: its main graph, its function library, its saver and its assets."""

    index: int
    tags: tuple[str, ...]
    graph: Scope
    functions: tuple[Scope, ...]
    saver: SaverInfo | None = None
    assets: tuple[str, ...] = ()
    #: ``(node index, identifier, metadata)`` of object-graph user objects with metadata
    #: (Keras layer configs of TensorFlow 2.0–2.4 SavedModels, read when keras_metadata.pb
    #: is absent).
    user_metadata: tuple[tuple[int, str, Buffer], ...] = ()


def _first_text(view: View, number: int, name: str, max_chars: int | None = None) -> str:
    found = ""
    for item in view.each(number, name):
        found = item.text(max_chars)
    return found


def _attr_entries(view: View, number: int) -> Iterator[tuple[str, View]]:
    """``map<string, AttrValue>`` entries: (key, AttrValue view)."""
    for entry in view.each(number, "attr"):
        msg = entry.message()
        key = _first_text(msg, 1, "key", 256)
        for value in msg.each(2, "value"):
            yield key, value.message()


def _collect_attr(
    key: str,
    value: View,
    funcs: list[str],
    strings: dict[str, tuple[str, ...]],
    depth: int,
) -> None:
    """Function names and short strings of one AttrValue, following NameAttrList nesting."""
    if depth > MAX_ATTR_DEPTH:
        raise AnalysisLimitError("attr-depth", f"function attributes nested over {MAX_ATTR_DEPTH}")
    texts = [item.text(MAX_ATTR_CHARS) for item in value.each(2, "s")]
    for func in value.each(10, "func"):
        _collect_name_attr_list(func.message(), funcs, strings, depth + 1)
    for lst in value.each(1, "list"):
        lview = lst.message()
        for item in lview.each(2, "s"):
            if len(texts) < MAX_STRINGS:
                texts.append(item.text(MAX_ATTR_CHARS))
        for func in lview.each(9, "func"):
            _collect_name_attr_list(func.message(), funcs, strings, depth + 1)
    if texts and depth == 0:
        strings[key] = tuple(texts[:MAX_STRINGS])


def _collect_name_attr_list(
    view: View, funcs: list[str], strings: dict[str, tuple[str, ...]], depth: int
) -> None:
    name = _first_text(view, 1, "name", 1024)
    if name:
        funcs.append(name)
    for key, value in _attr_entries(view, 2):
        _collect_attr(key, value, funcs, strings, depth)


def _constants(value: View) -> tuple[Buffer, ...]:
    out: list[Buffer] = []
    for tensor in value.each(8, "tensor"):
        for item in tensor.message().each(8, "string_val"):
            if len(out) >= MAX_STRINGS:
                break
            out.append(item.raw())
    return tuple(out)


def read_node(item: Item) -> NodeInfo:
    """A NodeDef (``node`` of a GraphDef or ``node_def`` of a FunctionDef)."""
    view = item.message()
    name = _first_text(view, 1, "name", 1024)
    op = _first_text(view, 2, "op", 1024)
    inputs = tuple(i.text(1024) for i in view.each(3, "input"))
    funcs: list[str] = []
    strings: dict[str, tuple[str, ...]] = {}
    constants: tuple[Buffer, ...] = ()
    for key, value in _attr_entries(view, 5):
        _collect_attr(key, value, funcs, strings, 0)
        if key == "value":
            constants = _constants(value)
    return NodeInfo(
        name,
        op,
        inputs,
        tuple(dict.fromkeys(funcs)),
        strings,
        constants,
        item.offset,
        item.line,
    )


def read_function(item: Item, check: Callable[[], None]) -> Scope:
    """A FunctionDef: its signature's name and its body."""
    view = item.message()
    name = ""
    for sig in view.each(1, "signature"):
        name = _first_text(sig.message(), 1, "name", 1024)
    nodes = []
    for node in view.each(3, "node_def"):
        check()
        nodes.append(read_node(node))
    return Scope("function", name or "<unnamed>", tuple(nodes))


def read_graph(view: View, kind: str, name: str, check: Callable[[], None]) -> list[Scope]:
    """A GraphDef: the main scope first, then every function of its library."""
    nodes = []
    for node in view.each(1, "node"):
        check()
        nodes.append(read_node(node))
    scopes = [Scope(kind, name, tuple(nodes))]
    for library in view.each(2, "library"):
        scopes.extend(read_function(f, check) for f in library.message().each(1, "function"))
    return scopes


def _saver(view: View) -> SaverInfo | None:
    for item in view.each(3, "saver_def"):
        saver = item.message()
        return SaverInfo(
            _first_text(saver, 1, "filename_tensor_name", 1024),
            _first_text(saver, 2, "save_tensor_name", 1024),
            _first_text(saver, 3, "restore_op_name", 1024),
        )
    return None


def read_meta_graph(item: Item, index: int, check: Callable[[], None]) -> MetaGraph:
    """A MetaGraphDef: tags, graph, library, saver and asset file names."""
    view = item.message()
    tags: list[str] = []
    for info in view.each(1, "meta_info_def"):
        tags.extend(t.text(256) for t in info.message().each(4, "tags"))
    label = f"meta graph {index}" + (f" [{','.join(tags)}]" if tags else "")
    scopes: list[Scope] = []
    for graph in view.each(2, "graph_def"):
        scopes = read_graph(graph.message(), "graph", label, check)
    if not scopes:
        scopes = [Scope("graph", label, ())]
    assets = tuple(
        _first_text(a.message(), 2, "filename", MAX_ATTR_CHARS)
        for a in view.each(6, "asset_file_def")
    )
    return MetaGraph(
        index, tuple(tags), scopes[0], tuple(scopes[1:]), _saver(view), assets, _user_metadata(view)
    )


def _user_metadata(view: View) -> tuple[tuple[int, str, Buffer], ...]:
    """``SavedObjectGraph.nodes[i].user_object`` entries that carry metadata."""
    found: list[tuple[int, str, Buffer]] = []
    for graph in view.each(7, "object_graph_def"):
        for index, obj in enumerate(graph.message().each(1, "nodes")):
            for user in obj.message().each(4, "user_object"):
                user_view = user.message()
                identifier = _first_text(user_view, 1, "identifier", 256)
                for metadata in user_view.each(3, "metadata"):
                    raw = metadata.raw()
                    if len(raw):
                        found.append((index, identifier, raw))
    return tuple(found)


def read_saved_model(view: View, check: Callable[[], None]) -> list[MetaGraph]:
    """Every MetaGraphDef of a SavedModel message."""
    return [read_meta_graph(item, i, check) for i, item in enumerate(view.each(2, "meta_graphs"))]


def input_node(name: str) -> str | None:
    """The node an input names (``a:0`` → ``a``, ``f:output:0`` → ``f``); ``None`` for ``^c``."""
    if not name or name.startswith("^"):
        return None
    return name.split(":", 1)[0]
