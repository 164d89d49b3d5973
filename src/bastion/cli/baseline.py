"""``bastion baseline``: accept today's findings so the gate fails only on new ones."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bastion.cli.common import handle_errors, stderr_console, write_output
from bastion.cli.posture import baseline_set, baseline_show
from bastion.cli.scan import scan_options
from bastion.config import find_config, load_config
from bastion.errors import UsageError
from bastion.policy.baseline import Baseline
from bastion.policy.evaluate import evaluate
from bastion.registry import default_registry
from bastion.scan.engine import scan

app = typer.Typer(
    help="Finding baselines (create: accept existing findings, block new ones) and posture "
    "baselines (set/show: the accepted posture 'bastion posture check' compares against)."
)
app.command("set")(baseline_set)
app.command("show")(baseline_show)


@app.command("create")
@handle_errors
def create(
    path: Annotated[Path, typer.Argument(help="What to scan.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Baseline file to write.")] = Path(
        ".bastion-baseline.json"
    ),
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Policy file.")] = None,
) -> None:
    """Scan PATH and write every current finding's fingerprint to a baseline file.

    Then `bastion scan PATH --baseline FILE` fails only on findings that are new. Fingerprints
    ignore line numbers, so moving code does not make old findings new. Add a
    "justification" and an "expires" date (YYYY-MM-DD) to entries by hand; expired entries stop
    suppressing.
    """
    if not path.exists():
        raise UsageError(f"{path}: no such file or directory")
    policy = load_config(config if config is not None else find_config(path)).policy
    result = scan(path, scan_options(policy), registry=default_registry())
    verdict = evaluate(result, policy)
    baseline = Baseline.from_findings(verdict.findings)
    write_output(baseline.to_json(), output)
    stderr_console().print(f"baseline of {len(baseline.entries)} finding(s) written to {output}")
