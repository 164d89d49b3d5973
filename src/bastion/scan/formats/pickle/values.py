"""Symbolic values of the static pickle machine, and how they print in evidence.

The machine never builds real objects. A literal stays a literal (so a module name built on the
stack is still known), an import is a :class:`Glob`, a call is a :class:`Call` that remembers
what was called with what, and containers keep their first items only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bastion.scan.formats.pickle.knowledge import Usage
from bastion.scan.formats.pickle.reader import BigBytes

#: Items a container keeps (enough for arguments, states and evidence).
KEEP_ITEMS = 256


class Value:
    """Base of every symbolic value."""

    __slots__ = ()


@dataclass(eq=False, slots=True)
class Lit(Value):
    """A literal: int, float, str, bytes (or a :class:`BigBytes` prefix), bool or None."""

    value: object


@dataclass(eq=False, slots=True)
class Glob(Value):
    """A global the unpickler imports, with every way the pickle uses it."""

    qualname: str
    pos: int
    via: str
    #: The dotted part of the name resolved by attribute lookup (not by import).
    attributes: str = ""
    usages: set[Usage] = field(default_factory=lambda: {Usage.REFERENCE})
    call_pos: int | None = None
    call_args: Value | None = None
    resolved_uses: int = 0
    total_calls: int = 0
    nonliteral_calls: int = 0

    def use(self, usage: Usage, pos: int, args: Value | None = None) -> None:
        """Record a use; the first call keeps its arguments as evidence."""
        self.usages.add(usage)
        if usage is Usage.CALL:
            self.total_calls += 1
        if usage is not Usage.REFERENCE and self.call_pos is None:
            self.call_pos = pos
            self.call_args = args

    @property
    def strongest(self) -> Usage:
        """The most powerful use: call beats construct beats reference."""
        if Usage.CALL in self.usages:
            return Usage.CALL
        if Usage.CONSTRUCT in self.usages:
            return Usage.CONSTRUCT
        return Usage.REFERENCE


@dataclass(eq=False, slots=True)
class Call(Value):
    """What a REDUCE / NEWOBJ / INST / OBJ produced: ``func(args)``."""

    func: Value
    args: Value
    pos: int
    op: str
    state: Value | None = None


@dataclass(eq=False, slots=True)
class Seq(Value):
    """A list, tuple, set or frozenset (first :data:`KEEP_ITEMS` items kept)."""

    kind: str
    items: list[Value] = field(default_factory=list)
    dropped: int = 0

    def add(self, value: Value) -> None:
        """Append, keeping only the first items."""
        if len(self.items) < KEEP_ITEMS:
            self.items.append(value)
        else:
            self.dropped += 1


@dataclass(eq=False, slots=True)
class Map(Value):
    """A dict (first :data:`KEEP_ITEMS` pairs kept)."""

    items: list[tuple[Value, Value]] = field(default_factory=list)
    dropped: int = 0

    def put(self, key: Value, value: Value) -> None:
        """Set, keeping only the first pairs."""
        if len(self.items) < KEEP_ITEMS:
            self.items.append((key, value))
        else:
            self.dropped += 1

    def get(self, key: str) -> Value | None:
        """The last value stored under a literal string key."""
        for k, v in reversed(self.items):
            if isinstance(k, Lit) and k.value == key:
                return v
        return None


@dataclass(eq=False, slots=True)
class Persist(Value):
    """A persistent id, resolved by the framework's loader (PyTorch storages)."""

    pid: Value


@dataclass(eq=False, slots=True)
class Unknown(Value):
    """A value the machine cannot know statically."""

    reason: str
    #: Known not to run code when called (``type(None)``, an out-of-band buffer).
    inert: bool = False


class _Mark:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MARK"


MARK = _Mark()


#: Tuples nested deeper than this are not folded into literals (the unpickler has no such
#: bound, but nothing a scanner needs as a literal is nested that deep).
LITERAL_DEPTH = 32


def literal(value: Value, depth: int = 0) -> object:
    """The Python value of a literal (or of a tuple of literals), else ``None``."""
    if isinstance(value, Lit):
        return value.value
    if isinstance(value, Seq) and value.kind == "tuple" and not value.dropped:
        if depth >= LITERAL_DEPTH:
            return None
        items = [literal(v, depth + 1) for v in value.items]
        if all(
            i is not None or isinstance(v, Lit) for i, v in zip(items, value.items, strict=True)
        ):
            return tuple(items)
    return None


def args_of(value: Value | None) -> list[Value]:
    """The items of an argument tuple (empty when unknown)."""
    if isinstance(value, Seq):
        return list(value.items)
    return []


def render_call(name: str, args: Value | None, budget: int = 240) -> str:
    """``name(arg, …)`` for evidence, arguments rendered like :func:`render`."""
    inner = ", ".join(_render(a, 2) for a in args_of(args)[:6])
    if len(args_of(args)) > 6:
        inner += ", …"
    text = f"{name}({inner})"
    return text if len(text) <= budget else text[: budget - 1] + "…"


def render(value: Value | None, depth: int = 3, budget: int = 240) -> str:
    """A short Python-like rendering for evidence: ``os.system('id')``."""
    text = _render(value, depth)
    return text if len(text) <= budget else text[: budget - 1] + "…"


def _render(value: Value | None, depth: int) -> str:
    if value is None:
        return "?"
    if depth < 0:
        return "…"
    if isinstance(value, Lit):
        v = value.value
        if isinstance(v, BigBytes):
            return f"<{v.length} bytes: {v.prefix[:32]!r}…>"
        if isinstance(v, bytes | bytearray) and len(v) > 64:
            return f"<{len(v)} bytes: {bytes(v[:32])!r}…>"
        if isinstance(v, str) and len(v) > 120:
            return repr(v[:117] + "…")
        return repr(v)
    if isinstance(value, Glob):
        return value.qualname
    if isinstance(value, Call):
        inner = ", ".join(_render(a, depth - 1) for a in args_of(value.args)[:6])
        if isinstance(value.args, Seq) and len(value.args.items) > 6:
            inner += ", …"
        return f"{_render(value.func, depth - 1)}({inner})"
    if isinstance(value, Seq):
        inner = ", ".join(_render(a, depth - 1) for a in value.items[:6])
        more = ", …" if len(value.items) > 6 or value.dropped else ""
        if value.kind == "tuple":
            comma = "," if len(value.items) == 1 else ""
            return f"({inner}{comma}{more})"
        if value.kind == "list":
            return f"[{inner}{more}]"
        return f"{value.kind}({{{inner}{more}}})"
    if isinstance(value, Map):
        inner = ", ".join(
            f"{_render(k, depth - 1)}: {_render(v, depth - 1)}" for k, v in value.items[:4]
        )
        more = ", …" if len(value.items) > 4 or value.dropped else ""
        return f"{{{inner}{more}}}"
    if isinstance(value, Persist):
        return f"persistent_load({_render(value.pid, depth - 1)})"
    if isinstance(value, Unknown):
        return f"<{value.reason}>"
    return "?"
