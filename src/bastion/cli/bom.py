"""``bastion bom PATH``: the CycloneDX 1.6 AI bill of materials of an ML project."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from bastion.cli.common import handle_errors, write_output
from bastion.cli.sign import err_console, hashing_options, parse_datasets, progress_for
from bastion.errors import UsageError
from bastion.integrity.bom import BomOptions, build_bom
from bastion.integrity.verify import Trust


@handle_errors
def bom_command(
    path: Annotated[Path, typer.Argument(help="Project folder (or a model) to describe.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the BOM here (default: stdout).")
    ] = None,
    data: Annotated[
        list[str] | None, typer.Option(help="Dataset NAME=DIR to include (repeatable).")
    ] = None,
    lockfile: Annotated[
        list[Path] | None,
        typer.Option(help="Dependency file(s) to list (default: the project's, found by name)."),
    ] = None,
    attestation: Annotated[
        list[Path] | None,
        typer.Option(help="Attestations to draw relationships from (beside-model ones are found)."),
    ] = None,
    key: Annotated[
        list[Path] | None,
        typer.Option("--key", "-k", help="Verify attestations with these public keys."),
    ] = None,
    exclude: Annotated[list[str] | None, typer.Option(help="Skip paths (glob).")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Hashing threads.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress or summary.")] = False,
) -> None:
    """Write a CycloneDX 1.6 AI-BOM: models (hashes, format, framework, model card), datasets,
    Python packages with purls, and which data trained which model (from attestations).
    Attestations are used unverified unless --key is given (the BOM says which)."""
    if not path.exists():
        raise UsageError(f"{path}: no such file or directory")
    progress = progress_for(quiet, "hashing")
    options = BomOptions(
        datasets=parse_datasets(data),
        lockfiles=tuple(lockfile) if lockfile else None,
        attestations=tuple(attestation or ()),
        trust=Trust(keys=tuple(key)) if key else None,
        exclude=tuple(exclude or ()),
        hashing=hashing_options(progress, workers),
    )
    if progress is not None:
        with progress:
            result = build_bom(path, options)
    else:
        result = build_bom(path, options)
    write_output(result.text, output)
    if not quiet:
        err = err_console()
        for warning in result.warnings:
            err.print(f"[yellow]warning:[/yellow] {escape(warning)}")
        where = f"written to {escape(str(output))}" if output else "written to stdout"
        err.print(
            f"CycloneDX 1.6 BOM (schema-valid): {result.models} model(s), {result.datasets} "
            f"dataset(s), {result.packages} package(s); {where}"
        )
