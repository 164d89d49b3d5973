"""Analyzers for data files: CSV/TSV and JSON Lines (``csv``, ``jsonl``), Parquet and Arrow IPC
files and streams (``parquet``, ``arrow``, ``arrow-stream``).

Each reads a bounded sample (:class:`~bastion.scan.data.sample.SampleLimits`) and reports
personal data columns and, for CSV, formula cells. Parquet and Arrow metadata is searched for
pickles, which are dispatched to the pickle analyzer, and sampled text cells of those binary
files are searched for secrets; CSV and JSON Lines files are text, so the secrets analyzer
(registered for every text file) already reads them whole. A sample smaller than the file is
recorded as a skip saying how much was checked.
"""

from __future__ import annotations

import posixpath

from bastion.core import ArtifactKind, Severity, SkipReason
from bastion.scan.blob import Blob, BytesBlob
from bastion.scan.code.source import read_text
from bastion.scan.data.checks import formula_columns, personal_data_columns
from bastion.scan.data.columnar import (
    Columnar,
    is_py_extension,
    pickled_values,
    read_arrow,
    read_arrow_stream,
    read_parquet,
)
from bastion.scan.data.rules import (
    DATA_RULES,
    FORMULA_INJECTION,
    METADATA_PICKLE,
    PERSONAL_DATA_COLUMN,
    PY_EXTENSION_TYPE,
)
from bastion.scan.data.sample import Sample, SampleLimits, read_csv, read_jsonl, sniff_delimiter
from bastion.scan.interface import AnalysisContext, Analyzer
from bastion.scan.secrets.scanner import TextKind, find_secrets

#: Secret findings reported per binary data file.
MAX_SECRET_FINDINGS = 50


def _report_columns(ctx: AnalysisContext, sample: Sample, *, formulas: bool, lines: bool) -> None:
    """Personal data (and formula) findings; ``lines``: cell positions are text lines, not rows."""
    where = "line" if lines else "row"
    for hit in personal_data_columns(sample.columns, ctx.deadline.check):
        ctx.report(
            PERSONAL_DATA_COLUMN.finding(
                ctx.location(line=hit.line if lines else None),
                f"Column '{hit.column}' holds {hit.label}: {hit.count} of {hit.checked} sampled "
                f"cells (first on {where} {hit.line}, masked: {hit.evidence}).",
                evidence=f"column {hit.column}: {hit.kind}",
                severity=hit.severity,
                properties={"column": hit.column, "kind": hit.kind, "cells": hit.count},
            )
        )
    if not formulas:
        return
    for column in formula_columns(sample.columns):
        risky = ", calling network or command functions" if column.dangerous else ""
        ctx.report(
            FORMULA_INJECTION.finding(
                ctx.location(line=column.line),
                f"{column.count} cell(s) of column '{column.column}' are formulas a spreadsheet "
                f"evaluates on opening{risky}, e.g. {column.example!r}.",
                evidence=f"column {column.column}: {column.example[:40]}",
                severity=Severity.MEDIUM if column.dangerous else None,
                properties={"column": column.column, "cells": column.count},
            )
        )


def _report_limits(ctx: AnalysisContext, sample: Sample, extent: str) -> None:
    """A skip saying how much of the file was checked, when it was not all of it."""
    problems = list(sample.problems)
    if sample.truncated:
        problems.insert(0, f"sampled the first {sample.rows} row(s) {extent}".rstrip())
    if problems:
        ctx.skip(SkipReason.LIMIT, "; ".join(problems), format=ctx.format)


class TabularDataAnalyzer(Analyzer):
    """CSV/TSV and JSON Lines: personal data columns and (CSV) spreadsheet formulas."""

    name = "data-text"
    formats = ("csv", "jsonl")
    rules = DATA_RULES
    kind = ArtifactKind.DATASET

    def analyze(self, blob: Blob, ctx: AnalysisContext) -> None:
        """Sample the file's rows and check its columns."""
        limits = SampleLimits()
        source = read_text(blob, limits.max_bytes)
        text = source.text
        if source.truncated:
            text = text[: text.rfind("\n") + 1] or text  # a cut row is not a row
        if ctx.format == "jsonl":
            sample = read_jsonl(text, limits)
            if sample.rows == 0 and text.strip():
                ctx.skip(SkipReason.MALFORMED, "no JSON object on any line", format=ctx.format)
                return
        else:
            default = "\t" if posixpath.splitext(ctx.name.lower())[1] == ".tsv" else ","
            sample = read_csv(text, sniff_delimiter(text, default), limits)
        _report_columns(ctx, sample, formulas=ctx.format == "csv", lines=True)
        read = len(text.encode("utf-8", "replace"))
        if blob.size is not None and read < blob.size:
            sample.truncated = True
        _report_limits(ctx, sample, f"({read} of {blob.size} bytes)")


class ColumnarDataAnalyzer(Analyzer):
    """Parquet and Arrow IPC: pickles in metadata, pickled extension types, personal data columns
    and secrets in a sample of the first rows.
    """

    name = "data-columnar"
    formats = ("parquet", "arrow", "arrow-stream")
    rules = DATA_RULES
    kind = ArtifactKind.DATASET

    def analyze(self, blob: Blob, ctx: AnalysisContext) -> None:
        """Read metadata and a row sample with pyarrow; dispatch hidden pickles."""
        limits = SampleLimits()
        readers = {"parquet": read_parquet, "arrow": read_arrow, "arrow-stream": read_arrow_stream}
        reader = readers[ctx.format]
        data = reader(blob, limits)
        self._metadata(ctx, data)
        _report_columns(ctx, data.sample, formulas=False, lines=False)
        self._secrets(ctx, data.sample)
        total = f"of {data.rows}" if data.rows is not None else ""
        _report_limits(ctx, data.sample, total)

    def _metadata(self, ctx: AnalysisContext, data: Columnar) -> None:
        entries = data.metadata
        extension_scopes = {e.scope for e in entries if is_py_extension(entries, e.scope)}
        for scope in sorted(extension_scopes):
            ctx.report(
                PY_EXTENSION_TYPE.finding(
                    ctx.location(),
                    f"{scope} is an arrow.py_extension_type: its type is a pickle that pyarrow "
                    "0.14–14.0.0 unpickles when the file is read (CVE-2023-47248).",
                    evidence=f"{scope} arrow.py_extension_type",
                )
            )
            for entry in data.metadata:
                if entry.scope == scope and entry.key == "ARROW:extension:metadata":
                    ctx.dispatch(BytesBlob(entry.value), f"<{ctx.format}-metadata:{scope}>")
        for entry, value, encoded in pickled_values(data.metadata):
            if entry.scope in extension_scopes and entry.key == "ARROW:extension:metadata":
                continue
            how = "base64-encoded pickle" if encoded else "pickle"
            member = f"<{ctx.format}-metadata:{entry.key}>"
            ctx.report(
                METADATA_PICKLE.finding(
                    ctx.location(),
                    f"Metadata key '{entry.key}' ({entry.scope}) holds a {how} of {len(value)} "
                    f"bytes; it is analyzed as {member}.",
                    evidence=f"{entry.scope} {entry.key} pickle",
                )
            )
            ctx.dispatch(BytesBlob(value), member)

    def _secrets(self, ctx: AnalysisContext, sample: Sample) -> None:
        reported = 0
        for column in sample.columns:
            for row, cell in column.cells:
                if len(cell) < 8 or cell.isdigit():
                    continue  # NOTE: numbers and short codes: no token format is that short
                for hit in find_secrets(cell, kind=TextKind.PROSE, check=ctx.deadline.check):
                    reported += 1
                    if reported > MAX_SECRET_FINDINGS:
                        return
                    ctx.report(
                        hit.rule.finding(
                            ctx.location(),
                            f"{hit.label[0].upper()}{hit.label[1:]} in column '{column.name}', "
                            f"row {row} (value redacted).",
                            evidence=hit.evidence,
                        )
                    )
