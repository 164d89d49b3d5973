"""Static inspection of Jinja chat templates for server-side template injection and abuse.

A chat template is Jinja code that inference servers render on every request (Hugging Face
``transformers``, llama.cpp front ends, ``llama-cpp-python``, vLLM…). Rendered outside a
sandbox, a template that walks ``().__class__.__base__.__subclasses__()`` runs any Python it
likes (CVE-2024-34359, "Llama Drama"); even inside one, templates can exhaust the server. The
template is parsed with Jinja's own parser (plain and sandboxed environments, with the
extensions ``transformers`` enables) and the syntax tree is walked; nothing is ever rendered.

>>> sorted({i.check.value for i in inspect_template("{{ cycler.__init__.__globals__.os }}")})
['command', 'globals', 'internals']
>>> inspect_template("{% for m in messages %}{{ m['content'] }}{% endfor %}")
()
"""

from __future__ import annotations

from bastion.scan.formats.template_checks import Inspector
from bastion.scan.formats.template_env import ParseOutcome, parse_template
from bastion.scan.formats.template_walk import Check, TemplateIssue

__all__ = ["MAX_TEMPLATE_CHARS", "Check", "TemplateIssue", "inspect_template"]

#: Templates longer than this are not parsed (real ones are a few KiB to a few tens of KiB).
MAX_TEMPLATE_CHARS = 1 << 20


def inspect_template(source: str) -> tuple[TemplateIssue, ...]:
    """Every problem found in ``source``, one per kind of evidence, in template order.

    Never raises for bad templates: a template that does not parse is itself an issue.
    """
    if len(source) > MAX_TEMPLATE_CHARS:
        return (oversized(len(source)),)
    outcome = parse_template(source)
    issues = _syntax_issues(outcome)
    if outcome.tree is not None:
        try:
            issues.extend(Inspector(outcome.tree).run())
        except RecursionError:
            issues.append(
                TemplateIssue(
                    Check.RESOURCES,
                    "template nests too deeply to be inspected",
                    "nesting exhausts the parser",
                    None,
                )
            )
    unique: dict[tuple[Check, str], TemplateIssue] = {}
    for issue in sorted(issues, key=lambda i: (i.line or 0, i.check.value, i.evidence)):
        unique.setdefault((issue.check, issue.evidence), issue)
    return tuple(unique.values())


def oversized(length: int) -> TemplateIssue:
    """The issue for a template too large to be parsed."""
    return TemplateIssue(
        Check.RESOURCES,
        f"template of {length} characters is too large to be a chat template (not parsed)",
        "oversized template",
        None,
    )


def _syntax_issues(outcome: ParseOutcome) -> list[TemplateIssue]:
    issues: list[TemplateIssue] = []
    for error in outcome.errors:
        if error.too_deep:
            issues.append(
                TemplateIssue(
                    Check.RESOURCES,
                    f"template nests too deeply for the {error.environment} parser",
                    "nesting exhausts the parser",
                    error.line,
                )
            )
        else:
            issues.append(
                TemplateIssue(
                    Check.SYNTAX,
                    f"the {error.environment} Jinja parser rejects the template: {error.message}",
                    f"syntax error ({error.environment})",
                    error.line,
                )
            )
    return issues
