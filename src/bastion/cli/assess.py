"""``bastion assess [robustness|privacy|data|all]``: measure a model and gate on the numbers.

With no subcommand it runs the checks the policy file's ``[assess]`` table lists, so CI needs no
flags. Findings go through the usual policy gate and reporters (table, JSON, SARIF); the HTML
report and the JSON metrics document go to ``report_dir`` (``--report-dir``).
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bastion.cli.common import EXIT_CODES_HELP, handle_errors, stderr_console, write_output
from bastion.cli.history import SaveOption, StoreOption, record_run
from bastion.config import find_config, load_config
from bastion.core import Severity
from bastion.errors import UsageError
from bastion.report import OutputFormat, ReportInput, reporter_for
from bastion.report.console import print_report

app = typer.Typer(
    help="Measure adversarial robustness, privacy leakage and data poisoning; gate on them.\n\n"
    + EXIT_CODES_HELP,
    invoke_without_command=True,
    no_args_is_help=False,
)

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Policy file with an \\[assess] table (default: nearest "
        "bastion.toml or pyproject.toml with [tool.bastion]).",
    ),
]
FormatOpt = Annotated[
    OutputFormat | None, typer.Option("--format", "-f", help="Findings report format.")
]
OutputOpt = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write the findings report to this file.")
]
ReportDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--report-dir", help="Write report.html and metrics.json here (overrides report_dir)."
    ),
]
TargetOpt = Annotated[
    list[str] | None, typer.Option("--target", "-t", help="Only this target (repeatable).")
]
FailOnOpt = Annotated[str | None, typer.Option(help="Lowest severity that fails the gate.")]
SeedOpt = Annotated[int | None, typer.Option(help="Random seed (overrides \\[assess] seed).")]
DeviceOpt = Annotated[str | None, typer.Option(help="auto, cpu or cuda.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="More detail in the table.")]


@dataclasses.dataclass
class _Options:
    config: Path | None = None
    fmt: OutputFormat | None = None
    output: Path | None = None
    report_dir: Path | None = None
    targets: list[str] | None = None
    fail_on: str | None = None
    seed: int | None = None
    device: str | None = None
    quiet: bool = False
    verbose: bool = False
    save: bool | None = None
    store: str | None = None

    def merged(self, other: _Options) -> _Options:
        """Values set on the subcommand win over those set before it."""
        values = {
            f.name: getattr(other, f.name)
            if getattr(other, f.name) not in (None, False)
            else getattr(self, f.name)
            for f in dataclasses.fields(self)
        }
        return _Options(**values)


def _run(options: _Options, checks: tuple[str, ...] | None, sanitize: Path | None = None) -> None:
    from bastion.assess.config import parse_assess
    from bastion.assess.report.html import render_html
    from bastion.assess.report.metrics import render_metrics
    from bastion.assess.runner import assess
    from bastion.cli.scan import apply_flags
    from bastion.policy.evaluate import evaluate
    from bastion.registry import default_registry

    config_path = options.config or find_config(Path.cwd())
    if config_path is None:
        raise UsageError("no policy file found: pass --config or add bastion.toml with [assess]")
    loaded = load_config(config_path)
    raw = loaded.sections.get("assess")
    if raw is None:
        raise UsageError(f"{config_path}: no [assess] table (see docs: 'Assessing models')")
    settings = parse_assess(raw, source=str(config_path), base_dir=config_path.parent.absolute())
    changes: dict[str, object] = {}
    if options.seed is not None:
        changes["seed"] = options.seed
    if options.device is not None:
        if options.device not in ("auto", "cpu", "cuda"):
            raise UsageError("--device must be auto, cpu or cuda")
        changes["device"] = options.device
    if options.report_dir is not None:
        changes["report_dir"] = options.report_dir
    settings = dataclasses.replace(settings, **changes)  # type: ignore[arg-type]
    policy = apply_flags(
        loaded.policy,
        fail_on=options.fail_on,
        fail_on_skipped=None,
        select=None,
        disable=None,
        allow_global=None,
        exclude=None,
    )
    err = stderr_console()

    def progress(message: str) -> None:
        if not options.quiet:
            err.print(f"[dim]assess:[/dim] {message}", highlight=False)

    assessment = assess(
        settings,
        tuple(checks) if checks else None,  # type: ignore[arg-type]
        only_targets=tuple(options.targets or ()),
        sanitize_dir=sanitize,
        progress=progress,
    )
    verdict = evaluate(assessment.result, policy)
    report = ReportInput(assessment.result, verdict, default_registry())
    fmt = options.fmt or OutputFormat.TABLE
    if fmt is OutputFormat.TABLE and options.output is None:
        print_report(report, Console(), verbose=options.verbose)
    else:
        write_output(reporter_for(fmt).render(report), options.output)
    if settings.report_dir is not None:
        settings.report_dir.mkdir(parents=True, exist_ok=True)
        write_output(
            render_html(assessment, verdict, fail_on=policy.fail_on.label),
            settings.report_dir / "report.html",
        )
        write_output(render_metrics(assessment, verdict), settings.report_dir / "metrics.json")
    if not options.quiet:
        state = "passed" if verdict.passed else "FAILED"
        where = f"; report in {settings.report_dir}" if settings.report_dir else ""
        err.print(
            f"bastion assess: {len(verdict.findings)} finding(s), "
            f"{len(verdict.blocking)} blocking; gate {state}{where}"
        )
        for path in assessment.sanitized:
            err.print(f"bastion assess: wrote {path}")
    record_run(
        "assess",
        assessment.result,
        target=config_path.parent,
        passed=verdict.passed,
        exit_code=int(verdict.exit_code),
        save=options.save,
        store=options.store,
        loaded=loaded,
        findings=verdict.findings,
        quiet=options.quiet,
    )
    sys.stdout.flush()
    raise typer.Exit(int(verdict.exit_code))


@app.callback()
@handle_errors
def assess_callback(
    ctx: typer.Context,
    config: ConfigOpt = None,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    report_dir: ReportDirOpt = None,
    target: TargetOpt = None,
    fail_on: FailOnOpt = None,
    seed: SeedOpt = None,
    device: DeviceOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    save: SaveOption = None,
    store: StoreOption = None,
) -> None:
    """Run the checks the policy lists (robustness, privacy, data) on every configured target."""
    if fail_on is not None:
        try:
            Severity.parse(fail_on)
        except ValueError as exc:
            raise UsageError(f"--fail-on: {exc}") from None
    options = _Options(
        config, fmt, output, report_dir, target, fail_on, seed, device, quiet, verbose, save, store
    )
    ctx.obj = options
    if ctx.invoked_subcommand is None:
        _run(options, None)


def _sub(ctx: typer.Context, **values: object) -> _Options:
    base = ctx.obj if isinstance(ctx.obj, _Options) else _Options()
    return base.merged(_Options(**values))  # type: ignore[arg-type]


def _checks_command(name: str, checks: tuple[str, ...], doc: str) -> None:
    """Register ``bastion assess NAME``: the shared options, running ``checks``."""

    def command(
        ctx: typer.Context,
        config: ConfigOpt = None,
        fmt: FormatOpt = None,
        output: OutputOpt = None,
        report_dir: ReportDirOpt = None,
        target: TargetOpt = None,
        fail_on: FailOnOpt = None,
        seed: SeedOpt = None,
        device: DeviceOpt = None,
        quiet: QuietOpt = False,
        verbose: VerboseOpt = False,
        save: SaveOption = None,
        store: StoreOption = None,
    ) -> None:
        _run(
            _sub(
                ctx,
                config=config,
                fmt=fmt,
                output=output,
                report_dir=report_dir,
                targets=target,
                fail_on=fail_on,
                seed=seed,
                device=device,
                quiet=quiet,
                verbose=verbose,
                save=save,
                store=store,
            ),
            checks,
        )

    command.__doc__ = doc
    command.__name__ = f"{name}_command"
    app.command(name)(handle_errors(command))


_checks_command(
    "robustness",
    ("robustness",),
    "Evasion: FGSM, PGD, APGD-CE (white-box) and Square, RayS (query-only) at each ε.",
)
_checks_command(
    "privacy",
    ("privacy",),
    "Membership inference (loss, confidence, classifier, LiRA) and model inversion.",
)


@app.command("data")
@handle_errors
def data_command(
    ctx: typer.Context,
    config: ConfigOpt = None,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    report_dir: ReportDirOpt = None,
    fail_on: FailOnOpt = None,
    seed: SeedOpt = None,
    device: DeviceOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    save: SaveOption = None,
    store: StoreOption = None,
    sanitize: Annotated[
        Path | None,
        typer.Option(help="Write cleaned.npz and removed.json (the flagged rows) here."),
    ] = None,
) -> None:
    """Training data: label errors, conflicting duplicates, outliers, backdoors."""
    _run(
        _sub(
            ctx,
            config=config,
            fmt=fmt,
            output=output,
            report_dir=report_dir,
            fail_on=fail_on,
            seed=seed,
            device=device,
            quiet=quiet,
            verbose=verbose,
            save=save,
            store=store,
        ),
        ("data",),
        sanitize,
    )


_checks_command(
    "all",
    ("robustness", "privacy", "data"),
    "Robustness, privacy and data checks, whatever the policy lists.",
)
