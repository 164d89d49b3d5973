"""Measuring a project's posture now: scan, model and dataset digests, dependencies, gateway.

>>> from pathlib import Path
>>> from bastion.posture.collect import observe                     # doctest: +SKIP
>>> seen = observe(Path("."), options, policy, settings, project="demo")   # doctest: +SKIP
>>> [m.path for m in seen.posture.models]                            # doctest: +SKIP
['models/classifier.safetensors']

Everything reuses what the other commands compute: the scan engine and policy for findings,
``integrity``'s model discovery and model-signing manifest hashing for digests (so a digest here
is the digest ``bastion sign`` signs), ``scan.deps.lockfiles`` for the dependency set. What
cannot be measured (a file that cannot be hashed, a lockfile that does not parse) is returned as
an :class:`Unchecked` item, never silently dropped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bastion.config import LoadedConfig
from bastion.core import ScanResult
from bastion.errors import BastionError
from bastion.integrity._discover import find_models, read_config
from bastion.integrity.hashing import hash_model
from bastion.integrity.signing import SignOptions, signing_plan
from bastion.policy.evaluate import Verdict, evaluate
from bastion.policy.model import Policy
from bastion.posture.canonical import canonical_json, policy_digest
from bastion.posture.config import PostureSettings
from bastion.posture.model import (
    AcceptedFinding,
    DependencyEntry,
    DigestEntry,
    MetricEntry,
    Posture,
)
from bastion.registry import Registry, default_registry
from bastion.scan.code.suppress import InlineSuppressor
from bastion.scan.deps.lockfiles import LockfileError, find_lockfiles, read_lockfile
from bastion.scan.engine import ScanOptions, scan


@dataclass(frozen=True)
class Unchecked:
    """Something the posture covers that could not be measured, and why."""

    path: str
    message: str


@dataclass(frozen=True)
class Observation:
    """The posture measured now, with the scan behind it and what could not be measured."""

    posture: Posture
    result: ScanResult
    verdict: Verdict
    unchecked: tuple[Unchecked, ...] = ()
    model_paths: Mapping[str, Path] = field(default_factory=dict)
    dataset_paths: Mapping[str, Path] = field(default_factory=dict)


def gateway_digest(loaded: LoadedConfig) -> str | None:
    """``sha256:`` of the policy's ``[gateway]`` table as canonical JSON (``None`` if absent)."""
    table = loaded.sections.get("gateway")
    if table is None:
        return None
    return "sha256:" + hashlib.sha256(canonical_json(table).encode("utf-8")).hexdigest()


def _rel(path: Path, root: Path) -> str:
    try:
        return path.absolute().relative_to(root.absolute()).as_posix() or "."
    except ValueError:
        return str(path)


def folder_digest(path: Path) -> tuple[str, tuple[str, ...]]:
    """The model-signing root digest of a file or folder, as ``bastion sign`` would compute it,
    and the files that could not be hashed."""
    serialization, patterns = signing_plan(path, SignOptions())
    local = hash_model(path, serialization, ignore_patterns=patterns)
    problems = tuple(f"{p.path}: {p.detail}" for p in local.problems)
    return "sha256:" + local.manifest.root_digest, problems


def _declared_folder(directory: Path) -> bool:
    """A folder that says it is one model: bastion side files or a Hugging Face config."""
    if (directory / "model.sig").is_file() or (directory / "model.att.json").is_file():
        return True
    config = read_config(directory)
    return "model_type" in config or "architectures" in config


def model_units(project: Path, exclude: tuple[str, ...]) -> list[tuple[str, Path, str]]:
    """``(name, path, formats)`` of every model: a declared model folder as one unit, any other
    model file on its own (so adding a file next to a model is a new model, not a change of a
    folder that was never one)."""
    units: list[tuple[str, Path, str]] = []
    for unit in find_models(project, exclude):
        if unit.is_folder and not _declared_folder(unit.path):
            units.extend((f.rel, f.path, f.format) for f in unit.files)
        else:
            units.append((unit.rel, unit.path, ",".join(unit.formats)))
    return sorted(units)


def _digests(
    entries: list[tuple[str, Path, str]], root: Path, unchecked: list[Unchecked]
) -> tuple[list[DigestEntry], dict[str, Path]]:
    found: list[DigestEntry] = []
    paths: dict[str, Path] = {}
    for name, path, fmt in entries:
        rel = _rel(path, root)
        try:
            digest, problems = folder_digest(path)
        except BastionError as exc:
            unchecked.append(Unchecked(rel, f"cannot hash {name}: {exc.diagnostics()}"))
            continue
        except OSError as exc:
            unchecked.append(Unchecked(rel, f"cannot hash {name}: {exc.strerror or exc}"))
            continue
        unchecked.extend(Unchecked(rel, f"not hashed: {problem}") for problem in problems)
        found.append(DigestEntry(name, rel, digest, fmt))
        paths[name] = path
    return found, paths


def dependencies(
    project: Path, lockfiles: tuple[Path, ...] | None, unchecked: list[Unchecked]
) -> tuple[DependencyEntry, ...]:
    """The dependency set: the first (most precise) file that names a package wins."""
    files = (
        lockfiles
        if lockfiles is not None
        else (find_lockfiles(project) if project.is_dir() else ())
    )
    found: dict[str, DependencyEntry] = {}
    for path in files:
        rel = _rel(path, project)
        try:
            deps = read_lockfile(path)
        except LockfileError as exc:
            unchecked.append(Unchecked(rel, f"dependencies not read: {exc.problem}"))
            continue
        for dep in deps:
            requirement = f"=={dep.version}" if dep.version else (dep.specifier or "*")
            if dep.url:
                requirement += f" @ {dep.url}"
            entry = DependencyEntry(dep.name, requirement, rel, dep.ecosystem, dep.line)
            found.setdefault(entry.key, entry)
    return tuple(found[k] for k in sorted(found))


def observe(
    project: Path,
    options: ScanOptions,
    loaded: LoadedConfig,
    settings: PostureSettings,
    *,
    name: str,
    datasets: Mapping[str, Path] | None = None,
    metrics: tuple[MetricEntry, ...] = (),
    metrics_source: str | None = None,
    registry: Registry | None = None,
) -> Observation:
    """Measure the posture of ``project`` (a folder, or a single model file)."""
    policy: Policy = loaded.policy
    registry = registry or default_registry()
    result = scan(project, options, registry=registry)
    inline = InlineSuppressor(project, policy.limits)
    verdict = evaluate(result, policy, suppressors=(inline,))
    root = project if project.is_dir() else project.parent
    unchecked: list[Unchecked] = []
    models, model_paths = _digests(model_units(project, policy.exclude), root, unchecked)
    chosen = dict(settings.datasets)
    chosen.update(datasets or {})
    data_entries = []
    for data_name, folder in sorted(chosen.items()):
        if not (folder.exists() or folder.is_symlink()):
            unchecked.append(Unchecked(_rel(folder, root), f"dataset {data_name!r} not found"))
            continue
        data_entries.append((data_name, folder, "dataset"))
    data, data_paths = _digests(data_entries, root, unchecked)
    posture = Posture(
        project=name,
        findings=tuple(
            AcceptedFinding(
                f.fingerprint,
                f.rule_id,
                f.severity,
                f.location.path,
                f.location.member,
                f.title,
            )
            for f in verdict.findings
        ),
        models=tuple(models),
        datasets=tuple(data),
        dependencies=dependencies(root, settings.lockfiles, unchecked),
        metrics=metrics,
        metrics_source=metrics_source,
        gateway_digest=gateway_digest(loaded),
        policy_digest=policy_digest(policy),
    )
    return Observation(posture, result, verdict, tuple(unchecked), model_paths, data_paths)
