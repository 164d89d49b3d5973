"""The reporter extension point: a result and its verdict in, one document out.

Reporters render; they never decide, filter or write files themselves (the CLI opens the output
lazily, so a failed run leaves no empty report behind).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from bastion import __version__
from bastion.core import ScanResult
from bastion.policy.evaluate import Verdict
from bastion.registry import Registry


@dataclass(frozen=True)
class ReportInput:
    """What every reporter receives."""

    result: ScanResult
    verdict: Verdict
    registry: Registry
    tool_version: str = __version__


class Reporter(ABC):
    """Renders a :class:`ReportInput` as text (JSON, SARIF, Markdown, HTML…)."""

    #: The ``--format`` name.
    name: str

    @abstractmethod
    def render(self, report: ReportInput) -> str:
        """The whole document."""
