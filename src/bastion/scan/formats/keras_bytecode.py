"""Static evidence from the marshalled Python code that Keras ``Lambda`` layers carry.

A ``Lambda`` layer saved with a Python ``lambda`` stores ``marshal.dumps(fn.__code__)`` as base64
(the legacy ``["<base64>", defaults, closure]`` list, or the Keras 3
``{"class_name": "__lambda__", "config": {"code": "<base64>", …}}`` dict). ``marshal.loads`` is
not safe on hostile bytes, so this module never calls it: a small bounded reader walks the
marshal format and collects the strings a person needs to judge the code (global and attribute
names such as ``os`` and ``system``, string constants such as the shell command). When the
structure cannot be walked (a Python version whose code layout is unknown, a damaged payload),
the printable runs of the raw bytes are used instead.

>>> import marshal
>>> code = compile("lambda x: __import__('os').system('touch m')", "<m>", "eval").co_consts[0]
>>> evidence = inspect_code(marshal.dumps(code))
>>> {"__import__", "os", "system"} <= set(evidence.names), evidence.strings
(True, ('touch m',))
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from dataclasses import dataclass

from bastion.errors import MalformedInputError

#: Names in Lambda bytecode that reach the shell, files, the network or the interpreter.
DANGEROUS_CODE_NAMES = frozenset(
    """
    os posix nt subprocess system popen Popen spawnl spawnlp spawnv spawnvp execl execlp execv
    execve execvp run call check_call check_output getoutput getstatusoutput exec eval compile
    __import__ import_module importlib builtins __builtins__ __globals__ __subclasses__ __code__
    __reduce__ globals getattr setattr delattr open remove unlink rmdir rmtree chmod chown
    write_text write_bytes socket connect urlopen urlretrieve requests urllib http pickle
    marshal loads ctypes cdll pty shutil sys breakpoint webbrowser
    """.split()
)

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HIDDEN_LOCAL = re.compile(r"^\.\d+$")
_PRINTABLE = re.compile(rb"[\x20-\x7e]{4,}")
_FLAG_REF = 0x80
_MAX_DEPTH = 48
_MAX_OBJECTS = 200_000
_MAX_TEXT = 160
_MAX_ITEMS = 40

# Code-object layouts (``i`` = raw int32, ``o`` = marshalled object), newest first:
# 3.11+ (localsplus, qualname, exception table), 3.8–3.10 (posonlyargcount), 3.0–3.7, 2.7.
_LAYOUTS: tuple[tuple[str, str], ...] = (
    ("3.11+", "iiiiiooooooooioo"),
    ("3.8-3.10", "iiiiiiooooooooio"),
    ("3.0-3.7", "iiiiiooooooooio"),
    ("2.7", "iiiiooooooooio"),
)


@dataclass(frozen=True)
class CodeEvidence:
    """What the marshalled code mentions, without having been loaded."""

    size: int
    names: tuple[str, ...]
    strings: tuple[str, ...]
    layout: str | None
    code_objects: int

    @property
    def dangerous(self) -> tuple[str, ...]:
        """The names that reach the shell, files, the network or the interpreter."""
        return tuple(n for n in self.names if n in DANGEROUS_CODE_NAMES)

    def summary(self) -> str:
        """One line for messages and evidence: dangerous names first, then strings."""
        parts: list[str] = []
        shown = self.dangerous or self.names[:8]
        if shown:
            parts.append("names " + ", ".join(shown[:12]))
        if self.strings:
            parts.append("strings " + ", ".join(repr(s) for s in self.strings[:4]))
        return "; ".join(parts) if parts else "no readable names"


def decode_payload(value: object) -> bytes | None:
    """The raw marshal bytes of a Lambda ``code`` field (base64, or Keras' raw fallback)."""
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    if not isinstance(value, str) or not value:
        return None
    try:
        return base64.b64decode(value.encode("ascii"), validate=False)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        # NOTE: Keras' func_load falls back to the string's raw-unicode-escape bytes.
        return value.encode("raw_unicode_escape", "replace")


def inspect_code(raw: bytes) -> CodeEvidence:
    """Names and strings of a marshalled code object, read without ``marshal.loads``."""
    for layout_name, layout in _LAYOUTS:
        reader = _MarshalReader(raw, layout)
        try:
            reader.read_object(0)
        except (MalformedInputError, RecursionError):
            continue
        if reader.pos == len(raw) and reader.code_objects:
            return _evidence(raw, reader.texts, layout_name, reader.code_objects)
    texts = [m.group().decode("ascii") for m in _PRINTABLE.finditer(raw[: 1 << 20])]
    return _evidence(raw, texts, None, 0)


def _evidence(raw: bytes, texts: list[str], layout: str | None, codes: int) -> CodeEvidence:
    names: dict[str, None] = {}
    strings: dict[str, None] = {}
    for text in texts:
        if ("<" in text and text.endswith(">")) or _HIDDEN_LOCAL.match(text):
            continue  # <lambda>, f.<locals>.<lambda>, the hidden ``.0`` argument: not evidence
        if _IDENT.match(text):
            names.setdefault(text, None)
        elif text.strip() and not _looks_like_source_path(text):
            strings.setdefault(text[:_MAX_TEXT], None)
    return CodeEvidence(
        size=len(raw),
        names=tuple(list(names)[:_MAX_ITEMS]),
        strings=tuple(list(strings)[:_MAX_ITEMS]),
        layout=layout,
        code_objects=codes,
    )


def _looks_like_source_path(text: str) -> bool:
    return text.endswith(".py") and ("/" in text or "\\" in text)


class _MarshalReader:
    """Walks marshal data with bounds, keeping strings; builds no Python objects of its own."""

    def __init__(self, data: bytes, layout: str) -> None:
        self.data = data
        self.layout = layout
        self.pos = 0
        self.refs = 0
        self.objects = 0
        self.code_objects = 0
        self.texts: list[str] = []

    def _take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise MalformedInputError("marshal data ends early")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def _int32(self) -> int:
        return int(struct.unpack("<i", self._take(4))[0])

    def _length(self, n: int) -> int:
        if n < 0 or n > len(self.data) - self.pos:
            raise MalformedInputError(f"marshal length {n} exceeds the data")
        return n

    def _text(self, raw: bytes) -> None:
        text = raw.decode("utf-8", "replace")
        if len(self.texts) < 4 * _MAX_ITEMS:
            self.texts.append(text)

    def read_object(self, depth: int) -> None:
        """Consume one marshalled object (and everything inside it)."""
        if depth > _MAX_DEPTH:
            raise MalformedInputError("marshal nesting too deep")
        self.objects += 1
        if self.objects > _MAX_OBJECTS:
            raise MalformedInputError("too many marshal objects")
        code = self._take(1)[0]
        if code & _FLAG_REF:
            self.refs += 1
        kind = chr(code & ~_FLAG_REF & 0xFF)
        if kind in "0NFTS.":
            return
        if kind == "i":
            self._take(4)
        elif kind == "I" or kind == "g":
            self._take(8)
        elif kind == "y":
            self._take(16)
        elif kind == "l":
            self._take(self._length(2 * abs(self._int32())))
        elif kind in "fx":
            for _ in range(2 if kind == "x" else 1):
                self._take(self._take(1)[0])
        elif kind == "s":
            self._take(self._length(self._int32()))
        elif kind in "tauA":
            self._text(self._take(self._length(self._int32())))
        elif kind in "zZ":
            self._text(self._take(self._take(1)[0]))
        elif kind == ")":
            for _ in range(self._take(1)[0]):
                self.read_object(depth + 1)
        elif kind in "([<>":
            for _ in range(self._length(self._int32())):
                self.read_object(depth + 1)
        elif kind == "{":
            self._dict(depth)
        elif kind == "r":
            index = self._int32()
            if not 0 <= index < self.refs:
                raise MalformedInputError("marshal back-reference out of range")
        elif kind == "c":
            self._code(depth)
        else:
            raise MalformedInputError(f"unknown marshal type {kind!r}")

    def _dict(self, depth: int) -> None:
        while True:
            if self.pos < len(self.data) and self.data[self.pos] == ord("0"):
                self.pos += 1
                return
            self.read_object(depth + 1)
            self.read_object(depth + 1)

    def _code(self, depth: int) -> None:
        self.code_objects += 1
        for field in self.layout:
            if field == "i":
                self._take(4)
            else:
                self.read_object(depth + 1)
