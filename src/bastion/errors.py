"""The error hierarchy: every error bastion raises on purpose explains itself.

The CLI catches :class:`BastionError` in one place, prints :meth:`BastionError.diagnostics` and
exits with code 2; anything else is a bug and is shown with its traceback under ``--verbose``.
Analyzers never raise these for bad *input*: hostile files become findings or skips.
"""

from __future__ import annotations


class BastionError(Exception):
    """Root of bastion's errors; the message is written for the person running the command."""

    def diagnostics(self) -> str:
        """A human explanation of what went wrong and, where known, what to do."""
        return str(self)


class ConfigError(BastionError):
    """A policy or configuration file is missing, unreadable or invalid (names the file)."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class UsageError(BastionError):
    """The command line asked for something that cannot be done."""


class MissingDependencyError(BastionError):
    """An optional dependency is needed for this command; says which extra installs it."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the '{package}' package: pip install 'bastion-ml[{extra}]'"
        )
        self.package = package
        self.extra = extra


class AnalysisLimitError(Exception):
    """Raised inside an analyzer when a bound (bytes, members, depth, time) is hit.

    Not a :class:`BastionError`: the engine turns it into a :class:`~bastion.core.Skipped`.
    """

    def __init__(self, limit: str, detail: str) -> None:
        super().__init__(f"{limit}: {detail}")
        self.limit = limit
        self.detail = detail


class MalformedInputError(Exception):
    """Raised inside an analyzer when input cannot be parsed; becomes a skip or a finding."""
