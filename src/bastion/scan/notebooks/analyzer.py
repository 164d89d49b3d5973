"""The notebook analyzer: code rules on code cells, secrets in sources, leaks in saved outputs.

Locations point into the notebook as a person sees it: ``Location.cell`` is the cell index and
``line``/``column`` are 1-based within that cell's source. Findings in a saved output carry the
cell and, in ``properties``, the output index and the line within that output.
"""

from __future__ import annotations

from bastion.core import ArtifactKind, Finding, SkipReason
from bastion.scan.blob import Blob
from bastion.scan.code.analyzer import check_python, hit_findings
from bastion.scan.code.commands import analyze_command
from bastion.scan.code.rules import CODE_RULES, EXPOSED_SERVER, HTTP_DOWNLOAD
from bastion.scan.code.source import LineIndex
from bastion.scan.code.suppress import directive_findings, parse_directives
from bastion.scan.interface import AnalysisContext, Analyzer
from bastion.scan.notebooks.magics import CellCode, split_cell
from bastion.scan.notebooks.parse import Cell, Output, read_notebook
from bastion.scan.notebooks.pii import find_personal_data
from bastion.scan.notebooks.rules import (
    NOTEBOOK_RULES,
    OUTPUT_SECRET,
    PII_RULES,
    TRACEBACK_CREDENTIALS,
    UNPINNED_INSTALL,
)
from bastion.scan.secrets.analyzer import secret_findings
from bastion.scan.secrets.rules import SECRET_RULES
from bastion.scan.secrets.scanner import TextKind, find_secrets

_PYTHON_KERNELS = frozenset({"python", "python2", "python3", "ipython", "ipython3"})


class NotebookAnalyzer(Analyzer):
    """Jupyter notebooks (``.ipynb``)."""

    name = "notebook"
    formats = ("notebook",)
    rules = NOTEBOOK_RULES + CODE_RULES + SECRET_RULES
    kind = ArtifactKind.NOTEBOOK

    def analyze(self, blob: Blob, ctx: AnalysisContext) -> None:
        """Parse the notebook (bounded); check every cell and every saved output."""
        notebook = read_notebook(blob, ctx.limits)
        python = notebook.language in _PYTHON_KERNELS
        if not python:
            ctx.skip(
                SkipReason.UNSUPPORTED,
                f"kernel language {notebook.language!r}: code rules apply to Python only; "
                "secrets and outputs were checked",
                format=ctx.format,
            )
        for cell in notebook.cells:
            ctx.deadline.check()
            self._source(ctx, cell, python)
            for output in cell.outputs:
                ctx.report_all(_output_findings(ctx, cell, output))

    def _source(self, ctx: AnalysisContext, cell: Cell, python: bool) -> None:
        index = LineIndex(cell.source)
        where = ctx.location(cell=cell.index)
        kind = TextKind.CODE if cell.cell_type == "code" else TextKind.PROSE
        secrets = secret_findings(ctx, cell.source, kind, index, cell=cell.index)
        ctx.report_all(secrets)
        ctx.report_all(directive_findings(parse_directives(cell.source), where))
        if cell.cell_type != "code":
            return
        code = split_cell(cell.source)
        ctx.report_all(_command_findings(ctx, cell, code))
        known = {(f.location.line, f.evidence) for f in secrets}
        ctx.report_all(_magic_secrets(ctx, cell, known))
        if python and code.python is not None:
            result = check_python(code.python, ctx.deadline.check)
            if result.syntax_error is not None:
                ctx.skip(
                    SkipReason.MALFORMED,
                    f"cell {cell.index}: not valid Python ({result.syntax_error}); code rules "
                    "not applied to this cell",
                    format=ctx.format,
                )
            lines = LineIndex(code.python)
            shift = code.column_shift
            ctx.report_all(
                hit_findings(ctx, result.hits, lines, cell=cell.index, column_shift=shift)
            )


def _command_findings(ctx: AnalysisContext, cell: Cell, code: CellCode) -> list[Finding]:
    """Unpinned installs, exposed servers and plain-HTTP downloads in shell lines and magics."""
    findings: list[Finding] = []
    for command in code.commands:
        at = ctx.location(line=command.line, column=command.column, cell=cell.index)
        for issue in analyze_command(command.command):
            if issue.kind == "unpinned-install":
                message = (
                    f"Notebook runs '{issue.detail}' without an exact version: every run "
                    "installs whatever the index serves that day."
                )
                findings.append(
                    UNPINNED_INSTALL.finding(at, message, evidence=f"install {issue.subject}")
                )
            elif issue.kind == "exposed-server":
                message = f"Notebook starts {issue.detail}."
                findings.append(EXPOSED_SERVER.finding(at, message, evidence=issue.detail))
            else:
                message = f"Notebook command {issue.detail}."
                findings.append(HTTP_DOWNLOAD.finding(at, message, evidence=issue.detail))
    return findings


def _magic_secrets(
    ctx: AnalysisContext, cell: Cell, known: set[tuple[int | None, str]]
) -> list[Finding]:
    """``%env KEY=value`` / ``!export KEY=value``: unquoted assignments the code scan skips."""
    findings: list[Finding] = []
    for number, line in enumerate(cell.source.split("\n"), start=1):
        stripped = line.lstrip()
        if not stripped.startswith(("%env ", "%set_env ", "!export ")):
            continue
        for hit in find_secrets(stripped.split(" ", 1)[1], kind=TextKind.CONFIG):
            if (number, hit.evidence) in known:
                continue
            column = len(line) - len(stripped) + 1
            label = hit.label[0].upper() + hit.label[1:]
            findings.append(
                hit.rule.finding(
                    ctx.location(line=number, column=column, cell=cell.index),
                    f"{label} set in a magic (value redacted).",
                    evidence=hit.evidence,
                )
            )
    return findings


def _output_findings(ctx: AnalysisContext, cell: Cell, output: Output) -> list[Finding]:
    """Secrets, credentials in tracebacks and personal data in one saved output."""
    if output.truncated:
        ctx.skip(
            SkipReason.TOO_LARGE,
            f"cell {cell.index} output {output.index}: only the first characters were checked",
            format=ctx.format,
        )
    if not output.text:
        return []
    findings: list[Finding] = []
    where = ctx.location(cell=cell.index)
    index = LineIndex(output.text)
    kind = TextKind.CONFIG if output.is_error else TextKind.PROSE
    rule = TRACEBACK_CREDENTIALS if output.is_error else OUTPUT_SECRET
    place = "traceback" if output.is_error else "output"
    for hit in find_secrets(output.text, kind=kind, check=ctx.deadline.check):
        line, _ = index.position(hit.start)
        findings.append(
            rule.finding(
                where,
                f"{hit.label[0].upper()}{hit.label[1:]} in the saved {place} of cell "
                f"{cell.index} (output {output.index}, line {line}; value redacted).",
                evidence=hit.evidence,
                properties={"output": output.index, "output_line": line, "secret": hit.rule.id},
            )
        )
    for item in find_personal_data(output.text):
        line, _ = index.position(item.start)
        findings.append(
            PII_RULES[item.kind].finding(
                where,
                f"{item.kind.upper() if item.kind == 'iban' else item.kind.capitalize()} in the "
                f"saved output of cell {cell.index} (output {output.index}, line {line}; masked).",
                evidence=item.evidence,
                properties={"output": output.index, "output_line": line},
            )
        )
    return findings
