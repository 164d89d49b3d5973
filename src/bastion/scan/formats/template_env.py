"""Parsing chat templates the way inference servers do, without ever rendering them.

``transformers`` compiles chat templates in an immutable sandboxed Jinja environment with
``trim_blocks``, ``lstrip_blocks``, the ``loopcontrols`` extension (``{% break %}``) and its own
``{% generation %}`` block; other servers use a plain ``Environment``. Both parsers are run
here with the same options: a template either one rejects is a template loaders disagree on.
Parsing builds a syntax tree only; no template code runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from jinja2 import Environment, TemplateSyntaxError, nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.parser import Parser
from jinja2.sandbox import ImmutableSandboxedEnvironment


class _GenerationBlock(Extension):
    """Parses ``{% generation %}…{% endgeneration %}`` (the assistant-mask marker) as a scope."""

    tags = {"generation"}  # noqa: RUF012 - jinja2's Extension API declares it this way

    def parse(self, parser: Parser) -> nodes.Node:
        """The block's body, wrapped in a scope node."""
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.Scope(body, lineno=lineno)


_EXTENSIONS = (loopcontrols, _GenerationBlock)


@cache
def _plain() -> Environment:
    return Environment(extensions=list(_EXTENSIONS), trim_blocks=True, lstrip_blocks=True)


@cache
def _sandboxed() -> Environment:
    return ImmutableSandboxedEnvironment(
        extensions=list(_EXTENSIONS), trim_blocks=True, lstrip_blocks=True
    )


@dataclass(frozen=True)
class ParseError:
    """Why one environment could not parse the template."""

    environment: str
    message: str
    line: int | None
    too_deep: bool = False


@dataclass(frozen=True)
class ParseOutcome:
    """The syntax tree (when any parser accepted the template) and every parser's complaint."""

    tree: nodes.Template | None
    errors: tuple[ParseError, ...]


def _parse(env: Environment, name: str, source: str) -> nodes.Template | ParseError:
    try:
        return env.parse(source)
    except TemplateSyntaxError as exc:
        return ParseError(name, exc.message or "invalid syntax", exc.lineno)
    except RecursionError:
        return ParseError(name, "nesting too deep", None, too_deep=True)
    except (MemoryError, ValueError, TypeError, UnicodeError) as exc:
        return ParseError(name, f"{type(exc).__name__}: {exc}", None)


def parse_template(source: str) -> ParseOutcome:
    """Parse with the plain and the sandboxed environment; never raises for bad templates."""
    plain = _parse(_plain(), "plain", source)
    sandboxed = _parse(_sandboxed(), "sandboxed", source)
    tree = next((t for t in (plain, sandboxed) if isinstance(t, nodes.Template)), None)
    errors = [e for e in (plain, sandboxed) if isinstance(e, ParseError)]
    if len(errors) == 2 and (errors[0].message, errors[0].line) == (
        errors[1].message,
        errors[1].line,
    ):
        first = errors[0]
        errors = [ParseError("plain and sandboxed", first.message, first.line, first.too_deep)]
    return ParseOutcome(tree, tuple(errors))
