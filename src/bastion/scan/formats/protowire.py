"""A small, bounded decoder of the protobuf wire format, for analyzers that read ``.pb`` files.

Protobuf messages (TensorFlow's ``saved_model.pb``, Keras' ``keras_metadata.pb``, ONNX models)
are decoded here without generated classes and without the ``protobuf`` runtime: the caller
knows the field numbers it cares about and walks the rest past. Length-delimited fields are
returned as :class:`memoryview` slices of the caller's buffer, never copied, so a 2 GB tensor
payload costs nothing unless someone reads it; :func:`open_buffer` memory-maps files for the
same reason.

Every decode is bounded: nesting depth and the number of fields (per call tree, through a
:class:`FieldBudget`), varint length, and lengths that point past the buffer. Bad input raises
:class:`~bastion.errors.MalformedInputError`; a bound raises
:class:`~bastion.errors.AnalysisLimitError`. Nothing else escapes.

>>> from bastion.scan.formats.protowire import iter_fields, iter_message
>>> data = bytes([0x08, 0x96, 0x01, 0x12, 0x03]) + b"abc"
>>> [(f.number, f.wire_type.name) for f in iter_fields(data)]
[(1, 'VARINT'), (2, 'LEN')]
>>> [f.text() for f in iter_fields(data) if f.number == 2]
['abc']
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import IntEnum
from typing import NamedTuple

from bastion.errors import AnalysisLimitError, MalformedInputError
from bastion.scan.blob import Blob, BytesBlob, FileBlob, SliceBlob

#: What the decoder accepts as a buffer.
Buffer = bytes | bytearray | memoryview

#: The largest message protobuf allows (2 GiB - 1); bigger payloads are not valid protobuf.
MAX_MESSAGE_BYTES = (1 << 31) - 1

_MAX_FIELD_NUMBER = (1 << 29) - 1
_DEADLINE_EVERY = 4096


class WireType(IntEnum):
    """The six wire types; 3 and 4 are the deprecated groups."""

    VARINT = 0
    I64 = 1
    LEN = 2
    SGROUP = 3
    EGROUP = 4
    I32 = 5


@dataclass(frozen=True)
class WireLimits:
    """Bounds on one decode: nesting depth and total number of fields."""

    max_depth: int = 100
    max_fields: int = 10_000_000


_LEN = WireType.LEN
_VARINT = WireType.VARINT


class FieldBudget:
    """Counts fields across a whole decode (all nested messages) and checks the deadline.

    One budget is shared by every :func:`iter_fields` call of one analysis, so a file cannot
    spend more than ``max_fields`` in total however it nests its messages.
    """

    __slots__ = ("_check", "_count", "limits")

    def __init__(
        self, limits: WireLimits | None = None, check: Callable[[], None] | None = None
    ) -> None:
        self.limits = limits or WireLimits()
        self._check = check
        self._count = 0

    @property
    def count(self) -> int:
        """Fields decoded so far."""
        return self._count

    def spend(self) -> None:
        """Account one field; raise :class:`AnalysisLimitError` past the bound."""
        self._count += 1
        if self._count > self.limits.max_fields:
            raise AnalysisLimitError(
                "protobuf-fields", f"more than {self.limits.max_fields} protobuf fields"
            )
        if self._check is not None and self._count % _DEADLINE_EVERY == 0:
            self._check()

    def enter(self, depth: int) -> None:
        """Refuse a message nested deeper than ``max_depth``."""
        if depth > self.limits.max_depth:
            raise AnalysisLimitError(
                "protobuf-depth", f"messages nested deeper than {self.limits.max_depth} levels"
            )


class Field(NamedTuple):
    """One decoded field.

    ``value`` is the integer for ``VARINT``/``I64``/``I32`` (unsigned, as on the wire) and a
    slice of the buffer for ``LEN`` and groups. ``offset`` is the absolute offset of the
    field's key and ``value_offset`` that of its payload (absolute: relative to the buffer
    the first :func:`iter_fields` call was given). ``depth`` is the nesting level (0 = top).
    """

    # NOTE: an immutable NamedTuple rather than a frozen dataclass: one is built per field,
    # and a frozen dataclass' __init__ costs about three times as much.
    number: int
    wire_type: WireType
    value: int | memoryview
    offset: int
    value_offset: int
    depth: int = 0

    @property
    def data(self) -> memoryview:
        """The payload of a length-delimited field (or group body)."""
        if isinstance(self.value, int):
            raise MalformedInputError(
                f"protobuf field {self.number} at offset {self.offset} is "
                f"{self.wire_type.name}, expected a length-delimited value"
            )
        return self.value

    @property
    def uint(self) -> int:
        """The unsigned integer of a varint or fixed-width field."""
        if not isinstance(self.value, int):
            raise MalformedInputError(
                f"protobuf field {self.number} at offset {self.offset} is "
                f"{self.wire_type.name}, expected a number"
            )
        return self.value

    @property
    def int64(self) -> int:
        """The integer read as a signed 64-bit value (``int32``/``int64``/``enum`` fields)."""
        value = self.uint & 0xFFFFFFFFFFFFFFFF
        return value - (1 << 64) if value >= 1 << 63 else value

    @property
    def size(self) -> int:
        """Payload length in bytes (0 for numbers)."""
        return 0 if isinstance(self.value, int) else len(self.value)

    def text(self, max_bytes: int | None = None) -> str:
        """The payload as UTF-8 (invalid bytes replaced), optionally only its first bytes."""
        data = self.data if max_bytes is None else self.data[:max_bytes]
        return bytes(data).decode("utf-8", "replace")

    def raw(self, max_bytes: int | None = None) -> bytes:
        """The payload bytes (a copy: ask only for what you need)."""
        data = self.data if max_bytes is None else self.data[:max_bytes]
        return bytes(data)

    def as_float(self) -> float:
        """A ``float`` (``I32``) or ``double`` (``I64``) field's value."""
        if self.wire_type is WireType.I32:
            return float(struct.unpack("<f", self.uint.to_bytes(4, "little"))[0])
        if self.wire_type is WireType.I64:
            return float(struct.unpack("<d", self.uint.to_bytes(8, "little"))[0])
        raise MalformedInputError(
            f"protobuf field {self.number} at offset {self.offset} is not a float"
        )


def decode_varint(buf: Buffer, pos: int) -> tuple[int, int]:
    """Decode the varint at ``pos``; returns ``(value, next_pos)``."""
    end = len(buf)
    result = 0
    shift = 0
    start = pos
    while True:
        if pos >= end:
            raise MalformedInputError(f"protobuf varint at offset {start} is truncated")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise MalformedInputError(f"protobuf varint at offset {start} is longer than 10 bytes")


def iter_fields(
    buf: Buffer, *, base: int = 0, depth: int = 0, budget: FieldBudget | None = None
) -> Iterator[Field]:
    """Decode the fields of one message, in order; payloads are slices, never copies.

    ``base`` is the absolute offset of ``buf`` (for locations in findings), ``depth`` its
    nesting level. Raises :class:`MalformedInputError` on bad wire data and
    :class:`AnalysisLimitError` when ``budget`` is exhausted or ``depth`` too deep.
    """
    budget = budget if budget is not None else FieldBudget()
    budget.enter(depth)
    view = buf if isinstance(buf, memoryview) else memoryview(buf)
    limit = budget.limits.max_fields
    check = budget._check
    pos = 0
    end = len(view)
    while pos < end:
        count = budget._count = budget._count + 1
        if count > limit:
            raise AnalysisLimitError("protobuf-fields", f"more than {limit} protobuf fields")
        if check is not None and not count % _DEADLINE_EVERY:
            check()
        start = pos
        key = view[pos]
        if key < 0x80:
            pos += 1
        else:
            key, pos = decode_varint(view, pos)
        number = key >> 3
        wire = key & 7
        if number == 0 or number > _MAX_FIELD_NUMBER:
            raise MalformedInputError(
                f"invalid protobuf field number {number} at offset {base + start}"
            )
        if wire == 2:
            if pos < end and view[pos] < 0x80:
                length = view[pos]
                pos += 1
            else:
                length, pos = decode_varint(view, pos)
            if length > end - pos:
                raise MalformedInputError(
                    f"protobuf field {number} at offset {base + start} declares {length} bytes, "
                    f"only {end - pos} remain"
                )
            yield Field(number, _LEN, view[pos : pos + length], base + start, base + pos, depth)
            pos += length
        elif wire == 0:
            if pos < end and view[pos] < 0x80:
                value = view[pos]
                pos += 1
            else:
                value, pos = decode_varint(view, pos)
            yield Field(number, _VARINT, value, base + start, base + start, depth)
        elif wire == 5 or wire == 1:
            width = 4 if wire == 5 else 8
            if pos + width > end:
                raise MalformedInputError(
                    f"protobuf fixed field at offset {base + start} is truncated"
                )
            value = int.from_bytes(view[pos : pos + width], "little")
            yield Field(number, WireType(wire), value, base + start, base + pos, depth)
            pos += width
        elif wire == 3:
            body_end, after = _skip_group(view, pos, number, base, depth, budget)
            yield Field(
                number, WireType.SGROUP, view[pos:body_end], base + start, base + pos, depth
            )
            pos = after
        else:
            raise MalformedInputError(
                f"unexpected protobuf wire type {wire} (field {number}) at offset {base + start}"
            )


def _skip_group(
    view: memoryview, pos: int, number: int, base: int, depth: int, budget: FieldBudget
) -> tuple[int, int]:
    """Find the end of a group started before ``pos``: ``(body_end, position after EGROUP)``."""
    stack = [number]
    end = len(view)
    while pos < end:
        budget.spend()
        budget.enter(depth + len(stack))
        start = pos
        key, pos = decode_varint(view, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            _, pos = decode_varint(view, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            length, pos = decode_varint(view, pos)
            pos += length
        elif wire == 3:
            stack.append(field)
        elif wire == 4:
            if field != stack[-1]:
                raise MalformedInputError(
                    f"protobuf group end {field} at offset {base + start} does not match "
                    f"group {stack[-1]}"
                )
            stack.pop()
            if not stack:
                return start, pos
        else:
            raise MalformedInputError(
                f"unexpected protobuf wire type {wire} at offset {base + start}"
            )
        if pos > end:
            break
    raise MalformedInputError(f"protobuf group {number} is not terminated")


def iter_message(field: Field, budget: FieldBudget | None = None) -> Iterator[Field]:
    """Decode a length-delimited field as a nested message (one level deeper)."""
    return iter_fields(field.data, base=field.value_offset, depth=field.depth + 1, budget=budget)


def is_plausible_message(buf: Buffer, *, max_fields: int = 64) -> bool:
    """Whether the first fields of ``buf`` decode cleanly (a cheap shape check for detection).

    Truncation at the end of ``buf`` is tolerated (it is usually a file's head): only the
    fields that fit are judged.
    """
    view = buf if isinstance(buf, memoryview) else memoryview(buf)
    budget = FieldBudget(WireLimits(max_fields=max_fields))
    seen = 0
    try:
        for _ in iter_fields(view, budget=budget):
            seen += 1
    except AnalysisLimitError:
        return seen > 0
    except MalformedInputError as exc:
        return seen > 0 and "remain" in str(exc)
    return seen > 0


@contextmanager
def open_buffer(blob: Blob, max_bytes: int) -> Iterator[memoryview]:
    """The whole blob as a buffer: memory-mapped for files, in memory otherwise.

    Files (and stored archive members of files) are mapped read-only, so only the pages the
    decoder touches are read; other blobs are read into memory, up to ``max_bytes`` (more
    raises :class:`AnalysisLimitError`). The view must not be used after the block ends.
    """
    if isinstance(blob, BytesBlob):
        yield memoryview(blob.data)
        return
    start, length, base = 0, None, blob
    if isinstance(blob, SliceBlob) and isinstance(blob.parent, FileBlob):
        start, length, base = blob.start, blob.length, blob.parent
    if isinstance(base, FileBlob) and base.size > 0:
        with open(base.path, "rb") as handle:
            mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        view = memoryview(mapped)
        try:
            end = len(view) if length is None else min(len(view), start + length)
            yield view[start:end]
        finally:
            view.release()
            try:
                mapped.close()
            except BufferError:
                # NOTE: slices still referenced elsewhere keep the map alive; it is unmapped
                # when the last one is collected.
                pass
        return
    data = _read_bounded(blob, max_bytes)
    yield memoryview(data)


def _read_bounded(blob: Blob, max_bytes: int) -> bytes:
    size = blob.size
    if size is not None and size > max_bytes:
        raise AnalysisLimitError("protobuf-bytes", f"{size} bytes exceed the {max_bytes} limit")
    with blob.open() as stream:
        data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise AnalysisLimitError("protobuf-bytes", f"more than {max_bytes} bytes")
    return data
