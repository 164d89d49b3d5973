"""``bastion sign PATH``: sign a model or dataset folder (model-signing format).

Also holds the small helpers the integrity commands share (signer choice, passwords, byte
progress, ``NAME=DIR`` dataset arguments).
"""

from __future__ import annotations

import os
import threading
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from bastion.cli.common import handle_errors, stderr_console
from bastion.errors import UsageError
from bastion.integrity.hashing import DEFAULT_SHARD_SIZE, HashOptions
from bastion.integrity.signing import (
    CertificateSigner,
    KeySigner,
    Signer,
    SignOptions,
    SigstoreSigner,
    sign_model,
)


class Mode(str, Enum):
    """``--mode`` choices."""

    KEY = "key"
    CERTIFICATE = "certificate"
    SIGSTORE = "sigstore"


class Granularity(str, Enum):
    """``--granularity`` choices."""

    FILES = "files"
    SHARDS = "shards"


def read_password(env: str | None) -> bytes | None:
    """The password held in environment variable ``env`` (never taken from the command line)."""
    if not env:
        return None
    value = os.environ.get(env)
    if not value:
        raise UsageError(f"--password-env: environment variable {env} is not set or empty")
    return value.encode("utf-8")


def parse_datasets(values: list[str] | None) -> tuple[tuple[str, Path], ...]:
    """``NAME=DIR`` or ``DIR`` (named after the folder) arguments."""
    result: list[tuple[str, Path]] = []
    for value in values or []:
        name, sep, path = value.partition("=")
        if not sep:
            name, path = Path(value).resolve().name, value
        if not name or not path:
            raise UsageError(f"--data {value!r}: expected NAME=DIR or DIR")
        if not Path(path).exists():
            raise UsageError(f"--data {value!r}: {path} does not exist")
        result.append((name, Path(path)))
    names = [n for n, _ in result]
    if len(set(names)) != len(names):
        raise UsageError("--data: two datasets have the same name (use NAME=DIR)")
    return tuple(result)


def build_signer(
    mode: Mode,
    key: Path | None,
    password_env: str | None,
    certificate: Path | None = None,
    chain: list[Path] | None = None,
    staging: bool = False,
    identity_token_env: str | None = None,
) -> Signer:
    """The signer for ``--mode`` (key and certificate are offline; Sigstore needs a network)."""
    if mode is Mode.SIGSTORE:
        token = os.environ.get(identity_token_env) if identity_token_env else None
        return SigstoreSigner(use_staging=staging, identity_token=token)
    if key is None:
        raise UsageError(f"--mode {mode.value} needs --key PRIVATE_KEY.pem")
    password = read_password(password_env)
    if mode is Mode.CERTIFICATE:
        if certificate is None:
            raise UsageError("--mode certificate needs --certificate SIGNING_CERT.pem")
        return CertificateSigner(key, certificate, tuple(chain or ()), password)
    return KeySigner(key, password)


class ByteProgress:
    """A progress bar of bytes hashed, on standard error, safe to update from many threads."""

    def __init__(self, console: Console, label: str) -> None:
        self._lock = threading.Lock()
        self._progress = Progress(
            TextColumn(label),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self._task = self._progress.add_task(label, total=None)

    def __enter__(self) -> ByteProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def advance(self, count: int) -> None:
        """``count`` more bytes hashed."""
        with self._lock:
            self._progress.advance(self._task, count)


def hashing_options(
    progress: ByteProgress | None, workers: int | None, cache: object = None
) -> HashOptions:
    """Hash options with the progress callback attached."""
    from bastion.integrity.cache import ManifestCache

    return HashOptions(
        workers=workers,
        cache=cache if isinstance(cache, ManifestCache) else None,
        progress=progress.advance if progress is not None else None,
    )


def human_bytes(count: int) -> str:
    """``1.5 GB`` (decimal units, as disks are sold)."""
    value = float(count)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.2f} {unit}"
        value /= 1000
    return f"{count} B"


def err_console() -> Console:
    """Standard error, lines never wrapped (CI logs stay greppable)."""
    return Console(stderr=True, highlight=False, soft_wrap=True)


def progress_for(quiet: bool, label: str) -> ByteProgress | None:
    """A progress bar when standard error is a terminal and not ``--quiet``."""
    err = stderr_console()
    return ByteProgress(err, label) if (not quiet and err.is_terminal) else None


@handle_errors
def sign_command(
    path: Annotated[Path, typer.Argument(help="Model file or folder (or a dataset folder).")],
    key: Annotated[
        Path | None, typer.Option("--key", "-k", help="PEM private key (key/certificate mode).")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Signature file (default: DIR/model.sig or FILE.sig)."),
    ] = None,
    mode: Annotated[
        Mode,
        typer.Option(
            help="key (offline), certificate (offline), sigstore (keyless: NEEDS A NETWORK)."
        ),
    ] = Mode.KEY,
    ignore: Annotated[
        list[str] | None, typer.Option("--ignore", help="Leave out paths matching this glob.")
    ] = None,
    no_default_ignores: Annotated[
        bool, typer.Option(help="Also sign caches (__pycache__/, .ipynb_checkpoints/, …).")
    ] = False,
    allow_symlinks: Annotated[
        bool, typer.Option(help="Follow links to files inside the folder (never outside).")
    ] = False,
    granularity: Annotated[
        Granularity,
        typer.Option(
            help="files: one SHA-256 per file; shards: per shard, so one large file hashes on "
            "all cores (model_signing 1.1.1 then needs its hashing config given explicitly)."
        ),
    ] = Granularity.FILES,
    shard_size: Annotated[
        int, typer.Option(min=1024 * 1024, help="Shard size in bytes (shards granularity).")
    ] = DEFAULT_SHARD_SIZE,
    workers: Annotated[int | None, typer.Option(min=1, help="Hashing threads.")] = None,
    password_env: Annotated[
        str | None, typer.Option(help="Environment variable holding the key's password.")
    ] = None,
    certificate: Annotated[
        Path | None, typer.Option(help="Signing certificate (certificate mode).")
    ] = None,
    certificate_chain: Annotated[
        list[Path] | None, typer.Option(help="Intermediate/root certificates (certificate mode).")
    ] = None,
    staging: Annotated[bool, typer.Option(help="Sigstore staging instance.")] = False,
    identity_token_env: Annotated[
        str | None, typer.Option(help="Environment variable with an OIDC token (sigstore).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress or summary.")] = False,
) -> None:
    """Sign every file of a model (or dataset) in the OpenSSF model-signing format.

    The signature verifies with 'bastion verify' and with 'model_signing verify'. Key and
    certificate modes work offline; --mode sigstore (keyless) needs a network.
    """
    signer = build_signer(
        mode, key, password_env, certificate, certificate_chain, staging, identity_token_env
    )
    progress = progress_for(quiet, "hashing")
    options = SignOptions(
        ignore=tuple(ignore or ()),
        default_ignores=not no_default_ignores,
        allow_symlinks=allow_symlinks,
        granularity=granularity.value,
        shard_size=shard_size,
        hashing=hashing_options(progress, workers),
    )
    if progress is not None:
        with progress:
            result = sign_model(path, signer, output, options)
    else:
        result = sign_model(path, signer, output, options)
    if not quiet:
        speed = result.bytes_total / result.seconds / 1e9 if result.seconds > 0 else 0.0
        err_console().print(
            f"signed {result.files} file(s), {human_bytes(result.bytes_total)} in "
            f"{result.seconds:.2f} s ({speed:.2f} GB/s), {result.mode} mode, signer "
            f"{escape(result.identity)}\nmodel digest sha256:{result.manifest.root_digest}\n"
            f"signature written to {escape(str(result.signature))}"
        )


__all__ = ["build_signer", "parse_datasets", "read_password", "sign_command"]
