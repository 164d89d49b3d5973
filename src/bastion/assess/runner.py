"""``assess()``: load the data and targets a policy names, run the checks, return findings.

The result is an ordinary :class:`~bastion.core.ScanResult` (category ``assessment``), so
``bastion.policy.evaluate`` and the JSON/SARIF reporters work unchanged; the detailed reports
(curves, ROC points, examples, per-sample scores) ride along in :class:`Assessment` for the HTML
report and the metrics document.

>>> from bastion.assess.runner import Assessment
>>> Assessment.__name__
'Assessment'
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from bastion.assess.config import CHECKS, AssessSettings, Check, TargetSpec
from bastion.assess.data import AssessData, load_data
from bastion.assess.device import (
    cpu_threads,
    pick_device,
    resolve_precision,
    seed_everything,
    torch_available,
)
from bastion.assess.errors import AssessError
from bastion.assess.findings import (
    display_path,
    dropped_rows_finding,
    poisoning_findings,
    privacy_findings,
    robustness_findings,
)
from bastion.assess.poisoning.evaluate import PoisoningReport, sanitize, screen_data
from bastion.assess.privacy.evaluate import PrivacyReport, evaluate_privacy
from bastion.assess.progress import ProgressSink, TimeBudget, silent
from bastion.assess.robustness.evaluate import RobustnessReport, evaluate_robustness
from bastion.assess.targets import Target, load_target
from bastion.core import Artifact, ArtifactKind, Finding, ScanResult


@dataclass(frozen=True, eq=False)
class Assessment:
    """The findings (as a ScanResult) and the detailed reports behind them."""

    result: ScanResult
    settings: AssessSettings
    checks: tuple[Check, ...]
    robustness: tuple[RobustnessReport, ...] = ()
    privacy: tuple[PrivacyReport, ...] = ()
    poisoning: PoisoningReport | None = None
    targets: tuple[dict[str, object], ...] = ()
    data_summary: dict[str, object] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    sanitized: tuple[str, ...] = ()
    image_shape: tuple[int, ...] = ()
    image: bool = False
    data: AssessData | None = None


def _artifact(path: str, base: Path, kind: ArtifactKind, fmt: str) -> Artifact:
    file = Path(path)
    if "://" in path or not file.is_file():
        return Artifact(display_path(path, base), fmt, kind, 0)
    digest = hashlib.sha256()
    with file.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return Artifact(
        display_path(path, base), fmt, kind, file.stat().st_size, sha256=digest.hexdigest()
    )


def _precision(settings: AssessSettings) -> str:
    if not torch_available():
        return "fp32"
    return resolve_precision(settings.robustness.precision, pick_device(settings.device))


def assess(
    settings: AssessSettings,
    checks: tuple[Check, ...] | None = None,
    *,
    only_targets: tuple[str, ...] = (),
    sanitize_dir: Path | None = None,
    progress: ProgressSink = silent,
) -> Assessment:
    """Run the requested checks (default: the ``checks`` the policy lists) on every target."""
    import time

    started = datetime.now(timezone.utc)
    checks = tuple(c for c in CHECKS if c in (checks or settings.checks))
    budget = TimeBudget(settings.time_budget_s)
    timings: dict[str, float] = {}
    with cpu_threads(settings.threads if pick_device_is_cpu(settings) else None):
        seed_everything(settings.seed)
        clock = time.monotonic()
        data = load_data(settings.data, settings.base_dir)
        timings["load data"] = time.monotonic() - clock
        base = settings.base_dir
        findings: list[Finding] = []
        artifacts: list[Artifact] = []
        data_path = settings.data.train or Path(settings.data.entry or "data")
        data_display = display_path(str(data_path), base)
        artifacts += [
            _artifact(str(split), base, ArtifactKind.DATASET, "data")
            for split in (settings.data.train, settings.data.test)
            if split is not None
        ]
        findings += [
            dropped_rows_finding(origin, rows, display_path(origin, base))
            for origin, rows in data.dropped
        ]
        specs = [t for t in settings.targets if not only_targets or t.name in only_targets]
        if only_targets and len(specs) != len(set(only_targets)):
            known = ", ".join(t.name for t in settings.targets)
            raise AssessError(f"{settings.source}: unknown target in {only_targets} ({known})")
        robustness: list[RobustnessReport] = []
        privacy: list[PrivacyReport] = []
        described: list[dict[str, object]] = []
        needs_targets = "robustness" in checks or "privacy" in checks
        if needs_targets and not specs:
            raise AssessError(
                f"{settings.source}: robustness and privacy checks need [assess.targets.NAME]"
            )
        for spec in specs if needs_targets else ():
            target_data = load_data(spec.data, base) if spec.data else data
            target = load_target(spec, target_data.n_classes, base_dir=base, device=settings.device)
            target.check_input(target_data.train.x[:2])
            path = display_path(target.source, base)
            artifacts.append(_artifact(target.source, base, ArtifactKind.MODEL, spec.kind))
            if "robustness" in checks:
                clock = time.monotonic()
                report = evaluate_robustness(
                    target,
                    target_data.holdout(),
                    settings.robustness,
                    bounds=target_data.bounds,
                    image=target_data.image,
                    seed=settings.seed,
                    precision=_precision(settings),  # type: ignore[arg-type]
                    budget=budget,
                    progress=progress,
                )
                robustness.append(report)
                findings += robustness_findings(report, settings.robustness, path)
                timings[f"robustness {spec.name}"] = time.monotonic() - clock
            if "privacy" in checks:
                clock = time.monotonic()
                preport = evaluate_privacy(
                    target,
                    target_data,
                    settings.privacy,
                    seed=settings.seed,
                    budget=budget,
                    progress=progress,
                )
                privacy.append(preport)
                findings += privacy_findings(preport, settings.privacy, path)
                timings[f"privacy {spec.name}"] = time.monotonic() - clock
            described.append({**target.describe(), "queries": target.queries, "path": path})
        poisoning = None
        sanitized: tuple[str, ...] = ()
        if "data" in checks:
            clock = time.monotonic()
            network = _network_target(settings, data, specs)
            poisoning = screen_data(
                data.train,
                settings.poisoning,
                image=data.image,
                target=network,
                seed=settings.seed,
                progress=progress,
            )
            findings += poisoning_findings(poisoning, settings.poisoning, data_display)
            out = sanitize_dir or settings.poisoning.sanitize_dir
            if out is not None:
                cleaned, listing = sanitize(data.train, poisoning, out)
                sanitized = (str(cleaned), str(listing))
            timings["data"] = time.monotonic() - clock
    finished = datetime.now(timezone.utc)
    result = ScanResult(
        root=str(base),
        started=started,
        finished=finished,
        artifacts=tuple(artifacts),
        findings=tuple(sorted(findings, key=lambda f: f.sort_key())),
    )
    return Assessment(
        result=result,
        settings=settings,
        checks=checks,
        robustness=tuple(robustness),
        privacy=tuple(privacy),
        poisoning=poisoning,
        targets=tuple(described),
        data_summary=_data_summary(data),
        timings=timings,
        sanitized=sanitized,
        image_shape=data.input_shape,
        image=data.image,
        data=data,
    )


def pick_device_is_cpu(settings: AssessSettings) -> bool:
    """Whether the run is on the CPU (thread limits only apply there)."""
    if settings.device == "cpu" or not torch_available():
        return True
    return pick_device(settings.device).type == "cpu"


def _network_target(
    settings: AssessSettings, data: AssessData, specs: list[TargetSpec]
) -> Target | None:
    """The first target whose own representation the backdoor screens can use."""
    for spec in settings.targets:
        if spec.kind in ("torch", "onnx") and spec.data is None and (not specs or spec in specs):
            try:
                target = load_target(
                    spec, data.n_classes, base_dir=settings.base_dir, device=settings.device
                )
            except AssessError:
                return None
            return target
    return None


def _data_summary(data: AssessData) -> dict[str, object]:
    return {
        "train_rows": len(data.train),
        "test_rows": len(data.test) if data.test is not None else 0,
        "input_shape": list(data.input_shape),
        "classes": data.n_classes,
        "bounds": list(data.bounds),
        "image": data.image,
        "dropped_rows": sum(len(r) for _, r in data.dropped),
        "train_source": data.train.source,
        "test_source": data.test.source if data.test is not None else None,
    }
