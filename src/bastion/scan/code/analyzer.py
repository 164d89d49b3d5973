"""The Python analyzer: the ML code rules, by AST, with import aliases resolved.

:func:`check_python` is the reusable core (notebook code cells go through it too); the
:class:`PythonAnalyzer` adds reading the file, locations and skips. Files that mention none of
the names any rule is about are not parsed at all: a substring test is far cheaper than an AST,
and a rule can only fire on a call whose name (or an import of it) is spelled in the file.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bastion.core import ArtifactKind, Finding, SkipReason
from bastion.scan.blob import Blob
from bastion.scan.code import archives, execution, hub, loading, network  # noqa: F401 (checks)
from bastion.scan.code.base import TABLE, Hit, Site
from bastion.scan.code.rules import CODE_RULES
from bastion.scan.code.source import LineIndex, char_column, read_text
from bastion.scan.code.walk import collect
from bastion.scan.interface import AnalysisContext, Analyzer

#: What a file must spell for some rule to be able to fire: each entry is one rule family's
#: prerequisites, all of whose groups need one of their words present (checked before parsing).
#: A call through an alias still spells its module in the import, so aliases are covered.
PREREQUISITES: tuple[tuple[tuple[str, ...], ...], ...] = (
    (("torch",), ("load", "hub")),
    (("pickle", "Pickle", "dill", "shelve", "joblib", "jsonpickle"),),
    (("allow_pickle",),),
    (("yaml",), ("load",)),
    (("trust_remote_code",),),
    (
        (
            "from_pretrained",
            "hf_hub_download",
            "snapshot_download",
            "load_dataset",
            "transformers",
            "SentenceTransformer",
        ),
    ),
    (("system", "popen", "getoutput", "subprocess", "create_subprocess"),),
    (("verify", "ssl", "CERT_NONE", "check_hostname"),),
    (("'http://", '"http://', "http://{"),),
    (("tarfile", "zipfile", "unpack_archive"),),
    (("keras",), ("safe_mode", "unsafe")),
    (("mlflow",),),
    (("share=", "share =", "0.0.0.0", "'::'", '"::"', "Server(", "make_server"),),
)
_DYNAMIC_CODE = re.compile(r"(?<![\w.])(?:eval|exec|compile)\b")


@dataclass(frozen=True)
class CodeResult:
    """What checking one Python text produced."""

    hits: tuple[Hit, ...]
    #: Why the AST could not be built (syntax error), if it could not.
    syntax_error: str | None = None


def worth_parsing(text: str) -> bool:
    """Whether any rule could fire on this text (a few substring tests, no parsing)."""
    for family in PREREQUISITES:
        if all(any(word in text for word in group) for group in family):
            return True
    if "eval" in text or "exec" in text or "compile" in text:
        return _DYNAMIC_CODE.search(text) is not None
    return False


def check_python(text: str, check: Callable[[], None] | None = None) -> CodeResult:
    """Run every code rule on a Python source text."""
    if not worth_parsing(text):
        return CodeResult(())
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        return CodeResult((), f"line {exc.lineno}: {exc.msg}")
    except ValueError as exc:  # NUL bytes inside the source
        return CodeResult((), str(exc))
    if check is not None:
        check()
    facts = collect(tree, tails=TABLE.tails, keywords=TABLE.keywords, refs=network.REFERENCE_NAMES)
    hits: list[Hit] = []
    for number, call in enumerate(facts.calls):
        if check is not None and number % 256 == 255:
            check()
        site = Site(call, facts.qualname(call.node.func, call.scope))
        for rule_check in TABLE.checks_for(site):
            hits.extend(rule_check(site, facts))
    hits.extend(network.tls_references(facts))
    hits.extend(network.tls_assignments(facts))
    unique = {(h.rule.id, h.line, h.col_offset, h.evidence): h for h in hits}
    ordered = sorted(unique.values(), key=lambda h: (h.line, h.col_offset, h.rule.id))
    return CodeResult(tuple(ordered))


def hit_findings(
    ctx: AnalysisContext,
    hits: tuple[Hit, ...],
    index: LineIndex,
    *,
    line_offset: int = 0,
    cell: int | None = None,
    column_shift: Mapping[int, int] | None = None,
) -> list[Finding]:
    """Findings with 1-based line and character column (``line_offset`` shifts into a file,
    ``column_shift`` adds characters cut from the start of given lines)."""
    findings = []
    for hit in hits:
        column = char_column(index.line_text(hit.line), hit.col_offset)
        if column_shift:
            column += column_shift.get(hit.line, 0)
        findings.append(
            hit.rule.finding(
                ctx.location(line=hit.line + line_offset, column=column, cell=cell),
                hit.message,
                evidence=hit.evidence,
                severity=hit.severity,
                confidence=hit.confidence,
            )
        )
    return findings


class PythonAnalyzer(Analyzer):
    """Python sources: the ML code rules (secrets and suppression comments are checked by the
    text analyzer, which every text file also goes through)."""

    name = "python"
    formats = ("python",)
    rules = CODE_RULES
    kind = ArtifactKind.CODE

    def analyze(self, blob: Blob, ctx: AnalysisContext) -> None:
        """Parse the whole file and run the code rules; unparsable files become skips."""
        source = read_text(blob, ctx.limits.max_text_bytes, python=True)
        if source.truncated:
            ctx.skip(
                SkipReason.TOO_LARGE,
                f"{source.size} bytes: larger than the text limit; code rules need the whole "
                "file and were not applied",
                format=ctx.format,
            )
            return
        result = check_python(source.text, ctx.deadline.check)
        if result.syntax_error is not None:
            ctx.skip(
                SkipReason.MALFORMED,
                f"not valid Python 3 ({result.syntax_error}); code rules not applied",
                format=ctx.format,
            )
        ctx.report_all(hit_findings(ctx, result.hits, LineIndex(source.text)))
