"""Parquet and Arrow IPC (Feather v2) files through pyarrow: key-value metadata and a bounded
sample of the first rows.

>>> meta = read_parquet(FileBlob("data.parquet"), SampleLimits())      # doctest: +SKIP
>>> [entry.key for entry in meta.metadata]                             # doctest: +SKIP
['pandas', 'ARROW:schema']

pyarrow is imported lazily (extra ``data``) and refused below 14.0.1: older versions unpickle the
``arrow.py_extension_type`` of a schema on read (CVE-2023-47248). Nothing else is deserialized:
metadata values are returned as bytes, and only plain columns are sampled (strings, integers,
dictionary-encoded strings), at most :attr:`SampleLimits.max_rows` rows of the first row group
or record batch. The Parquet footer length is checked against the file before pyarrow parses
it, and the first row group is only read when its declared uncompressed size is within bounds.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from bastion.errors import AnalysisLimitError, MalformedInputError, MissingDependencyError
from bastion.scan.blob import Blob, FileBlob
from bastion.scan.data.sample import Column, Sample, SampleLimits

#: Largest Parquet footer (file metadata) parsed.
MAX_FOOTER_BYTES = 64 * 1024 * 1024
#: Largest first row group (declared uncompressed bytes) sampled.
MAX_ROW_GROUP_BYTES = 256 * 1024 * 1024
_EXTENSION_NAME = b"ARROW:extension:name"
_EXTENSION_METADATA = b"ARROW:extension:metadata"
PY_EXTENSION_TYPE = b"arrow.py_extension_type"
_B64_PROTO = (b"gAE", b"gAJ", b"gAN", b"gAS", b"gAU")


@dataclass(frozen=True)
class MetadataEntry:
    """A key-value metadata entry: where it sits (file, schema, column) and its raw value."""

    scope: str
    key: str
    value: bytes


@dataclass
class Columnar:
    """What was read from a Parquet or Arrow file."""

    metadata: list[MetadataEntry] = field(default_factory=list)
    sample: Sample = field(default_factory=lambda: Sample([]))
    rows: int | None = None


def _pyarrow() -> Any:
    try:
        import pyarrow
    except ImportError as exc:
        raise MissingDependencyError("pyarrow", "data", "Checking Parquet/Arrow files") from exc
    version = tuple(int(p) for p in pyarrow.__version__.split(".")[:3] if p.isdigit())
    if version < (14, 0, 1):
        raise MissingDependencyError(
            "pyarrow>=14.0.1", "data", "Reading Parquet/Arrow safely (CVE-2023-47248)"
        )
    return pyarrow


def _source(pa: Any, blob: Blob, limit: int) -> Any:
    if isinstance(blob, FileBlob):
        return pa.memory_map(blob.path, "r")
    size = blob.size
    if size is None or size > limit:
        raise AnalysisLimitError("data-size", f"nested data file larger than {limit} bytes")
    return pa.BufferReader(blob.read_at(0, size))


def _field_metadata(fields: Any, prefix: str = "") -> Iterator[MetadataEntry]:
    stack = [(prefix, f) for f in fields]
    seen = 0
    while stack and seen < 100_000:
        path, item = stack.pop()
        seen += 1
        name = f"{path}.{item.name}" if path else str(item.name)
        for key, value in (item.metadata or {}).items():
            yield MetadataEntry(f"column {name}", key.decode("utf-8", "replace"), bytes(value))
        kind = item.type
        children = [kind.field(i) for i in range(getattr(kind, "num_fields", 0) or 0)]
        value_field = getattr(kind, "value_field", None)
        if value_field is not None:
            children.append(value_field)
        stack.extend((name, child) for child in children)


def _schema_entries(schema: Any, scope: str) -> list[MetadataEntry]:
    entries = [
        MetadataEntry(scope, k.decode("utf-8", "replace"), bytes(v))
        for k, v in (schema.metadata or {}).items()
    ]
    return entries + list(_field_metadata(schema))


def _sample_table(table: Any, limits: SampleLimits, pa: Any) -> Sample:
    sample = Sample([])
    rows = min(table.num_rows, limits.max_rows)
    sample.truncated = rows < table.num_rows
    table = table.slice(0, rows)
    sample.rows = rows
    for index, name in enumerate(table.column_names[: limits.max_columns]):
        column = table.column(index)
        kind = column.type
        if pa.types.is_dictionary(kind):
            column = column.cast(kind.value_type)
            kind = kind.value_type
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)
                or pa.types.is_integer(kind)):  # fmt: skip
            continue
        target = Column(str(name))
        for row, value in enumerate(column.to_pylist()):
            if value is not None and str(value).strip():
                target.cells.append((row + 1, str(value)[: limits.max_cell_chars]))
        sample.columns.append(target)
    return sample


def _plain_columns(schema: Any, pa: Any) -> list[str]:
    names = []
    for item in schema:
        kind = item.type
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_integer(kind):
            names.append(item.name)
    return names


def _check_footer(blob: Blob) -> None:
    size = blob.size or 0
    tail = blob.read_at(max(0, size - 8), 8)
    if size < 12 or len(tail) < 8 or tail[4:] != b"PAR1":
        raise MalformedInputError("not a complete Parquet file (no PAR1 footer)")
    (length,) = struct.unpack("<I", tail[:4])
    if length > size - 12:
        raise MalformedInputError(f"footer declares {length} bytes, more than the file holds")
    if length > MAX_FOOTER_BYTES:
        raise AnalysisLimitError("parquet-footer", f"footer of {length} bytes")


def read_parquet(blob: Blob, limits: SampleLimits) -> Columnar:
    """Metadata (file key-value, Arrow schema, columns) and a sample of the first row group."""
    pa = _pyarrow()
    import pyarrow.parquet as pq

    _check_footer(blob)
    try:
        parquet = pq.ParquetFile(_source(pa, blob, limits.max_bytes * 32))
        meta = parquet.metadata
        result = Columnar(rows=meta.num_rows)
        raw = meta.metadata or {}
        result.metadata = [
            MetadataEntry("file", k.decode("utf-8", "replace"), bytes(v)) for k, v in raw.items()
        ]
        encoded = raw.get(b"ARROW:schema")
        if encoded:
            schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(encoded)))
            result.metadata += _schema_entries(schema, "schema")
        if meta.num_row_groups == 0:
            return result
        group = meta.row_group(0)
        if group.total_byte_size > MAX_ROW_GROUP_BYTES:
            result.sample.problems.append(
                f"first row group declares {group.total_byte_size} bytes; rows not sampled"
            )
            return result
        columns = _plain_columns(parquet.schema_arrow, pa)
        if columns:
            table = parquet.read_row_group(0, columns=columns)
            result.sample = _sample_table(table, limits, pa)
            result.sample.truncated = result.sample.truncated or meta.num_row_groups > 1
        return result
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, OSError) as exc:
        raise MalformedInputError(f"Parquet: {exc}") from None


def read_arrow(blob: Blob, limits: SampleLimits) -> Columnar:
    """Schema metadata and a sample of the first record batch of an Arrow IPC file."""
    pa = _pyarrow()
    try:
        reader = pa.ipc.open_file(_source(pa, blob, limits.max_bytes * 32))
        first = reader.get_batch(0) if reader.num_record_batches else None
        return _columnar(reader.schema, first, reader.num_record_batches > 1, limits, pa)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, OSError) as exc:
        raise MalformedInputError(f"Arrow IPC: {exc}") from None


def read_arrow_stream(blob: Blob, limits: SampleLimits) -> Columnar:
    """The same from an Arrow IPC *stream* (Hugging Face ``datasets`` files, cache files)."""
    pa = _pyarrow()
    try:
        reader = pa.ipc.open_stream(_source(pa, blob, limits.max_bytes * 32))
        first = _next_batch(reader)
        more = first is not None and _next_batch(reader) is not None
        return _columnar(reader.schema, first, more, limits, pa)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, OSError) as exc:
        raise MalformedInputError(f"Arrow IPC stream: {exc}") from None


def _next_batch(reader: Any) -> Any:
    try:
        return reader.read_next_batch()
    except StopIteration:
        return None


def _columnar(schema: Any, first: Any, more: bool, limits: SampleLimits, pa: Any) -> Columnar:
    """Schema metadata and a sample of ``first`` (``more``: other batches were not sampled)."""
    result = Columnar(metadata=_schema_entries(schema, "schema"))
    if first is not None:
        table = pa.Table.from_batches([first]).select(_plain_columns(schema, pa))
        result.sample = _sample_table(table, limits, pa)
        result.sample.truncated = result.sample.truncated or more
    return result


def is_py_extension(entries: list[MetadataEntry], scope: str) -> bool:
    """Whether a column's metadata declares the pickled Python extension type."""
    return any(
        e.scope == scope and e.key == _EXTENSION_NAME.decode() and e.value == PY_EXTENSION_TYPE
        for e in entries
    )


def pickled_values(entries: list[MetadataEntry]) -> Iterator[tuple[MetadataEntry, bytes, bool]]:
    """Metadata values that are pickles: (entry, pickle bytes, whether it was base64)."""
    seen: set[tuple[str, bytes]] = set()
    for entry in entries:
        candidates = [(entry.value, False)]
        text = entry.value.strip()
        # NOTE: base64 of the PROTO opcode and protocols 1-5: "gAE", "gAJ", "gAN", "gAS", "gAU".
        if entry.key != "ARROW:schema" and text.startswith(_B64_PROTO):
            try:
                candidates.append((base64.b64decode(text, validate=True), True))
            except ValueError:
                pass
        for value, encoded in candidates:
            if len(value) >= 2 and value[0] == 0x80 and 1 <= value[1] <= 5:
                identity = (entry.key, value[:4096])
                if identity not in seen:
                    seen.add(identity)
                    yield entry, value, encoded
