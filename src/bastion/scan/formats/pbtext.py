"""A bounded reader of the protobuf text format (``.pbtxt``), without a schema.

TensorFlow writes ``saved_model.pbtxt`` and graph ``.pbtxt`` files in this format. The parser
turns the text into a tree of :class:`TextMessage` values, field names as written, scalars kept
as their unescaped text; the caller knows the schema and reads what it needs. Depth, the number
of fields and the time spent are bounded; anything that is not well-formed text format raises
:class:`~bastion.errors.MalformedInputError`.

>>> msg = parse_text('node { name: "a" op: "ReadFile" } version: 3')
>>> [n.scalar("op") for n in msg.messages("node")]
['ReadFile']
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from bastion.errors import AnalysisLimitError, MalformedInputError

_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r\f\v]+|\n|\#[^\n]*)
  | (?P<str>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<punct>[{}<>\[\]:,;])
  | (?P<word>[-+]?[A-Za-z0-9_.+\-/]+)
    """,
    re.VERBOSE,
)
_SIMPLE_ESCAPES = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "?": "?",
}
_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]{1,2}|[0-7]{1,3}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)")
_CLOSE = {"{": "}", "<": ">"}


@dataclass(frozen=True)
class TextScalar:
    """A scalar value: the unescaped text of a string, or the token of a number/enum/bool."""

    text: str
    line: int
    quoted: bool


@dataclass
class TextMessage:
    """A message: field names mapped to their values (scalars or nested messages), in order."""

    line: int
    fields: dict[str, list[TextScalar | TextMessage]] = field(default_factory=dict)

    def values(self, name: str) -> list[TextScalar | TextMessage]:
        """Every value of field ``name`` (empty when absent)."""
        return self.fields.get(name, [])

    def messages(self, name: str) -> Iterator[TextMessage]:
        """The nested messages of field ``name``."""
        return (v for v in self.fields.get(name, ()) if isinstance(v, TextMessage))

    def scalars(self, name: str) -> Iterator[TextScalar]:
        """The scalar values of field ``name``."""
        return (v for v in self.fields.get(name, ()) if isinstance(v, TextScalar))

    def scalar(self, name: str, default: str = "") -> str:
        """The last scalar of field ``name`` (protobuf's rule for repeated singular fields)."""
        found = [v.text for v in self.scalars(name)]
        return found[-1] if found else default


def unescape(body: str) -> str:
    """Undo text-format string escapes (``\\n``, ``\\x41``, octal ``\\101``, ``\\u00e9``)."""

    def one(match: re.Match[str]) -> str:
        esc = match.group(1)
        if esc[0] == "x":
            return chr(int(esc[1:], 16))
        if esc[0] in "01234567":
            return chr(int(esc, 8) & 0xFF)
        if esc[0] in "uU" and len(esc) > 1:
            return chr(min(int(esc[1:], 16), 0x10FFFF))
        return _SIMPLE_ESCAPES.get(esc, esc)

    raw = _ESCAPE.sub(one, body)
    # NOTE: byte escapes spell UTF-8 sequences; re-read them as such where they form one.
    try:
        return raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return raw


def _tokens(text: str, check: Callable[[], None] | None) -> Iterator[tuple[str, str, int]]:
    pos, line, end, count = 0, 1, len(text), 0
    while pos < end:
        match = _TOKEN.match(text, pos)
        if match is None:
            raise MalformedInputError(
                f"text format: unexpected character {text[pos]!r} on line {line}"
            )
        kind = match.lastgroup or ""
        value = match.group()
        pos = match.end()
        if kind == "ws":
            if value == "\n":
                line += 1
            continue
        count += 1
        if check is not None and count % 4096 == 0:
            check()
        yield kind, value, line


class _Parser:
    def __init__(
        self, text: str, max_depth: int, max_fields: int, check: Callable[[], None] | None
    ):
        self._tokens = _tokens(text, check)
        self._peek: tuple[str, str, int] | None = None
        self._max_depth = max_depth
        self._max_fields = max_fields
        self._fields = 0
        self._line = 1

    def _next(self) -> tuple[str, str, int] | None:
        peeked = self._peek
        if peeked is not None:
            self._peek = None
            return peeked
        token = next(self._tokens, None)
        if token is not None:
            self._line = token[2]
        return token

    def _look(self) -> tuple[str, str, int] | None:
        if self._peek is None:
            self._peek = next(self._tokens, None)
        return self._peek

    def _expect_any(self) -> tuple[str, str, int]:
        token = self._next()
        if token is None:
            raise MalformedInputError(
                f"text format: unexpected end of input after line {self._line}"
            )
        return token

    def message(self, line: int, close: str | None, depth: int) -> TextMessage:
        if depth > self._max_depth:
            raise AnalysisLimitError("text-depth", f"messages nested deeper than {self._max_depth}")
        msg = TextMessage(line)
        while True:
            token = self._next()
            if token is None:
                if close is not None:
                    raise MalformedInputError(
                        f"text format: message opened on line {line} is not closed"
                    )
                return msg
            kind, value, at = token
            if kind == "punct" and value == close:
                return msg
            if kind == "punct" and value in ",;":
                continue
            if kind == "punct" and value == "[":
                # Extension or Any type URL: ``[type.googleapis.com/x] { … }``.
                name = self._bracketed(at)
            elif kind == "word":
                name = value
            else:
                raise MalformedInputError(
                    f"text format: expected a field name on line {at}, got {value!r}"
                )
            self._field(msg, name, at, depth)

    def _bracketed(self, line: int) -> str:
        parts: list[str] = []
        while True:
            kind, value, _ = self._expect_any()
            if kind == "punct" and value == "]":
                return "[" + "".join(parts) + "]"
            if kind != "word":
                raise MalformedInputError(f"text format: bad extension name on line {line}")
            parts.append(value)

    def _field(self, msg: TextMessage, name: str, line: int, depth: int) -> None:
        kind, value, at = self._expect_any()
        if kind == "punct" and value == ":":
            kind, value, at = self._expect_any()
        if kind == "punct" and value == "[":
            self._list(msg, name, at, depth)
            return
        self._add(msg, name, self._value(kind, value, at, depth))

    def _list(self, msg: TextMessage, name: str, line: int, depth: int) -> None:
        while True:
            kind, value, at = self._expect_any()
            if kind == "punct" and value == "]":
                return
            if kind == "punct" and value == ",":
                continue
            self._add(msg, name, self._value(kind, value, at, depth))

    def _value(self, kind: str, value: str, at: int, depth: int) -> TextScalar | TextMessage:
        if kind == "punct" and value in _CLOSE:
            return self.message(at, _CLOSE[value], depth + 1)
        if kind == "str":
            parts = [unescape(value[1:-1])]
            while (nxt := self._look()) is not None and nxt[0] == "str":
                self._next()
                parts.append(unescape(nxt[1][1:-1]))
            return TextScalar("".join(parts), at, True)
        if kind == "word":
            return TextScalar(value, at, False)
        raise MalformedInputError(f"text format: unexpected {value!r} on line {at}")

    def _add(self, msg: TextMessage, name: str, value: TextScalar | TextMessage) -> None:
        self._fields += 1
        if self._fields > self._max_fields:
            raise AnalysisLimitError("text-fields", f"more than {self._max_fields} fields")
        msg.fields.setdefault(name, []).append(value)


def parse_text(
    text: str,
    *,
    max_depth: int = 100,
    max_fields: int = 5_000_000,
    check: Callable[[], None] | None = None,
) -> TextMessage:
    """Parse a whole text-format message; ``check`` is called now and then (a deadline)."""
    return _Parser(text, max_depth, max_fields, check).message(1, None, 0)
