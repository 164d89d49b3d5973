"""Helpers every subcommand shares: error handling, exit codes, lazy atomic output files."""

from __future__ import annotations

import functools
import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from bastion.core import ExitCode
from bastion.errors import BastionError

P = ParamSpec("P")
R = TypeVar("R")

EXIT_CODES_HELP = (
    "Exit codes: 0 passed, 1 the policy failed (blocking findings or, with --fail-on-skipped, "
    "unchecked artifacts), 2 usage, configuration or internal error."
)


def stderr_console() -> Console:
    """A console on standard error (progress and diagnostics never mix with reports)."""
    return Console(stderr=True, highlight=False)


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn :class:`BastionError` into a message and exit code 2; other errors likewise, with
    the traceback when ``BASTION_DEBUG`` is set."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except BastionError as exc:
            stderr_console().print(
                f"[bold red]error:[/bold red] {escape(exc.diagnostics())}", soft_wrap=True
            )
            raise typer.Exit(int(ExitCode.ERROR)) from None
        except KeyboardInterrupt:
            stderr_console().print("[bold red]interrupted[/bold red]")
            raise typer.Exit(int(ExitCode.ERROR)) from None
        except Exception as exc:
            if os.environ.get("BASTION_DEBUG"):
                traceback.print_exc()
            stderr_console().print(
                f"[bold red]internal error:[/bold red] {escape(type(exc).__name__)}: "
                f"{escape(str(exc))} (set BASTION_DEBUG=1 for the traceback)",
                soft_wrap=True,
            )
            raise typer.Exit(int(ExitCode.ERROR)) from None

    return wrapper


def write_output(text: str, output: Path | None) -> None:
    """Write to ``output`` atomically (temp file + rename), or to standard output."""
    if output is None or str(output) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    directory = output.parent if str(output.parent) else Path(".")
    if not directory.is_dir():
        raise BastionError(f"{output}: directory {directory} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, output)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise BastionError(f"{output}: cannot write report: {exc.strerror or exc}") from exc
