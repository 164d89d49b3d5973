"""Reporters: the same result and verdict for people (table, Markdown, HTML) and machines
(JSON, SARIF, JUnit).

>>> from bastion.report import OutputFormat, reporter_for
>>> reporter_for(OutputFormat.JSON).name
'json'
"""

from __future__ import annotations

from enum import Enum

from bastion.report.console import ConsoleReporter
from bastion.report.html import HtmlReporter
from bastion.report.interface import Reporter, ReportInput
from bastion.report.json_report import JsonReporter
from bastion.report.junit import JunitReporter
from bastion.report.markdown import MarkdownReporter
from bastion.report.sarif import SarifReporter


class OutputFormat(str, Enum):
    """The ``--format`` choices."""

    TABLE = "table"
    JSON = "json"
    SARIF = "sarif"
    JUNIT = "junit"
    MARKDOWN = "markdown"
    HTML = "html"


_REPORTERS: dict[OutputFormat, type[Reporter]] = {
    OutputFormat.TABLE: ConsoleReporter,
    OutputFormat.JSON: JsonReporter,
    OutputFormat.SARIF: SarifReporter,
    OutputFormat.JUNIT: JunitReporter,
    OutputFormat.MARKDOWN: MarkdownReporter,
    OutputFormat.HTML: HtmlReporter,
}


def reporter_for(fmt: OutputFormat) -> Reporter:
    """The reporter of a format."""
    return _REPORTERS[fmt]()


__all__ = ["OutputFormat", "ReportInput", "Reporter", "reporter_for"]
