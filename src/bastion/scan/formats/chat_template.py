"""Chat templates wherever models ship them: GGUF metadata, tokenizer configs, ``.jinja`` files.

:func:`report_template` turns what :func:`~bastion.scan.formats.template_inspect.inspect_template`
finds in one template into ``BST-TPL`` findings (one per rule and template, listing every piece
of evidence). The GGUF analyzer calls it for ``tokenizer.chat_template`` and
``tokenizer.chat_template.<name>``; the two analyzers here claim, by name and content shape,
the Hugging Face files that carry templates:

* ``tokenizer_config.json`` and ``chat_template.json`` (key ``chat_template``: a string, or a
  list of ``{"name", "template"}`` objects) as format ``hf-tokenizer-config``;
* ``*.jinja`` files (``chat_template.jinja``, ``additional_chat_templates/*.jinja``) as format
  ``jinja-template``.

Templates are parsed, never rendered.
"""

from __future__ import annotations

import json
import posixpath
from typing import Any

from bastion.core import ArtifactKind, SkipReason
from bastion.errors import MalformedInputError
from bastion.rules import Rule
from bastion.scan.blob import Blob
from bastion.scan.formats import chat_template_rules as R
from bastion.scan.formats.template_inspect import (
    MAX_TEMPLATE_CHARS,
    Check,
    TemplateIssue,
    inspect_template,
    oversized,
)
from bastion.scan.interface import AnalysisContext, Analyzer

#: The rule each kind of template issue is reported under.
RULE_OF: dict[Check, Rule] = {
    Check.INTERNALS: R.INTERNALS,
    Check.REFLECTION: R.REFLECTION,
    Check.GLOBALS: R.GLOBALS,
    Check.COMMAND: R.COMMAND,
    Check.INCLUSION: R.INCLUSION,
    Check.RESOURCES: R.RESOURCES,
    Check.SYNTAX: R.SYNTAX,
}
CONFIG_NAMES = frozenset({"tokenizer_config.json", "chat_template.json"})
#: Tokenizer configs larger than this are not parsed (real ones are at most a few MiB).
MAX_CONFIG_BYTES = 64 << 20
_EVIDENCE_ITEMS = 8


def report_template(
    ctx: AnalysisContext,
    source: str | None,
    label: str,
    *,
    length: int | None = None,
    offset: int | None = None,
) -> None:
    """Inspect one template and report its issues, one finding per rule.

    ``label`` names the template inside the artifact (``tokenizer.chat_template``,
    ``chat_template[tool_use]``); findings sit on a child location of that name, so their line
    numbers are lines of the template (``offset``, where the template starts in the file, goes
    to the finding's properties). ``source`` is ``None`` when the template was too large to
    read; ``length`` then gives its size.
    """
    where = ctx.child(label)
    size = len(source) if source is not None else (length or 0)
    where.record("chat-template", ArtifactKind.CONFIG, size)
    if source is None or len(source) > MAX_TEMPLATE_CHARS:
        issues: tuple[TemplateIssue, ...] = (oversized(size),)
    else:
        issues = inspect_template(source)
    report_issues(where, issues, label, file_offset=offset)


def report_issues(
    ctx: AnalysisContext,
    issues: tuple[TemplateIssue, ...],
    label: str,
    *,
    file_offset: int | None = None,
) -> None:
    """Group issues by rule and report one finding per rule (worst severity of the group)."""
    groups: dict[Check, list[TemplateIssue]] = {}
    for issue in issues:
        groups.setdefault(issue.check, []).append(issue)
    for check, items in groups.items():
        rule = RULE_OF[check]
        severity = max(i.severity or rule.severity for i in items)
        worst = [i for i in items if (i.severity or rule.severity) == severity]
        first = worst[0]
        confidence = max(i.confidence or rule.confidence for i in worst)
        evidence = sorted({i.evidence for i in items})
        more = [e for e in evidence if e != first.evidence][:_EVIDENCE_ITEMS]
        extra = f"; also: {', '.join(more)}" if more else ""
        at = f" (line {first.line})" if first.line else ""
        ctx.report(
            rule.finding(
                ctx.location(line=first.line),
                f"{label}{at}: {first.message}{extra}.",
                evidence=", ".join(evidence[: _EVIDENCE_ITEMS + 1]),
                severity=severity,
                confidence=confidence,
                properties={
                    "template": label,
                    "file_offset": file_offset,
                    "issues": [
                        {"evidence": i.evidence, "line": i.line, "message": i.message}
                        for i in items
                    ],
                },
            )
        )


class _Keys(dict[str, Any]):
    """A JSON object that remembers every value of a repeated key."""

    repeated: dict[str, list[Any]]


def _object(pairs: list[tuple[str, Any]]) -> _Keys:
    obj = _Keys()
    obj.repeated = {}
    for key, value in pairs:
        if key in obj:
            obj.repeated.setdefault(key, [obj[key]]).append(value)
        obj[key] = value
    return obj


class TokenizerConfigAnalyzer(Analyzer):
    """``tokenizer_config.json`` / ``chat_template.json``: every chat template they carry."""

    name = "hf-tokenizer-config"
    formats = ("hf-tokenizer-config",)
    rules = R.TEMPLATE_RULES
    kind = ArtifactKind.CONFIG

    @classmethod
    def sniff(cls, head: bytes, name: str) -> str | None:
        """Claim the Hugging Face files that hold chat templates, when they look like JSON."""
        if posixpath.basename(name).lower() in CONFIG_NAMES and head.lstrip()[:1] == b"{":
            return "hf-tokenizer-config"
        return None

    def analyze(self, blob: Blob, ctx: AnalysisContext) -> None:
        """Parse the JSON (bounded) and inspect ``chat_template`` in all its shapes."""
        limit = min(ctx.limits.max_json_bytes, MAX_CONFIG_BYTES)
        raw = blob.read_at(0, limit + 1)
        if len(raw) > limit:
            ctx.skip(SkipReason.TOO_LARGE, f"tokenizer config larger than {limit} bytes")
            return
        try:
            root = json.loads(raw.decode("utf-8"), object_pairs_hook=_object)
        except RecursionError as exc:
            raise MalformedInputError("JSON nests too deeply") from exc
        except (UnicodeDecodeError, ValueError) as exc:
            raise MalformedInputError(f"not a JSON document: {exc}") from exc
        if not isinstance(root, _Keys) or "chat_template" not in root:
            return
        values = root.repeated.get("chat_template", [root["chat_template"]])
        if len(values) > 1:
            _malformed(ctx, f"'chat_template' appears {len(values)} times", "repeated key")
        for copy, value in enumerate(values):
            suffix = f"#{copy + 1}" if len(values) > 1 else ""
            self._entry(ctx, value, suffix)

    def _entry(self, ctx: AnalysisContext, value: object, suffix: str) -> None:
        if value is None:
            return
        if isinstance(value, str):
            report_template(ctx, value, f"chat_template{suffix}")
            return
        if not isinstance(value, list):
            kind = type(value).__name__
            _malformed(ctx, f"'chat_template' is a {kind}, not a string or list", f"{kind} value")
            return
        names: set[str] = set()
        for index, item in enumerate(value):
            ctx.deadline.check()
            if not (
                isinstance(item, dict)
                and isinstance(item.get("name"), str)
                and isinstance(item.get("template"), str)
            ):
                _malformed(
                    ctx, f"chat_template[{index}] is not a {{name, template}} object", "bad item"
                )
                continue
            name = item["name"]
            if name in names:
                _malformed(ctx, f"template name {name!r} is used twice", f"duplicate {name}")
            names.add(name)
            report_template(ctx, item["template"], f"chat_template[{name}]{suffix}")


def _malformed(ctx: AnalysisContext, message: str, evidence: str) -> None:
    ctx.report(R.MALFORMED.finding(ctx.location(), f"{ctx.name}: {message}.", evidence=evidence))


class JinjaTemplateAnalyzer(Analyzer):
    """Standalone ``.jinja`` template files (``chat_template.jinja`` and friends)."""

    name = "jinja-template"
    formats = ("jinja-template",)
    rules = R.TEMPLATE_RULES
    kind = ArtifactKind.CONFIG

    @classmethod
    def sniff(cls, head: bytes, name: str) -> str | None:
        """Claim ``*.jinja`` files whose bytes are text."""
        if not name.lower().endswith(".jinja") or b"\x00" in head:
            return None
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:
                return None
        return "jinja-template"

    def analyze(self, blob: Blob, ctx: AnalysisContext) -> None:
        """Inspect the file as one template; findings carry its line numbers."""
        limit = MAX_TEMPLATE_CHARS * 4  # UTF-8 needs at most four bytes per character
        if blob.size is not None and blob.size > limit:
            report_issues(ctx, (oversized(blob.size),), ctx.name)
            return
        raw = blob.read_at(0, limit + 1)
        try:
            source = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedInputError(f"template is not UTF-8 (byte {exc.start})") from exc
        issues = inspect_template(source)
        report_issues(ctx, issues, ctx.name)


__all__ = [
    "JinjaTemplateAnalyzer",
    "TokenizerConfigAnalyzer",
    "report_issues",
    "report_template",
]
