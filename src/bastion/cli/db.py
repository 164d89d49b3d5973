"""``bastion db update`` / ``bastion db status``: the OSV data dependency checks match against."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from bastion.cli.common import handle_errors, stderr_console
from bastion.scan.deps.osv_export import IndexStats
from bastion.scan.deps.vulndb import cache_root
from bastion.scan.deps.vulndb_update import (
    OSV_PYPI_URL,
    database_status,
    import_export,
    update_from_network,
)

app = typer.Typer(help="Vulnerability data for dependency checks (OSV).")

_DIR_HELP = "Folder to keep the data in (default: the user cache); scan with --vuln-db DIR."


def _describe(stats: IndexStats, folder: Path) -> str:
    newest = (stats.newest or "unknown")[:10]
    skipped = f", {stats.skipped} unreadable record(s) skipped" if stats.skipped else ""
    return (
        f"{stats.advisories} PyPI advisories for {stats.packages} packages, data as of {newest}, "
        f"imported {(stats.imported or '?')[:19]} from {stats.source}{skipped}; in {folder}"
    )


@app.command("update")
@handle_errors
def update(
    source: Annotated[
        Path | None,
        typer.Option(
            "--from",
            help="Import a local OSV export (all.zip, a JSON file or a folder of JSON files) "
            "instead of downloading.",
        ),
    ] = None,
    url: Annotated[str, typer.Option(help="Where to download from (https only).")] = OSV_PYPI_URL,
    folder: Annotated[Path | None, typer.Option("--dir", help=_DIR_HELP)] = None,
) -> None:
    """Download OSV's PyPI vulnerability data, or import a local copy, for 'bastion scan'.

    This download is the only network access bastion makes, and only on this command. The
    export is indexed before anything changes: the previous data stays in place until the new
    data has been read.
    """
    err = stderr_console()
    if source is not None:
        result = import_export(source, folder)
    else:
        err.print(f"downloading {url} …")
        result = update_from_network(url, folder)
    err.print(f"bastion db: {_describe(result.stats, result.folder)}")


@app.command("status")
@handle_errors
def status(
    folder: Annotated[Path | None, typer.Option("--dir", help=_DIR_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show what vulnerability data 'bastion scan' will use, and how old it is."""
    where = folder or cache_root()
    stats = database_status(where)
    if as_json:
        payload = {"folder": str(where), "database": stats.__dict__ if stats else None}
        typer.echo(json.dumps(payload, indent=2))
        return
    if stats is None:
        typer.echo(
            f"no vulnerability data in {where}: run 'bastion db update' "
            "(or 'bastion db update --from FILE' offline)"
        )
        raise typer.Exit(1)
    typer.echo(_describe(stats, where))
