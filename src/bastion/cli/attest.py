"""``bastion attest PATH``: a signed in-toto attestation of a model's data, code, deps and scan."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from bastion.cli.common import handle_errors
from bastion.cli.sign import (
    Mode,
    build_signer,
    err_console,
    hashing_options,
    parse_datasets,
    progress_for,
)
from bastion.config import find_config, load_config
from bastion.core import ExitCode
from bastion.integrity.attestation import PREDICATE_TYPE, AttestInputs, attest_model
from bastion.integrity.signing import SignOptions
from bastion.scan.deps.lockfiles import find_lockfiles


@handle_errors
def attest_command(
    path: Annotated[Path, typer.Argument(help="Model file or folder to attest.")],
    key: Annotated[Path | None, typer.Option("--key", "-k", help="PEM private key.")] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Attestation (default: DIR/model.att.json)."),
    ] = None,
    data: Annotated[
        list[str] | None, typer.Option(help="Training/eval dataset NAME=DIR (repeatable).")
    ] = None,
    project: Annotated[
        Path | None,
        typer.Option(help="Project folder for the git commit and lockfiles (default: .)."),
    ] = None,
    source_commit: Annotated[
        str | None, typer.Option(help="Source commit (default: read from the project's .git).")
    ] = None,
    source_uri: Annotated[str | None, typer.Option(help="Source repository URI.")] = None,
    lockfile: Annotated[
        list[Path] | None,
        typer.Option(help="Lockfile to record (default: the project's, found by name)."),
    ] = None,
    scan_report: Annotated[
        Path | None,
        typer.Option(help="Record this 'bastion scan --format json' report instead of scanning."),
    ] = None,
    scan_output: Annotated[
        Path | None, typer.Option(help="Also write the scan report made now to this file.")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Policy file for the scan.")
    ] = None,
    assessment: Annotated[
        list[Path] | None, typer.Option(help="Assessment JSON report to record (repeatable).")
    ] = None,
    ignore: Annotated[
        list[str] | None, typer.Option("--ignore", help="Leave model paths out (glob).")
    ] = None,
    mode: Annotated[
        Mode,
        typer.Option(help="key or certificate (offline); sigstore (keyless, NEEDS A NETWORK)."),
    ] = Mode.KEY,
    certificate: Annotated[Path | None, typer.Option(help="Signing certificate.")] = None,
    certificate_chain: Annotated[list[Path] | None, typer.Option(help="Chain.")] = None,
    password_env: Annotated[
        str | None, typer.Option(help="Environment variable holding the key's password.")
    ] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Hashing threads.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress or summary.")] = False,
) -> None:
    """Attest a model: its digest, the datasets' digests, source commit, lockfile digest, the
    scan verdict (scanned now, or from --scan-report) and assessment reports, signed like a
    model signature (DSSE). Exit code 1 when the recorded scan did not pass."""
    signer = build_signer(mode, key, password_env, certificate, certificate_chain)
    project_dir = project or Path.cwd()
    config_path = config if config is not None else find_config(path)
    policy = load_config(config_path).policy
    lockfiles = tuple(lockfile) if lockfile else find_lockfiles(project_dir)[:1]
    progress = progress_for(quiet, "hashing")
    inputs = AttestInputs(
        model=path,
        datasets=parse_datasets(data),
        project=project_dir,
        source_commit=source_commit,
        source_uri=source_uri,
        lockfiles=lockfiles,
        scan_report=scan_report,
        scan_output=scan_output,
        policy=policy,
        assessments=tuple(assessment or ()),
        sign_options=SignOptions(
            ignore=tuple(ignore or ()), hashing=hashing_options(progress, workers)
        ),
    )
    if progress is not None:
        with progress:
            result = attest_model(inputs, signer, output)
    else:
        result = attest_model(inputs, signer, output)
    predicate = result.statement["predicate"]
    if not quiet:
        err = err_console()
        err.print(f"attested {escape(str(path))}: {result.model_digest}")
        for dataset in predicate["datasets"]:
            err.print(f"  dataset {escape(dataset['name'])}: sha256:{dataset['digest']['sha256']}")
        source = predicate.get("source")
        commit = source["digest"]["gitCommit"] if source else "unknown (no git, no --source-commit)"
        err.print(f"  source commit: {commit}")
        for lock in predicate["lockfiles"]:
            err.print(f"  lockfile {escape(lock['name'])}: sha256:{lock['digest']['sha256']}")
        verdict = "passed" if result.scan_passed else "[bold red]FAILED[/bold red]"
        err.print(f"  scan: {verdict}; {len(predicate['assessments'])} assessment report(s)")
        err.print(f"predicate {PREDICATE_TYPE}\nwritten to {escape(str(result.attestation))}")
    raise typer.Exit(int(ExitCode.OK if result.scan_passed else ExitCode.POLICY_FAILED))
