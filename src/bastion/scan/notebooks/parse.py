"""Reading a Jupyter notebook (nbformat 4, and 3's worksheets) into cells and textual outputs.

The JSON is parsed with the standard library after a size check; anything that is not the shape
of a notebook raises :class:`~bastion.errors.MalformedInputError` with what was wrong, so the
analyzer reports it and the scan goes on. Binary outputs (images) are not kept; textual ones
(stream, ``text/plain``, HTML, JSON, tracebacks without ANSI colours) are, each bounded.

>>> nb = parse_notebook(b'{"nbformat": 4, "cells": [{"cell_type": "code", "source": ["x = 1"],'
...                     b' "outputs": [{"output_type": "stream", "text": "1"}]}]}')
>>> nb.cells[0].source, nb.cells[0].outputs[0].text
('x = 1', '1')
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from bastion.errors import MalformedInputError
from bastion.scan.blob import Blob
from bastion.scan.limits import Limits

#: Each output's text is checked up to this many characters (the rest is reported).
MAX_OUTPUT_CHARS = 1 << 20
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_TEXT_MIMES = (
    "text/plain",
    "text/html",
    "text/markdown",
    "text/latex",
    "application/json",
    "application/javascript",
)
_V3_TEXT_KEYS = ("text", "html", "markdown", "latex", "json", "javascript")


@dataclass(frozen=True)
class Output:
    """One saved output of a cell, as text."""

    index: int
    output_type: str
    text: str
    is_error: bool
    truncated: bool = False


@dataclass(frozen=True)
class Cell:
    """One cell: its type, source and outputs."""

    index: int
    cell_type: str
    source: str
    outputs: tuple[Output, ...] = ()


@dataclass(frozen=True)
class Notebook:
    """A parsed notebook."""

    nbformat: int
    language: str
    cells: tuple[Cell, ...]


def read_notebook(blob: Blob, limits: Limits) -> Notebook:
    """Read (bounded by ``limits.max_json_bytes`` and ``max_text_bytes``) and parse."""
    bound = min(limits.max_json_bytes, limits.max_text_bytes)
    if blob.size is not None and blob.size > bound:
        raise MalformedInputError(f"notebook of {blob.size} bytes exceeds the {bound}-byte limit")
    raw = blob.read_at(0, bound + 1)
    if len(raw) > bound:
        raise MalformedInputError(f"notebook exceeds the {bound}-byte limit")
    return parse_notebook(raw)


def parse_notebook(raw: bytes) -> Notebook:
    """Parse notebook JSON bytes."""
    if b"\x00" in raw[:8192]:
        raise MalformedInputError("binary content in a file named .ipynb; not a notebook")
    try:
        document = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise MalformedInputError(f"not UTF-8 text (byte {exc.start}); not a notebook") from exc
    except json.JSONDecodeError as exc:
        raise MalformedInputError(
            f"invalid notebook JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    if not isinstance(document, dict):
        raise MalformedInputError("notebook JSON is not an object")
    nbformat = document.get("nbformat")
    version = nbformat if isinstance(nbformat, int) else 4
    if isinstance(document.get("cells"), list):
        raw_cells: list[Any] = document["cells"]
    elif isinstance(document.get("worksheets"), list):
        raw_cells = [
            cell
            for sheet in document["worksheets"]
            if isinstance(sheet, dict) and isinstance(sheet.get("cells"), list)
            for cell in sheet["cells"]
        ]
    else:
        raise MalformedInputError("notebook JSON has no 'cells' list (nor nbformat 3 worksheets)")
    cells = tuple(_cell(i, cell) for i, cell in enumerate(raw_cells))
    return Notebook(version, _language(document.get("metadata")), cells)


def cell_sources(blob: Blob, limits: Limits) -> list[str]:
    """The source of every cell, by index (for suppression comments)."""
    return [cell.source for cell in read_notebook(blob, limits).cells]


def _language(metadata: object) -> str:
    """The kernel language (``python`` when the notebook does not say)."""
    if isinstance(metadata, dict):
        spec = metadata.get("kernelspec")
        if isinstance(spec, dict) and isinstance(spec.get("language"), str) and spec["language"]:
            return str(spec["language"]).lower()
        info = metadata.get("language_info")
        if isinstance(info, dict) and isinstance(info.get("name"), str) and info["name"]:
            return str(info["name"]).lower()
    return "python"


def _text(value: object) -> str:
    """nbformat multi-line strings: a string or a list of strings."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(part for part in value if isinstance(part, str))
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return ""


def _cell(index: int, cell: object) -> Cell:
    if not isinstance(cell, dict):
        return Cell(index, "invalid", "")
    cell_type = cell.get("cell_type")
    cell_type = cell_type if isinstance(cell_type, str) else "unknown"
    source = _text(cell.get("source", cell.get("input", "")))
    outputs = cell.get("outputs")
    parsed = (
        tuple(_output(i, o) for i, o in enumerate(outputs)) if isinstance(outputs, list) else ()
    )
    return Cell(index, "code" if cell_type == "code" else cell_type, source, parsed)


def _output(index: int, output: object) -> Output:
    if not isinstance(output, dict):
        return Output(index, "invalid", "", False)
    kind = output.get("output_type")
    kind = kind if isinstance(kind, str) else "unknown"
    parts: list[str] = []
    is_error = kind in {"error", "pyerr"}
    if is_error:
        parts.append(f"{_text(output.get('ename'))}: {_text(output.get('evalue'))}")
        parts.extend(_text(line) for line in output.get("traceback") or () if isinstance(line, str))
    if "text" in output and kind == "stream":
        parts.append(_text(output["text"]))
    data = output.get("data")
    if isinstance(data, dict):
        parts.extend(_text(data[mime]) for mime in _TEXT_MIMES if mime in data)
    elif kind in {"pyout", "display_data"}:
        parts.extend(_text(output[key]) for key in _V3_TEXT_KEYS if key in output)
    text = _ANSI.sub("", "\n".join(p for p in parts if p))
    if not is_error and kind == "stream" and "Traceback (most recent call last)" in text:
        is_error = True
    truncated = len(text) > MAX_OUTPUT_CHARS
    return Output(index, kind, text[:MAX_OUTPUT_CHARS], is_error, truncated)
