"""``bastion harden adversarial|dp``: retrain a configured target and show before/after.

The target and data come from the policy file's ``[assess]`` table; the hardened model is
written to ``--output`` (a ``state_dict`` or ``.skops`` file, plus ``.dp.json`` for DP) and both
models are measured on the same held-out data. Add the output as another target in
``[assess.targets]`` to gate on it and see it in the HTML report.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from bastion.cli.common import handle_errors, stderr_console, write_output
from bastion.config import find_config, load_config
from bastion.errors import UsageError

if TYPE_CHECKING:
    from bastion.assess.config import AssessSettings
    from bastion.assess.harden import HardenResult
    from bastion.assess.progress import ProgressSink

app = typer.Typer(
    help="Harden a model: adversarial training or differentially private "
    "training, with a before/after comparison.",
    no_args_is_help=True,
)

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="Policy file with an \\[assess] table.")
]
TargetArg = Annotated[
    str, typer.Option("--target", "-t", help="Target name in \\[assess.targets].")
]
OutputOpt = Annotated[Path, typer.Option("--output", "-o", help="Where to write the new model.")]
JsonOpt = Annotated[
    Path | None, typer.Option("--json", help="Also write the comparison as JSON here.")
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines.")]


def _settings(config: Path | None) -> AssessSettings:
    from bastion.assess.config import parse_assess

    path = config or find_config(Path.cwd())
    if path is None:
        raise UsageError("no policy file found: pass --config")
    raw = load_config(path).sections.get("assess")
    if raw is None:
        raise UsageError(f"{path}: no [assess] table")
    return parse_assess(raw, source=str(path), base_dir=path.parent.absolute())


def _show(result: HardenResult, json_path: Path | None) -> None:
    table = Table(title=f"{result.target}: {result.method}")
    for column in ("metric", "before", "after"):
        table.add_column(column)
    for key in dict.fromkeys([*result.before, *result.after]):
        before, after = result.before.get(key), result.after.get(key)
        table.add_row(
            key,
            "–" if before is None else f"{before:.4g}",
            "–" if after is None else f"{after:.4g}",
        )
    Console().print(table)
    for note in result.notes:
        stderr_console().print(f"note: {note}")
    for path in result.outputs:
        stderr_console().print(f"wrote {path}")
    if json_path is not None:
        write_output(result.to_json(), json_path)


def _progress(quiet: bool) -> ProgressSink:
    err = stderr_console()

    def sink(message: str) -> None:
        if not quiet:
            err.print(f"[dim]harden:[/dim] {message}")

    return sink


@app.command("adversarial")
@handle_errors
def adversarial_command(
    target: TargetArg,
    output: OutputOpt,
    epsilon: Annotated[float, typer.Option(min=0.0, help="L-inf budget to train against.")],
    epochs: Annotated[int, typer.Option(min=1)] = 10,
    steps: Annotated[int, typer.Option(min=1, help="PGD steps per batch.")] = 7,
    config: ConfigOpt = None,
    json_out: JsonOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """PGD adversarial training of a PyTorch target; compares PGD robust accuracy at ε."""
    from bastion.assess.harden import harden_adversarial

    result = harden_adversarial(
        _settings(config),
        target,
        output,
        epsilon=epsilon,
        epochs=epochs,
        steps=steps,
        progress=_progress(quiet),
    )
    _show(result, json_out)


@app.command("dp")
@handle_errors
def dp_command(
    target: TargetArg,
    output: OutputOpt,
    epsilon: Annotated[float, typer.Option(min=0.0, help="Privacy budget ε.")],
    delta: Annotated[float, typer.Option(help="δ (DP-SGD, logistic regression).")] = 1e-5,
    epochs: Annotated[int, typer.Option(min=1, help="DP-SGD epochs.")] = 10,
    config: ConfigOpt = None,
    json_out: JsonOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Differentially private retraining (Opacus DP-SGD, or bastion's DP forest / logistic
    regression); compares utility and membership leakage."""
    from bastion.assess.harden import harden_dp

    result = harden_dp(
        _settings(config),
        target,
        output,
        epsilon=epsilon,
        delta=delta,
        epochs=epochs,
        progress=_progress(quiet),
    )
    _show(result, json_out)
