"""A bounded sample of a data file's cells, by column, and how to read CSV/TSV and JSON Lines into
one.

>>> sample = read_csv("email,score\\nana@corp.io,3\\n", delimiter=",")
>>> sample.columns[0].name, sample.columns[0].cells
('email', [(2, 'ana@corp.io')])

Bounds (:data:`SampleLimits`): bytes read from the start of the file, rows, characters per cell
(longer cells are cut; checks see the start), columns. Line numbers are physical lines of the
file (a quoted cell can span several), so findings point at the row.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

_FIELD_LIMIT = 1 << 20


@dataclass(frozen=True)
class SampleLimits:
    """How much of a data file is looked at."""

    max_bytes: int = 8 * 1024 * 1024
    max_rows: int = 20_000
    max_cell_chars: int = 4096
    max_columns: int = 1024


@dataclass
class Column:
    """One column's name and sampled non-empty cells as (line, text)."""

    name: str
    cells: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class Sample:
    """What was read, and what was left out (for the skip record)."""

    columns: list[Column]
    rows: int = 0
    problems: list[str] = field(default_factory=list)
    truncated: bool = False

    def column(self, index: int, name: str | None = None) -> Column:
        """The column at ``index``, created on first use."""
        while len(self.columns) <= index:
            self.columns.append(Column(f"column {len(self.columns) + 1}"))
        if name is not None:
            self.columns[index].name = name
        return self.columns[index]


def _looks_like_header(row: list[str]) -> bool:
    from bastion.scan.notebooks.pii import find_personal_data

    cells = [c.strip() for c in row]
    if not cells or not all(cells):
        return False
    if any(_is_number(c) for c in cells):
        return False
    return not any(find_personal_data(c, limit=1) for c in cells)


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True


def sniff_delimiter(text: str, default: str) -> str:
    """The delimiter of a CSV head (``,`` ``;`` tab ``|``), or ``default``."""
    try:
        return csv.Sniffer().sniff(text[:16384], delimiters=",;\t|").delimiter
    except csv.Error:
        return default


def _physical_rows(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(first line of the row, cells) for each CSV row; stops quietly at a broken field."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    previous = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        yield previous + 1, row
        previous = reader.line_num


def read_csv(text: str, delimiter: str, limits: SampleLimits | None = None) -> Sample:
    """Cells of a CSV/TSV text by column (first row is a header when it looks like one)."""
    limits = limits or SampleLimits()
    sample = Sample([])
    old_limit = csv.field_size_limit()
    csv.field_size_limit(_FIELD_LIMIT)
    try:
        rows = _physical_rows(text, delimiter)
        first = True
        while True:
            try:
                line, row = next(rows)
            except StopIteration:
                break
            except csv.Error as exc:
                sample.problems.append(f"CSV rows after line {sample.rows + 1} unreadable: {exc}")
                break
            if first:
                first = False
                if _looks_like_header(row):
                    for index, name in enumerate(row[: limits.max_columns]):
                        sample.column(index, name.strip())
                    continue
            _add_row(sample, line, enumerate(row), limits)
            if sample.rows >= limits.max_rows:
                sample.truncated = True
                break
    finally:
        csv.field_size_limit(old_limit)
    return sample


def _add_row(
    sample: Sample, line: int, cells: Iterable[tuple[int, str]], limits: SampleLimits
) -> None:
    sample.rows += 1
    for index, cell in cells:
        if index >= limits.max_columns:
            if "columns" not in " ".join(sample.problems):
                sample.problems.append(f"only the first {limits.max_columns} columns were checked")
            break
        if cell and cell.strip():
            sample.column(index).cells.append((line, cell[: limits.max_cell_chars]))


def _flatten(value: object, prefix: str, out: dict[str, str], depth: int = 0) -> None:
    if isinstance(value, dict) and depth < 3:
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else str(key), out, depth + 1)
    elif isinstance(value, list):
        out[prefix] = " ".join(str(v) for v in value[:64] if isinstance(v, str | int | float))
    elif isinstance(value, str | int | float) and not isinstance(value, bool):
        out[prefix] = str(value)


def read_jsonl(text: str, limits: SampleLimits | None = None) -> Sample:
    """Fields of JSON Lines objects by key path (``user.email``); arrays joined as text."""
    limits = limits or SampleLimits()
    sample = Sample([])
    index_of: dict[str, int] = {}
    invalid = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        try:
            value = json.loads(line)
        except (ValueError, RecursionError):
            invalid += 1
            continue
        flat: dict[str, str] = {}
        _flatten(value if isinstance(value, dict) else {"value": value}, "", flat)
        cells = []
        for key, cell in flat.items():
            if key not in index_of:
                if len(index_of) >= limits.max_columns:
                    continue
                index_of[key] = len(index_of)
                sample.column(index_of[key], key)
            cells.append((index_of[key], cell))
        _add_row(sample, number, sorted(cells), limits)
        if sample.rows >= limits.max_rows:
            sample.truncated = True
            break
    if invalid:
        sample.problems.append(f"{invalid} line(s) are not JSON and were not checked")
    return sample
