"""The secrets analyzer, run on every text file, and helpers the other text analyzers share
(secret findings with locations, reading problems reported as skips).
"""

from __future__ import annotations

from bastion.core import ArtifactKind, Finding, SkipReason
from bastion.scan.blob import Blob
from bastion.scan.code.rules import SUPPRESSION_NO_REASON
from bastion.scan.code.source import LineIndex, TextFile, read_text
from bastion.scan.code.suppress import directive_findings, parse_directives
from bastion.scan.detect import text_format
from bastion.scan.interface import AnalysisContext, Analyzer
from bastion.scan.secrets.rules import SECRET_RULES
from bastion.scan.secrets.scanner import LONG_LINE_KEEP, TextKind, find_secrets, long_lines


def secret_findings(
    ctx: AnalysisContext,
    text: str,
    kind: TextKind,
    index: LineIndex,
    *,
    line_offset: int = 0,
    cell: int | None = None,
) -> list[Finding]:
    """Findings for the secrets in a text; evidence is redacted, messages name only the kind."""
    findings = []
    for hit in find_secrets(text, kind=kind, check=ctx.deadline.check):
        line, column = index.position(hit.start)
        label = hit.label[0].upper() + hit.label[1:]
        findings.append(
            hit.rule.finding(
                ctx.location(line=line + line_offset, column=column, cell=cell),
                f"{label} in the text (value redacted).",
                evidence=hit.evidence,
            )
        )
    return findings


def report_text_problems(ctx: AnalysisContext, source: TextFile) -> None:
    """Skips for what reading left out (truncation, undecodable bytes, enormous lines)."""
    problems = source.problems(ctx.limits.max_text_bytes)
    for line, length in long_lines(source.text)[:3]:
        problems.append(
            f"line {line} is {length} characters long; only its first and last "
            f"{LONG_LINE_KEEP} were searched for secrets"
        )
    if problems:
        reason = SkipReason.MALFORMED if source.undecodable_at is not None else SkipReason.LIMIT
        if source.truncated:
            reason = SkipReason.TOO_LARGE
        ctx.skip(reason, "; ".join(problems), format=ctx.format)


class SecretsAnalyzer(Analyzer):
    """Every text file (detection gives each one the ``text`` format besides its own): hard-coded
    credentials and reason-less suppression comments.

    Notebooks are left to the notebook analyzer, which maps findings to cells. Python sources
    are read as code (only quoted values count as assignments); everything else as configuration
    (``KEY=value`` and ``key: value`` too).
    """

    name = "secrets"
    formats = ("text",)
    rules = (*SECRET_RULES, SUPPRESSION_NO_REASON)
    #: The kind of text files no structural analyzer claims: .env, JSON, TOML, INI, scripts, docs.
    kind = ArtifactKind.CONFIG

    def analyze(self, blob: Blob, ctx: AnalysisContext) -> None:
        """Read the text once; report secrets and reason-less suppression comments."""
        specific = text_format(ctx.name.lower(), blob.head(512))
        if specific == "notebook":
            return
        source = read_text(blob, ctx.limits.max_text_bytes, python=specific == "python")
        report_text_problems(ctx, source)
        kind = TextKind.CODE if specific == "python" else TextKind.CONFIG
        index = LineIndex(source.text)
        ctx.report_all(secret_findings(ctx, source.text, kind, index))
        ctx.report_all(directive_findings(parse_directives(source.text), ctx.location()))
