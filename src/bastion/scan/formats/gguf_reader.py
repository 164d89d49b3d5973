"""A bounded GGUF reader: header, typed metadata, tensor descriptors; never tensor data.

Every count and length is checked against the bytes left in the file before it is used, so a
hostile file costs what its real size costs, not what it declares. The reader keeps only what
the checks need: metadata keys and types, the chat templates, ``general.alignment`` and the
tensor descriptors. Problems are collected as values (:class:`Problem`); a problem after which
the file cannot be followed ends the read (:attr:`GgufFile.complete` is then false).

Versions 1 (32-bit counts, lengths and dimensions), 2 and 3, little- and big-endian, are
understood.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bastion.core import Severity
from bastion.errors import AnalysisLimitError
from bastion.rules import Rule
from bastion.scan.blob import Blob
from bastion.scan.formats import gguf_rules as R
from bastion.scan.formats.byte_cursor import ByteCursor
from bastion.scan.formats.gguf_model import (
    DEFAULT_ALIGNMENT,
    GgufFile,
    Problem,
    Template,
    TensorInfo,
)
from bastion.scan.formats.gguf_types import (
    MAX_DIMS,
    SCALAR_SIZES,
    VALUE_TYPE_NAMES,
    TensorDefect,
    ValueType,
    tensor_nbytes,
)

MAGIC = b"GGUF"
MAX_NAME_BYTES = 63
MAX_KEY_BYTES = 65535
#: Arrays nested deeper than this are not followed.
MAX_ARRAY_DEPTH = 8
#: Chat templates longer than this are not kept in memory (reported as oversized instead).
MAX_TEMPLATE_BYTES = 1 << 20
#: Variable-size array elements (strings, arrays) walked per file before giving up.
MAX_ELEMENTS = 20_000_000
_STRING_CHUNK = 65536
TEMPLATE_KEY = "tokenizer.chat_template"


@dataclass
class _State:
    """What has been read so far (turned into a frozen :class:`GgufFile` at the end)."""

    size: int
    version: int = 0
    big_endian: bool = False
    tensor_count: int = 0
    kv_count: int = 0
    keys: dict[str, int] = field(default_factory=dict)
    templates: list[Template] = field(default_factory=list)
    alignment: int = DEFAULT_ALIGNMENT
    tensors: list[TensorInfo] = field(default_factory=list)
    data_start: int | None = None
    problems: list[Problem] = field(default_factory=list)
    complete: bool = False

    def freeze(self) -> GgufFile:
        """The immutable summary of what was read."""
        return GgufFile(
            size=self.size,
            version=self.version,
            big_endian=self.big_endian,
            tensor_count=self.tensor_count,
            kv_count=self.kv_count,
            keys=tuple(self.keys),
            templates=tuple(self.templates),
            alignment=self.alignment,
            tensors=tuple(self.tensors),
            data_start=self.data_start,
            problems=tuple(self.problems),
            complete=self.complete,
        )


class _Stop(Exception):
    """Reading cannot go on; the problem explaining why was recorded."""


class GgufReader:
    """Reads one GGUF file into a :class:`GgufFile`; never raises for bad content."""

    def __init__(self, blob: Blob, size: int, check: Callable[[], None]) -> None:
        self.file = _State(size=size)
        self._cur = ByteCursor(blob, size)
        self._check = check
        self._elements = 0
        self._long = False

    def read(self) -> GgufFile:
        """Parse as far as the file allows and return what was learned."""
        try:
            self._header()
            self._metadata()
            self._tensor_infos()
            self._data_start()
            self.file.complete = True
        except _Stop:
            pass
        except EOFError:
            self._problem(
                R.HEADER,
                f"file ends at byte {self.file.size} inside a structure; the rest was not read",
                "truncated structure",
                fatal=False,
            )
        return self.file.freeze()

    # -- helpers ---------------------------------------------------------------------------

    def _problem(
        self,
        rule: Rule,
        message: str,
        evidence: str | None = None,
        *,
        offset: int | None = None,
        severity: Severity | None = None,
        fatal: bool = True,
    ) -> None:
        where = self._cur.pos if offset is None else offset
        self.file.problems.append(Problem(rule, message, evidence or message, where, severity))
        if fatal:
            raise _Stop

    def _length(self) -> int:
        return self._cur.u64() if self._long else self._cur.u32()

    def _string_length(self, what: str, limit: int | None = None) -> int:
        start = self._cur.pos
        n = self._length()
        if n > self._cur.remaining:
            self._problem(
                R.LENGTH,
                f"{what}: string of {n} bytes declared with {self._cur.remaining} bytes left",
                f"{what}: string length past end of file",
                offset=start,
            )
        if limit is not None and n > limit:
            self._problem(
                R.LENGTH,
                f"{what}: string of {n} bytes exceeds the {limit}-byte limit",
                f"{what}: string longer than {limit}",
                offset=start,
            )
        return n

    def _text(self, raw: bytes, what: str, offset: int) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self._problem(
                R.VALUE,
                f"{what} is not valid UTF-8",
                f"{what}: not UTF-8",
                offset=offset,
                fatal=False,
            )
            return raw.decode("utf-8", "replace")

    # -- sections --------------------------------------------------------------------------

    def _header(self) -> None:
        cur = self._cur
        head = cur.take(8)
        if head[:4] != MAGIC:
            self._problem(R.HEADER, "missing GGUF magic", offset=0)
        version = int.from_bytes(head[4:8], "little")
        if version not in (1, 2, 3) and int.from_bytes(head[4:8], "big") in (1, 2, 3):
            version = int.from_bytes(head[4:8], "big")
            self.file.big_endian = True
            cur.endian = ">"
        if version not in (1, 2, 3):
            self._problem(
                R.HEADER, f"unsupported GGUF version {version}", f"version {version}", offset=4
            )
        self.file.version = version
        self._long = version >= 2
        tensors, kvs = self._length(), self._length()
        self.file.tensor_count, self.file.kv_count = tensors, kvs
        width = 8 if self._long else 4
        capacity = cur.remaining
        need = kvs * (width + 4 + 1) + tensors * (width + 4 + 4 + 8)
        if need > capacity:
            self._problem(
                R.COUNTS,
                f"header declares {tensors} tensors and {kvs} metadata entries; their smallest "
                f"encoding needs {need} bytes but only {capacity} follow",
                f"counts {tensors}/{kvs} exceed file",
                offset=8,
            )

    def _metadata(self) -> None:
        seen = self.file.keys
        for index in range(self.file.kv_count):
            if index % 256 == 0:
                self._check()
            start = self._cur.pos
            n = self._string_length(f"metadata key #{index}", MAX_KEY_BYTES)
            key = self._text(self._cur.take(n), f"metadata key #{index}", start)
            vtype = self._cur.u32()
            if key in seen:
                self._problem(
                    R.DUPLICATE,
                    f"metadata key {key!r} appears more than once",
                    f"duplicate key {key}",
                    offset=start,
                    fatal=False,
                )
            seen[key] = vtype
            self._value(key, vtype, 0)

    def _value(self, key: str, vtype: int, depth: int) -> None:
        cur = self._cur
        start = cur.pos
        if vtype in SCALAR_SIZES:
            size = SCALAR_SIZES[vtype]
            if key == "general.alignment" and depth == 0:
                self._alignment(vtype, start)
            elif vtype == ValueType.BOOL:
                flag = cur.take(1)[0]
                if flag > 1:
                    self._problem(
                        R.VALUE, f"{key}: boolean byte {flag}", f"{key}: bad bool", fatal=False
                    )
            else:
                cur.skip(size)
        elif vtype == ValueType.STRING:
            n = self._string_length(key)
            if depth == 0 and (key == TEMPLATE_KEY or key.startswith(TEMPLATE_KEY + ".")):
                self._template(key, n)
            else:
                cur.skip(n)
        elif vtype == ValueType.ARRAY:
            self._array(key, depth)
        else:
            self._problem(
                R.VALUE,
                f"{key}: unknown value type {vtype}; the rest of the file cannot be read",
                f"{key}: value type {vtype}",
                offset=start,
            )

    def _array(self, key: str, depth: int) -> None:
        cur = self._cur
        start = cur.pos
        etype = cur.u32()
        count = self._length()
        if etype not in VALUE_TYPE_NAMES:
            self._problem(
                R.VALUE,
                f"{key}: array of unknown value type {etype}",
                f"{key}: array type {etype}",
                offset=start,
            )
        if etype == ValueType.ARRAY:
            if depth + 1 >= MAX_ARRAY_DEPTH:
                self._problem(
                    R.NESTING,
                    f"{key}: arrays nested more than {MAX_ARRAY_DEPTH} deep",
                    f"{key}: nesting > {MAX_ARRAY_DEPTH}",
                    offset=start,
                    severity=Severity.HIGH,
                )
            if depth == 0:
                self._problem(
                    R.NESTING, f"{key}: array of arrays", f"{key}: nested arrays", fatal=False
                )
        width = 8 if self._long else 4
        smallest = SCALAR_SIZES.get(etype, width if etype == ValueType.STRING else 4 + width)
        if count * smallest > cur.remaining:
            self._problem(
                R.LENGTH,
                f"{key}: array of {count} {VALUE_TYPE_NAMES[etype]} elements needs at least "
                f"{count * smallest} bytes but {cur.remaining} are left",
                f"{key}: array count past end of file",
                offset=start,
            )
        if etype in SCALAR_SIZES:
            cur.skip(count * SCALAR_SIZES[etype])
            return
        self._elements += count
        if self._elements > MAX_ELEMENTS:
            raise AnalysisLimitError("elements", f"more than {MAX_ELEMENTS} metadata elements")
        if etype == ValueType.STRING:
            self._strings(key, count, width)
            return
        for index in range(count):
            if index % 8192 == 0:
                self._check()
            self._array(key, depth + 1)

    def _strings(self, key: str, count: int, width: int) -> None:
        for first in range(0, count, _STRING_CHUNK):
            self._check()
            bad = self._cur.skip_strings(min(_STRING_CHUNK, count - first), width)
            if bad is not None:
                index, length = bad
                self._problem(
                    R.LENGTH,
                    f"{key}[{first + index}]: string of {length} bytes declared with "
                    f"{self._cur.remaining - width} bytes left",
                    f"{key}: string length past end of file",
                )

    def _alignment(self, vtype: int, start: int) -> None:
        code = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 10: "Q", 11: "q"}.get(vtype)
        if code is None:
            self._cur.skip(SCALAR_SIZES[vtype])
            self._problem(
                R.VALUE,
                f"general.alignment has type {VALUE_TYPE_NAMES[vtype]}, not an integer",
                "general.alignment: wrong type",
                offset=start,
                fatal=False,
            )
            return
        value = int(self._cur.unpack(code, SCALAR_SIZES[vtype]))
        if vtype != ValueType.UINT32:
            self._problem(
                R.VALUE,
                f"general.alignment has type {VALUE_TYPE_NAMES[vtype]}; llama.cpp requires uint32",
                "general.alignment: wrong type",
                offset=start,
                fatal=False,
            )
        if value <= 0 or value & (value - 1):
            self._problem(
                R.ALIGNMENT,
                f"general.alignment {value} is not a power of two",
                "general.alignment: not a power of two",
                offset=start,
                fatal=False,
            )
            return
        self.file.alignment = value

    def _template(self, key: str, n: int) -> None:
        start = self._cur.pos
        if n > MAX_TEMPLATE_BYTES:
            self._cur.skip(n)
            self.file.templates.append(Template(key, None, n, start))
            return
        text = self._text(self._cur.take(n), key, start)
        self.file.templates.append(Template(key, text, n, start))

    def _tensor_infos(self) -> None:
        names: set[str] = set()
        for index in range(self.file.tensor_count):
            if index % 256 == 0:
                self._check()
            start = self._cur.pos
            n = self._string_length(f"tensor #{index} name")
            name = self._text(self._cur.take(n), f"tensor #{index} name", start)
            label = name[:80]
            if n > MAX_NAME_BYTES:
                self._bad_tensor(label, f"name of {n} bytes (ggml allows {MAX_NAME_BYTES})", start)
            if name in names:
                self._problem(
                    R.DUPLICATE,
                    f"tensor name {label!r} appears more than once",
                    f"duplicate tensor {label}",
                    offset=start,
                    fatal=False,
                )
            names.add(name)
            n_dims = self._cur.u32()
            width = 8 if self._long else 4
            if n_dims * width > self._cur.remaining:
                self._problem(
                    R.LENGTH,
                    f"tensor {label!r} declares {n_dims} dimensions past the end of the file",
                    f"{label}: n_dims past end of file",
                    offset=start,
                )
            dims: tuple[int, ...] = ()
            if n_dims <= MAX_DIMS:
                dims = tuple(self._length() for _ in range(n_dims))
            else:
                self._cur.skip(n_dims * width)
            ggml_type = self._cur.u32()
            offset = self._cur.u64()
            size = tensor_nbytes(n_dims, dims, ggml_type)
            if isinstance(size, TensorDefect):
                self._bad_tensor(label, size.why, start, high=size.high)
            nbytes = size if isinstance(size, int) else None
            self.file.tensors.append(TensorInfo(name, dims, ggml_type, offset, start, nbytes))

    def _bad_tensor(self, label: str, why: str, start: int, high: bool = False) -> None:
        self._problem(
            R.TENSOR,
            f"tensor {label!r}: {why}",
            f"{label}: {why.split(' (')[0]}",
            offset=start,
            severity=Severity.HIGH if high else None,
            fatal=False,
        )

    def _data_start(self) -> None:
        align = self.file.alignment
        self.file.data_start = -(-self._cur.pos // align) * align
