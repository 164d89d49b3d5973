"""The ``bastion`` command: subcommands are registered here, each defined in its own module.

Subcommand modules are imported only when their command runs (``bastion scan`` does not pay for
the gateway, assessment or signing imports); ``bastion --help`` imports them all to list them.
"""

from __future__ import annotations

import importlib
from typing import Any, NamedTuple

import typer
from typer._click.core import Command, Context  # typer vendors click; its types, not click's
from typer.core import TyperGroup

from bastion import __version__
from bastion.cli.common import EXIT_CODES_HELP


class _Lazy(NamedTuple):
    """Where a subcommand lives: a Typer sub-app (``app``) or a command function."""

    module: str
    attr: str


#: Every subcommand: name → module and the Typer app or function it exposes.
SUBCOMMANDS: dict[str, _Lazy] = {
    "scan": _Lazy("bastion.cli.scan", "scan_command"),
    "rules": _Lazy("bastion.cli.rules", "app"),
    "baseline": _Lazy("bastion.cli.baseline", "app"),
    "db": _Lazy("bastion.cli.db", "app"),
    "serve": _Lazy("bastion.cli.serve", "serve_command"),
    "keys": _Lazy("bastion.cli.keys", "app"),
    "audit": _Lazy("bastion.cli.audit", "app"),
    "keygen": _Lazy("bastion.cli.keygen", "keygen_command"),
    "sign": _Lazy("bastion.cli.sign", "sign_command"),
    "verify": _Lazy("bastion.cli.verify", "verify_command"),
    "attest": _Lazy("bastion.cli.attest", "attest_command"),
    "bom": _Lazy("bastion.cli.bom", "bom_command"),
    "history": _Lazy("bastion.cli.history", "history_command"),
    "diff": _Lazy("bastion.cli.diff", "diff_command"),
    "posture": _Lazy("bastion.cli.posture", "app"),
    "mlflow": _Lazy("bastion.cli.mlflow", "app"),
    "report": _Lazy("bastion.cli.report", "report_command"),
    "assess": _Lazy("bastion.cli.assess", "app"),
    "harden": _Lazy("bastion.cli.harden", "app"),
}


def load_command(name: str) -> Command:
    """Import one subcommand and build its click command."""
    where = SUBCOMMANDS[name]
    target: Any = getattr(importlib.import_module(where.module), where.attr)
    holder = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    if isinstance(target, typer.Typer):
        # NOTE: added as a sub-app, so a one-command app stays a group ("posture check").
        holder.add_typer(target, name=name)
    else:
        holder.command(name, help=target.__doc__)(target)
    holder.callback()(lambda: None)
    group = typer.main.get_command(holder)
    if not isinstance(group, TyperGroup):  # pragma: no cover - a holder with a callback is one
        raise TypeError(f"subcommand {name!r} did not build a command group")
    return group.commands[name]


class _LazyGroup(TyperGroup):
    """A Typer group whose subcommands are imported on first use."""

    def list_commands(self, ctx: Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(SUBCOMMANDS))

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in SUBCOMMANDS:
            command = load_command(cmd_name)
        return command


app = typer.Typer(
    name="bastion",
    cls=_LazyGroup,
    help="Secure AI pipelines end to end: scan, assess, sign and guard ML models.\n\n"
    + EXIT_CODES_HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"bastion {__version__}")
        raise typer.Exit(0)


@app.callback()
def main_callback(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Secure AI pipelines end to end."""


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
