"""The AI bill of materials: a CycloneDX 1.6 JSON BOM of an ML project.

>>> from pathlib import Path
>>> from bastion.integrity.bom import BomOptions, build_bom
>>> options = BomOptions(datasets=(("train", Path("data/train")),))
>>> result = build_bom(Path("."), options)            # doctest: +SKIP
>>> result.document["specVersion"]                    # doctest: +SKIP
'1.6'

Contents: every model found by content (``machine-learning-model`` components with SHA-256 — the
file's, or for a model folder the model-signing manifest digest, with each file nested — the
detected formats and framework, and a ``modelCard`` holding what bastion knows: Hugging Face
``config.json`` architecture, its attestation's scan verdict, source commit, lockfile and
assessment digests); datasets (``data`` components from ``--data`` folders and from attestations,
with their manifest digest); Python packages from the project's lockfile (``library`` components
with purls); and the relationships: project → models and direct packages, model → the datasets
its attestation says trained it (also ``modelCard.modelParameters.datasets``) and → the framework
packages the project pins.

It is built with ``cyclonedx-python-lib``; ``modelCard`` and component ``data``, which that
library does not model yet, are added to its JSON output, and the result is validated against the
CycloneDX 1.6 JSON schema shipped with the library before it is returned.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bastion import __version__
from bastion.errors import MissingDependencyError
from bastion.integrity._bom_parts import (
    FRAMEWORK_PACKAGES,
    AttestedFacts,
    ModelFacts,
    dataset_data,
    model_card,
    project_identity,
    read_attestation,
)
from bastion.integrity._discover import find_models
from bastion.integrity.errors import IntegrityError
from bastion.integrity.hashing import HashOptions, LocalManifest, hash_model
from bastion.integrity.signing import SignOptions, default_attestation_path, signing_plan
from bastion.integrity.verify import Trust
from bastion.scan.deps.lockfiles import Dependency, LockfileError, find_lockfiles, read_lockfile

DIGEST_METHOD = "model-signing v1.0 manifest root (files, sha256)"
_method = {"digest_method": DIGEST_METHOD}


@dataclass(frozen=True)
class BomOptions:
    """What to put in the BOM beyond what is found under the project."""

    datasets: tuple[tuple[str, Path], ...] = ()
    lockfiles: tuple[Path, ...] | None = None
    attestations: tuple[Path, ...] = ()
    trust: Trust | None = None
    exclude: tuple[str, ...] = ()
    hashing: HashOptions = field(default_factory=HashOptions)


@dataclass(frozen=True)
class BomResult:
    """The validated BOM document, its JSON text, counts and what could not be used."""

    document: dict[str, Any]
    text: str
    models: int
    datasets: int
    packages: int
    warnings: tuple[str, ...]


def _require() -> None:
    try:
        import cyclonedx  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError("cyclonedx-python-lib", "sign", "bastion bom") from exc


def _hash_folder(path: Path, hashing: HashOptions, warnings: list[str]) -> LocalManifest:
    """Hash as ``bastion sign`` would; what cannot be hashed becomes a warning, not a crash."""
    serialization, patterns = signing_plan(path, SignOptions())
    local = hash_model(path, serialization, ignore_patterns=patterns, options=hashing)
    warnings.extend(
        f"{path}: {problem.path} not hashed ({problem.detail})" for problem in local.problems
    )
    return local


def _dependencies(project: Path, options: BomOptions, warnings: list[str]) -> list[Dependency]:
    if options.lockfiles is not None:
        paths = options.lockfiles
        explicit = True
    else:
        found = find_lockfiles(project) if project.is_dir() else ()
        paths, explicit = found[:1], False
    deps: dict[tuple[str, str, str | None], Dependency] = {}
    for path in paths:
        try:
            items = read_lockfile(path)
        except LockfileError as exc:
            if explicit:
                raise
            warnings.append(f"dependencies not listed: {exc}")
            continue
        for dep in items:
            deps.setdefault((dep.ecosystem, dep.name, dep.version or dep.specifier), dep)
    return list(deps.values())


def build_bom(project: Path, options: BomOptions | None = None) -> BomResult:
    """Discover, hash and describe the project; return a schema-valid CycloneDX 1.6 BOM."""
    _require()
    from cyclonedx.model import HashAlgorithm, HashType, Property
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentScope, ComponentType
    from packageurl import PackageURL

    options = options or BomOptions()
    if not project.exists():
        raise IntegrityError(str(project), "no such file or directory")
    warnings: list[str] = []
    models = [
        ModelFacts(unit, _hash_folder(unit.path, options.hashing, warnings))
        for unit in find_models(project, options.exclude)
    ]
    extra = [read_attestation(p, options.trust) for p in options.attestations]
    warnings.extend(f"attestation not used: {item}" for item in extra if isinstance(item, str))
    for facts in models:
        facts.attestation = _attestation_for(facts, options, extra, warnings)

    bom = Bom()
    name, version = project_identity(project)
    root = Component(type=ComponentType.APPLICATION, name=name, version=version, bom_ref="project")
    bom.metadata.component = root
    bom.metadata.tools.components.add(
        Component(type=ComponentType.APPLICATION, name="bastion", version=__version__)
    )

    def sha(value: str) -> list[HashType]:
        return [HashType(alg=HashAlgorithm.SHA_256, content=value)]

    def props(**values: str) -> list[Property]:
        return [Property(name=f"bastion:{k.replace('_', '-')}", value=v) for k, v in values.items()]

    # Datasets: given folders first, then those attestations record (same name + digest merged).
    data_components: dict[str, Component] = {}
    data_blocks: dict[str, list[dict[str, Any]]] = {}
    by_name_digest: dict[tuple[str, str], str] = {}
    for ds_name, ds_path in options.datasets:
        local = _hash_folder(ds_path, options.hashing, warnings)
        digest = local.manifest.root_digest
        ref = f"data:{ds_name}"
        data_components[ref] = Component(
            type=ComponentType.DATA, name=ds_name, bom_ref=ref, hashes=sha(digest),
            properties=props(path=str(ds_path), digest_method=DIGEST_METHOD),
        )  # fmt: skip
        data_blocks[ref] = dataset_data(ds_name, local.files, local.bytes_total, "folder")
        by_name_digest[(ds_name, digest)] = ref

    packages = _dependencies(project, options, warnings)
    package_components: dict[str, Component] = {}
    for dep in packages:
        purl = dep.purl
        ref = purl if purl not in package_components else f"{purl}#{dep.source}:{dep.line}"
        extra_props = {"direct": str(dep.is_direct).lower(), "source": f"{dep.source}"}
        if dep.specifier:
            extra_props["specifier"] = dep.specifier
        if dep.group:
            extra_props["group"] = dep.group
        if dep.markers:
            extra_props["markers"] = dep.markers
        package_components[ref] = Component(
            type=ComponentType.LIBRARY, name=dep.name, version=dep.version, bom_ref=ref,
            purl=PackageURL.from_string(purl),
            scope=ComponentScope.OPTIONAL if dep.group else ComponentScope.REQUIRED,
            properties=props(**extra_props),
        )  # fmt: skip
    names_to_ref = {c.name: ref for ref, c in package_components.items()}

    model_components: list[tuple[Component, ModelFacts, list[str]]] = []
    for facts in models:
        unit = facts.unit
        ref = f"model:{unit.rel}"
        component = Component(
            type=ComponentType.MACHINE_LEARNING_MODEL, name=unit.name, bom_ref=ref,
            hashes=sha(facts.digest),
            properties=props(path=unit.rel, **(_method if unit.is_folder else {})),
        )  # fmt: skip
        if unit.is_folder:
            for resource in facts.local.manifest.resources:
                component.components.add(
                    Component(
                        type=ComponentType.FILE, name=resource.path,
                        bom_ref=f"{ref}/{resource.path}", hashes=sha(resource.digest),
                    )
                )  # fmt: skip
        dataset_refs: list[str] = []
        for record in facts.attestation.datasets if facts.attestation else []:
            rec_name = str(record.get("name"))
            digest_rec = record.get("digest")
            rec_digest = digest_rec.get("sha256") if isinstance(digest_rec, dict) else None
            if not isinstance(rec_digest, str):
                continue
            ref_ds = by_name_digest.get((rec_name, rec_digest))
            if ref_ds is None:
                ref_ds = f"data:{rec_name}@{rec_digest[:12]}"
                if ref_ds not in data_components:
                    data_components[ref_ds] = Component(
                        type=ComponentType.DATA, name=rec_name, bom_ref=ref_ds,
                        hashes=sha(rec_digest), properties=props(digest_method=DIGEST_METHOD),
                    )  # fmt: skip
                    data_blocks[ref_ds] = dataset_data(
                        rec_name, record.get("files"), record.get("bytes"), "attestation"
                    )
                by_name_digest[(rec_name, rec_digest)] = ref_ds
            dataset_refs.append(ref_ds)
        model_components.append((component, facts, dataset_refs))

    for component, _, _ in model_components:
        bom.components.add(component)
    bom.components.update(data_components.values())
    bom.components.update(package_components.values())
    used_data: set[str] = set()
    for component, facts, dataset_refs in model_components:
        depends = [data_components[r] for r in dataset_refs]
        used_data.update(dataset_refs)
        depends.extend(
            package_components[names_to_ref[package]]
            for framework in facts.unit.frameworks
            for package in FRAMEWORK_PACKAGES.get(framework, ())
            if package in names_to_ref
        )
        if depends:
            bom.register_dependency(component, depends)
    direct = [c for c in package_components.values() if _is_direct(c)] or list(
        package_components.values()
    )
    free_data = [c for r, c in data_components.items() if r not in used_data]
    top = [c for c, _, _ in model_components] + free_data + direct
    if top:
        bom.register_dependency(root, top)

    document = _serialize(bom)
    cards = {f"model:{f.unit.rel}": model_card(f, refs) for _, f, refs in model_components}
    _inject(document, cards, data_blocks)
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    validate_bom(text)
    notes = [n for f in models for n in f.notes]
    return BomResult(
        document, text, len(models), len(data_components), len(package_components),
        tuple(warnings + notes),
    )  # fmt: skip


def _is_direct(component: Any) -> bool:
    return any(p.name == "bastion:direct" and p.value == "true" for p in component.properties)


def _attestation_for(
    facts: ModelFacts,
    options: BomOptions,
    extra: list[AttestedFacts | str],
    warnings: list[str],
) -> AttestedFacts | None:
    candidates: list[AttestedFacts | str] = []
    sidecar = default_attestation_path(facts.unit.path)
    if sidecar.is_file():
        candidates.append(read_attestation(sidecar, options.trust))
    candidates.extend(extra)
    for candidate in candidates:
        if isinstance(candidate, str):
            if candidate not in warnings and candidate.startswith(str(sidecar)):
                facts.notes.append(f"attestation not used: {candidate}")
            continue
        if candidate.subject == facts.local.manifest.root_digest:
            return candidate
        if candidate.path == sidecar:
            facts.notes.append(
                f"{sidecar}: attestation is for another digest than the model's; not used"
            )
    return None


def _serialize(bom: Any) -> dict[str, Any]:
    from cyclonedx.output.json import JsonV1Dot6

    data: dict[str, Any] = json.loads(JsonV1Dot6(bom).output_as_string())
    return data


def _inject(
    document: dict[str, Any],
    cards: dict[str, dict[str, Any]],
    data_blocks: dict[str, list[dict[str, Any]]],
) -> None:
    for component in document.get("components", []):
        ref = component.get("bom-ref")
        if ref in cards:
            component["modelCard"] = cards[ref]
        if ref in data_blocks:
            component["data"] = data_blocks[ref]


def validate_bom(text: str) -> None:
    """Validate BOM JSON against the CycloneDX 1.6 schema; raise :class:`IntegrityError`."""
    try:
        from cyclonedx.schema import SchemaVersion
        from cyclonedx.validation.json import JsonStrictValidator
    except ImportError as exc:
        raise MissingDependencyError(
            "cyclonedx-python-lib[json-validation]", "sign", "Validating the BOM"
        ) from exc
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    if error is not None:
        raise IntegrityError("bom", f"the generated BOM is not valid CycloneDX 1.6: {error}")
