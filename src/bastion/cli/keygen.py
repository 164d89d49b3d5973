"""``bastion keygen``: an EC key pair for signing models (private key 0600, never overwritten)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from bastion.cli.common import handle_errors
from bastion.cli.sign import err_console
from bastion.errors import UsageError
from bastion.integrity.keys import CURVES, generate_key_pair


@handle_errors
def keygen_command(
    private_key: Annotated[Path, typer.Argument(help="Where to write the PEM private key.")] = Path(
        "bastion-signing.pem"
    ),
    curve: Annotated[
        str,
        typer.Option(help=f"Elliptic curve: {', '.join(CURVES)} (what model-signing accepts)."),
    ] = "p256",
    public_key: Annotated[
        Path | None, typer.Option("--public-key", help="Public key path (default: KEY.pub).")
    ] = None,
    password_env: Annotated[
        str | None,
        typer.Option(
            "--password-env",
            help="Encrypt the private key with the password in this environment variable.",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing key files.")] = False,
) -> None:
    """Generate a signing key pair: a PEM private key (mode 0600) and its public key.

    Ed25519 and RSA are not offered: model-signing's key mode verifies only EC P-256, P-384 and
    P-521 signatures, and bastion's signatures must verify with model_signing.
    """
    password = None
    if password_env:
        value = os.environ.get(password_env)
        if not value:
            raise UsageError(f"--password-env: environment variable {password_env} is empty")
        password = value.encode("utf-8")
    pair = generate_key_pair(
        private_key, curve=curve, public_path=public_key, password=password, force=force
    )
    err = err_console()
    err.print(f"private key: {escape(str(pair.private))} (mode 0600, keep it secret)")
    err.print(f"public key:  {escape(str(pair.public))} (give this to verifiers)")
    err.print(f"curve {pair.curve}, fingerprint {pair.fingerprint}")
