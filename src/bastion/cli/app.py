"""The ``bastion`` command: subcommands are registered here, each defined in its own module."""

from __future__ import annotations

import typer

from bastion import __version__
from bastion.cli import (
    assess,
    attest,
    audit,
    baseline,
    bom,
    db,
    diff,
    harden,
    history,
    keygen,
    keys,
    mlflow,
    posture,
    report,
    rules,
    scan,
    serve,
    sign,
    verify,
)
from bastion.cli.common import EXIT_CODES_HELP

app = typer.Typer(
    name="bastion",
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


app.command("scan", help=scan.scan_command.__doc__)(scan.scan_command)
app.add_typer(rules.app, name="rules")
app.add_typer(baseline.app, name="baseline")
app.add_typer(db.app, name="db")
app.command("serve", help=serve.serve_command.__doc__)(serve.serve_command)
app.add_typer(keys.app, name="keys")
app.add_typer(audit.app, name="audit")
app.command("keygen", help=keygen.keygen_command.__doc__)(keygen.keygen_command)
app.command("sign", help=sign.sign_command.__doc__)(sign.sign_command)
app.command("verify", help=verify.verify_command.__doc__)(verify.verify_command)
app.command("attest", help=attest.attest_command.__doc__)(attest.attest_command)
app.command("bom", help=bom.bom_command.__doc__)(bom.bom_command)
app.command("history", help=history.history_command.__doc__)(history.history_command)
app.command("diff", help=diff.diff_command.__doc__)(diff.diff_command)
app.add_typer(posture.app, name="posture")
app.add_typer(mlflow.app, name="mlflow")
app.command("report", help=report.report_command.__doc__)(report.report_command)
app.add_typer(assess.app, name="assess")
app.add_typer(harden.app, name="harden")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
