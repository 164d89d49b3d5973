"""Reporters: the same result and verdict for people (table, Markdown, HTML) and machines
(JSON, SARIF, JUnit).

>>> from bastion.report import OutputFormat, reporter_for
>>> reporter_for(OutputFormat.JSON).name
'json'
"""

from __future__ import annotations

import importlib
from enum import Enum

from bastion.report.interface import Reporter, ReportInput


class OutputFormat(str, Enum):
    """The ``--format`` choices."""

    TABLE = "table"
    JSON = "json"
    SARIF = "sarif"
    JUNIT = "junit"
    MARKDOWN = "markdown"
    HTML = "html"


#: Where each format's reporter lives; imported when asked for (HTML pulls in Jinja2).
_REPORTERS: dict[OutputFormat, tuple[str, str]] = {
    OutputFormat.TABLE: ("bastion.report.console", "ConsoleReporter"),
    OutputFormat.JSON: ("bastion.report.json_report", "JsonReporter"),
    OutputFormat.SARIF: ("bastion.report.sarif", "SarifReporter"),
    OutputFormat.JUNIT: ("bastion.report.junit", "JunitReporter"),
    OutputFormat.MARKDOWN: ("bastion.report.markdown", "MarkdownReporter"),
    OutputFormat.HTML: ("bastion.report.html", "HtmlReporter"),
}


def reporter_for(fmt: OutputFormat) -> Reporter:
    """The reporter of a format."""
    module, name = _REPORTERS[fmt]
    cls: type[Reporter] = getattr(importlib.import_module(module), name)
    return cls()


__all__ = ["OutputFormat", "ReportInput", "Reporter", "reporter_for"]
