"""``bastion verify PATH``: a model against its signature, its attestation chain, or a policy."""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from bastion.cli.common import EXIT_CODES_HELP, handle_errors, write_output
from bastion.cli.history import SaveOption, StoreOption, record_verification
from bastion.cli.sign import err_console, hashing_options, human_bytes, parse_datasets, progress_for
from bastion.config import find_config, load_config
from bastion.core import ExitCode, ScanResult, Severity
from bastion.errors import UsageError
from bastion.integrity.cache import ManifestCache
from bastion.integrity.chain import ChainResult, verify_attestation
from bastion.integrity.deploy import DeploymentDecision, DeploymentPolicy, verify_for_deployment
from bastion.integrity.signing import default_signature_path
from bastion.integrity.verify import Problem, Trust, VerificationResult, verify_model
from bastion.policy.evaluate import evaluate
from bastion.policy.model import Policy
from bastion.registry import default_registry
from bastion.report import OutputFormat, ReportInput, reporter_for


def _report(
    path: Path, problems: list[Problem], fmt: OutputFormat, output: Path | None, started: datetime
) -> None:
    """JSON or SARIF through the scan reporters: every problem is a blocking BST-INT finding."""
    result = ScanResult(
        root=str(path),
        started=started,
        finished=datetime.now(timezone.utc),
        findings=tuple(sorted((p.finding() for p in problems), key=lambda f: f.sort_key())),
    )
    verdict = evaluate(result, Policy(fail_on=Severity.INFO))
    write_output(reporter_for(fmt).render(ReportInput(result, verdict, default_registry())), output)


def _print_problems(console: Console, problems: list[Problem]) -> None:
    for problem in problems:
        console.print(
            f"  [bold red]✗[/bold red] {problem.rule.id} [bold]{escape(problem.path)}[/bold]: "
            f"{escape(problem.message)}"
        )


def _print_signature(
    console: Console, result: VerificationResult, cache: ManifestCache | None
) -> None:
    console.print(f"[bold]signature[/bold] {escape(str(result.signature))}")
    if result.signer:
        console.print(f"  signer: {escape(result.signer)} ({result.mode} mode)")
    if result.local is not None:
        local = result.local
        reused = f", {cache.hits} digest(s) reused from the cache" if cache else ""
        console.print(
            f"  {local.files} file(s), {human_bytes(local.bytes_total)}, "
            f"{human_bytes(local.bytes_read)} read in {result.seconds:.2f} s{reused}"
        )
    if result.verified:
        console.print(f"  [green]✓ verified[/green]: model digest {result.model_digest}")
    else:
        console.print(f"  [bold red]✗ FAILED[/bold red]: {len(result.problems)} problem(s)")
        _print_problems(console, list(result.problems))


def _print_chain(console: Console, chain: ChainResult) -> None:
    console.print(f"[bold]attestation[/bold] {escape(str(chain.attestation))}")
    for line in chain.checked:
        console.print(f"  [green]✓[/green] {escape(line)}")
    if chain.problems:
        console.print(f"  [bold red]✗ FAILED[/bold red]: {len(chain.problems)} broken link(s)")
        _print_problems(console, list(chain.problems))


def _print_decision(console: Console, decision: DeploymentDecision) -> None:
    for line in decision.checked:
        console.print(f"  [green]✓[/green] {escape(line)}")
    if decision.allowed:
        console.print(
            f"[green]✓ deployment allowed[/green]: {decision.model_digest}, signer "
            f"{decision.signer}"
        )
    else:
        console.print("[bold red]✗ deployment refused[/bold red]")
        for reason in decision.reasons:
            console.print(f"  [bold red]✗[/bold red] {escape(reason)}")


@handle_errors
def verify_command(
    path: Annotated[Path, typer.Argument(help="Model file or folder to verify.")],
    signature: Annotated[
        Path | None,
        typer.Option("--signature", "-s", help="Signature (default: DIR/model.sig or FILE.sig)."),
    ] = None,
    key: Annotated[
        list[Path] | None, typer.Option("--key", "-k", help="Trusted PEM public key (repeatable).")
    ] = None,
    attestation: Annotated[
        Path | None, typer.Option(help="Check this attestation's chain as well.")
    ] = None,
    data: Annotated[
        list[str] | None, typer.Option(help="Dataset NAME=DIR to check against the attestation.")
    ] = None,
    lockfile: Annotated[
        list[Path] | None, typer.Option(help="Lockfile to check against the attestation.")
    ] = None,
    source_commit: Annotated[
        str | None, typer.Option(help="Commit the attestation must record.")
    ] = None,
    policy: Annotated[
        Path | None,
        typer.Option(
            help="Deployment gate: use [deploy] of this policy file (trusted keys, requirements)."
        ),
    ] = None,
    certificate_chain: Annotated[
        list[Path] | None, typer.Option(help="Trust anchors for certificate-mode signatures.")
    ] = None,
    identity: Annotated[str | None, typer.Option(help="Sigstore signer identity.")] = None,
    identity_provider: Annotated[
        str | None, typer.Option(help="Sigstore OIDC issuer (keyless mode needs a network).")
    ] = None,
    manifest_cache: Annotated[
        bool,
        typer.Option(
            help="Reuse digests of files whose size, mtime, inode and ctime are unchanged."
        ),
    ] = False,
    cache_dir: Annotated[Path | None, typer.Option(help="Where the manifest cache lives.")] = None,
    full: Annotated[bool, typer.Option(help="Always re-hash every file (no cache reuse).")] = False,
    workers: Annotated[int | None, typer.Option(min=1, help="Hashing threads.")] = None,
    fmt: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="table, json or sarif.")
    ] = OutputFormat.TABLE,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Report file.")] = None,
    save: SaveOption = None,
    store: StoreOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Verify a model: signature, every file's digest, and optionally its attestation chain.

    Names every file added, removed, changed or linked. With --policy, runs the deployment gate
    that 'bastion serve' uses. The cache trade-off: a cached digest is trusted while the file's
    size, mtime, inode and ctime are unchanged (any write changes ctime, which users cannot set
    back); root or raw-disk tampering is not caught. --full re-hashes everything.
    """
    if not (path.exists() or path.is_symlink()):
        raise UsageError(f"{path}: no such file or directory")
    started = datetime.now(timezone.utc)
    console = (
        err_console() if (fmt is not OutputFormat.TABLE or output) else Console(soft_wrap=True)
    )
    if policy is not None:
        if key or certificate_chain or identity:
            raise UsageError("with --policy, trusted keys come from its [deploy] table, not --key")
        deploy = DeploymentPolicy.from_config(load_config(policy))
        if signature or attestation:
            deploy = DeploymentPolicy(
                deploy.trusted_keys, deploy.require_signature, deploy.require_scan_attestation,
                signature or deploy.signature, attestation or deploy.attestation,
                deploy.manifest_cache or manifest_cache,
            )  # fmt: skip
        decision = verify_for_deployment(path, deploy)
        if fmt is OutputFormat.TABLE:
            _print_decision(console, decision)
        else:
            _report(path, list(decision.problems), fmt, output, started)
        record_verification(
            path, [p.finding() for p in decision.problems], passed=decision.allowed,
            started=started, model_digest=decision.model_digest, signer=decision.signer,
            save=save, store=store, mode="deployment-gate", quiet=quiet,
        )  # fmt: skip
        raise typer.Exit(int(ExitCode.OK if decision.allowed else ExitCode.POLICY_FAILED))
    trust = Trust(
        keys=tuple(key or ()),
        certificate_chain=tuple(certificate_chain or ()),
        sigstore_identity=identity,
        sigstore_issuer=identity_provider,
    )
    if not (trust.keys or trust.certificate_chain or trust.sigstore_identity):
        found = find_config(path)
        hint = f" or --policy {found}" if found else ""
        raise UsageError(f"give --key PUBLIC_KEY.pem (or --certificate-chain / --identity){hint}")
    cache = ManifestCache.for_model(path, cache_dir, reuse=not full) if manifest_cache else None
    progress = progress_for(quiet or fmt is not OutputFormat.TABLE, "verifying")
    options = hashing_options(progress, workers, cache)
    problems: list[Problem] = []
    result: VerificationResult | None = None
    check_signature = signature is not None or attestation is None
    if check_signature:
        signature = signature or default_signature_path(path)
        if progress is not None:
            with progress:
                result = verify_model(path, signature, trust, options=options)
        else:
            result = verify_model(path, signature, trust, options=options)
        problems.extend(result.problems)
        if fmt is OutputFormat.TABLE:
            _print_signature(console, result, cache if manifest_cache and not full else None)
    if attestation is not None:
        chain = verify_attestation(
            path, attestation, trust,
            datasets=parse_datasets(data), lockfiles=tuple(lockfile or ()),
            source_commit=source_commit, options=options,
            reuse=result.local if result is not None else None,
        )  # fmt: skip
        problems.extend(chain.problems)
        if fmt is OutputFormat.TABLE:
            _print_chain(console, chain)
    elif data or lockfile or source_commit:
        raise UsageError("--data, --lockfile and --source-commit need --attestation")
    if fmt is not OutputFormat.TABLE:
        _report(path, problems, fmt, output, started)
    record_verification(
        path, [p.finding() for p in problems], passed=not problems, started=started,
        model_digest=result.model_digest if result is not None and result.verified else None,
        signer=result.signer if result is not None else None, save=save, store=store,
        quiet=quiet,
    )  # fmt: skip
    sys.stdout.flush()
    raise typer.Exit(int(ExitCode.POLICY_FAILED if problems else ExitCode.OK))


verify_command.__doc__ = (verify_command.__doc__ or "") + "\n\n" + EXIT_CODES_HELP
