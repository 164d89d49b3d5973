"""The signed manifest: every file's (or shard's) digest, in the OpenSSF model-signing format.

A :class:`Manifest` is what a signature covers. It is the ``predicate`` of an in-toto Statement v1
with predicate type ``https://model_signing/signature/v1.0``, exactly as ``model_signing`` 1.1.1
writes it: a ``serialization`` block (method ``files`` or ``shards``, hash type, symlink policy,
ignored paths) and a ``resources`` list of ``{name, algorithm, digest}``. The statement's single
subject is the model's name with the SHA-256 over all resource digests in canonical order, which
is the model's digest everywhere in bastion (attestations, the deployment gate, the BOM).

bastion adds one predicate field, ``bastion`` (file sizes and the ignore patterns the signer
chose); v1.0 verifiers ignore unknown predicate fields, so ``model_signing`` verifies the result.

>>> from bastion.integrity.manifest import Manifest, Resource, Serialization
>>> m = Manifest("demo", Serialization(), (Resource("a.bin", "sha256", "00" * 32),))
>>> m.root_digest[:12]
'7f9c9e31ac82'
>>> m.statement()["predicateType"]
'https://model_signing/signature/v1.0'
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import PurePosixPath
from typing import Any

from bastion.integrity.errors import SignatureFormatError, UnsafePathError

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
SIGNATURE_PREDICATE = "https://model_signing/signature/v1.0"
#: Paths model_signing always ignores (relative to the model folder).
GIT_PATHS: tuple[str, ...] = (".git", ".gitattributes", ".github", ".gitignore")
#: The hash types model_signing can record; bastion signs with sha256 and verifies all three.
HASH_TYPES: tuple[str, ...] = ("sha256", "blake2", "blake3")
#: The per-resource algorithm name model_signing writes for each hash type.
ALGORITHM_NAMES: dict[str, str] = {"sha256": "sha256", "blake2": "blake2b", "blake3": "blake3"}
METHODS: tuple[str, ...] = ("files", "shards")
#: Bounds on what a signature may declare (a hostile file must not exhaust memory).
MAX_RESOURCES = 5_000_000
MAX_NAME_LENGTH = 4096

_HEX = re.compile(r"^[0-9a-f]+$")


def check_relative(path: str, *, source: str, allow_dot: bool = False) -> str:
    """Return ``path`` if it is a clean relative POSIX path inside the folder, else raise.

    Rejected: empty, absolute, ``..`` or ``.`` components, back-slashes, NUL, over-long names.
    ``allow_dot`` admits the single ``.`` model_signing writes for a one-file model.
    """
    if allow_dot and path == ".":
        return path
    problem = None
    if not path or len(path) > MAX_NAME_LENGTH:
        problem = "empty or over-long path"
    elif path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        problem = "absolute path"
    elif "\\" in path or "\x00" in path:
        problem = "back-slash or NUL in path"
    elif any(part in ("", ".", "..") for part in path.split("/")):
        problem = "'..', '.' or empty component"
    if problem:
        raise UnsafePathError(source, f"unsafe path {path!r} in manifest: {problem}")
    return path


@dataclass(frozen=True)
class Serialization:
    """How a manifest was computed; recorded in the signature so verification can redo it."""

    method: str = "files"
    hash_type: str = "sha256"
    shard_size: int | None = None
    allow_symlinks: bool = False
    ignore_paths: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown serialization method {self.method!r}")
        if self.hash_type not in HASH_TYPES:
            raise ValueError(f"unknown hash type {self.hash_type!r}")
        if self.method == "shards" and (self.shard_size is None or self.shard_size <= 0):
            raise ValueError("shard serialization needs a positive shard_size")

    @property
    def algorithm(self) -> str:
        """The per-resource algorithm name, as model_signing writes it."""
        name = ALGORITHM_NAMES[self.hash_type]
        if self.method == "shards":
            return f"{name}-sharded-{self.shard_size}"
        return name

    def to_json(self) -> dict[str, Any]:
        """The ``serialization`` block of the predicate."""
        data: dict[str, Any] = {
            "method": self.method,
            "hash_type": self.hash_type,
            "allow_symlinks": self.allow_symlinks,
        }
        if self.method == "shards":
            data["shard_size"] = self.shard_size
        if self.ignore_paths:
            data["ignore_paths"] = list(self.ignore_paths)
        return data

    @classmethod
    def from_json(cls, data: object, *, source: str) -> Serialization:
        """Read and validate a ``serialization`` block (protobuf turns integers into floats)."""
        if not isinstance(data, dict):
            raise SignatureFormatError(source, "predicate.serialization is not an object")
        method, hash_type = data.get("method"), data.get("hash_type")
        if method not in METHODS:
            raise SignatureFormatError(source, f"unsupported serialization method {method!r}")
        if hash_type not in HASH_TYPES:
            raise SignatureFormatError(source, f"unsupported hash type {hash_type!r}")
        allow = data.get("allow_symlinks", False)
        if not isinstance(allow, bool):
            raise SignatureFormatError(source, "serialization.allow_symlinks is not a boolean")
        shard_size = None
        if method == "shards":
            raw = data.get("shard_size")
            if isinstance(raw, bool) or not isinstance(raw, int | float) or raw != int(raw):
                raise SignatureFormatError(source, "serialization.shard_size is not an integer")
            shard_size = int(raw)
            if shard_size <= 0:
                raise SignatureFormatError(source, "serialization.shard_size is not positive")
        ignore = data.get("ignore_paths", [])
        if not isinstance(ignore, list) or not all(isinstance(p, str) for p in ignore):
            raise SignatureFormatError(source, "serialization.ignore_paths is not a string list")
        cleaned = tuple(sorted({check_relative(p.rstrip("/"), source=source) for p in ignore}))
        return cls(str(method), str(hash_type), shard_size, allow, cleaned)


@dataclass(frozen=True)
class Resource:
    """One manifest item: a file (``path``) or a shard of one (``path:start:end``)."""

    name: str
    algorithm: str
    digest: str

    @property
    def path(self) -> str:
        """The file the resource belongs to (``.`` for a one-file model)."""
        return self.name.rsplit(":", 2)[0] if self.span is not None else self.name

    @property
    def span(self) -> tuple[int, int] | None:
        """``(start, end)`` for a shard, ``None`` for a whole file."""
        parts = self.name.rsplit(":", 2)
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            return int(parts[1]), int(parts[2])
        return None

    def sort_key(self) -> tuple[tuple[str, ...], int, int]:
        """model_signing's canonical order: path components, then shard offsets."""
        span = self.span or (0, 0)
        return (PurePosixPath(self.path).parts, span[0], span[1])


class ChangeKind(str, Enum):
    """How a file differs from the signed manifest."""

    CHANGED = "changed"
    ADDED = "added"
    REMOVED = "removed"
    SYMLINK = "symlink"
    UNREADABLE = "unreadable"
    UNSAFE = "unsafe-path"


@dataclass(frozen=True)
class FileChange:
    """One file that does not match: what happened to it, in words."""

    path: str
    kind: ChangeKind
    detail: str


@dataclass(frozen=True)
class Manifest:
    """The digests of a model (or dataset) folder, as signed."""

    name: str
    serialization: Serialization
    resources: tuple[Resource, ...]
    sizes: Mapping[str, int] = field(default_factory=dict, compare=False, hash=False)
    ignore_patterns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.resources, key=Resource.sort_key))
        object.__setattr__(self, "resources", ordered)

    @property
    def root_digest(self) -> str:
        """SHA-256 over the raw resource digests in canonical order (the statement subject)."""
        hasher = hashlib.sha256()
        for resource in self.resources:
            hasher.update(bytes.fromhex(resource.digest))
        return hasher.hexdigest()

    @property
    def total_size(self) -> int:
        """Bytes covered, when sizes are known (bastion manifests), else from shard ends."""
        if self.sizes:
            return sum(self.sizes.values())
        return sum(r.span[1] for r in self.resources if r.span and r.span[1])

    def by_path(self) -> dict[str, tuple[Resource, ...]]:
        """Resources grouped by file, files in canonical order."""
        grouped: dict[str, list[Resource]] = {}
        for resource in self.resources:
            grouped.setdefault(resource.path, []).append(resource)
        return {k: tuple(v) for k, v in grouped.items()}

    def predicate(self) -> dict[str, Any]:
        """The model-signing v1.0 predicate (plus bastion's sizes and ignore patterns)."""
        predicate: dict[str, Any] = {
            "serialization": self.serialization.to_json(),
            "resources": [
                {"name": r.name, "algorithm": r.algorithm, "digest": r.digest}
                for r in self.resources
            ],
        }
        if self.sizes or self.ignore_patterns:
            predicate["bastion"] = {
                "version": 1,
                "sizes": dict(sorted(self.sizes.items())),
                "ignore_patterns": list(self.ignore_patterns),
            }
        return predicate

    def statement(self) -> dict[str, Any]:
        """The in-toto Statement v1 that is signed."""
        return {
            "_type": STATEMENT_TYPE,
            "subject": [{"name": self.name, "digest": {"sha256": self.root_digest}}],
            "predicateType": SIGNATURE_PREDICATE,
            "predicate": self.predicate(),
        }

    @classmethod
    def from_statement(cls, statement: Mapping[str, Any], *, source: str) -> Manifest:
        """Validate a signed statement and read its manifest (names are checked for safety)."""
        if statement.get("_type") != STATEMENT_TYPE:
            raise SignatureFormatError(
                source, f"not an in-toto Statement v1: {statement.get('_type')!r}"
            )
        if statement.get("predicateType") != SIGNATURE_PREDICATE:
            raise SignatureFormatError(
                source,
                f"predicate type {statement.get('predicateType')!r} is not a model signature "
                f"({SIGNATURE_PREDICATE})",
            )
        subjects = statement.get("subject")
        if (
            not isinstance(subjects, list)
            or len(subjects) != 1
            or not isinstance(subjects[0], dict)
        ):
            raise SignatureFormatError(source, "a model signature has exactly one subject")
        subject = subjects[0]
        digest = subject.get("digest")
        expected = digest.get("sha256") if isinstance(digest, dict) else None
        name = subject.get("name")
        if not isinstance(expected, str) or not isinstance(name, str):
            raise SignatureFormatError(source, "subject has no name or sha256 digest")
        predicate = statement.get("predicate")
        if not isinstance(predicate, dict):
            raise SignatureFormatError(source, "predicate is not an object")
        serialization = Serialization.from_json(predicate.get("serialization"), source=source)
        resources = _read_resources(predicate.get("resources"), serialization, source)
        sizes, patterns = _read_extension(predicate.get("bastion"), source)
        manifest = cls(name, serialization, resources, sizes, patterns)
        if manifest.root_digest != expected.lower():
            raise SignatureFormatError(
                source,
                f"inconsistent manifest: subject digest {expected} but the resources hash to "
                f"{manifest.root_digest}",
            )
        return manifest


def _read_resources(raw: object, serialization: Serialization, source: str) -> tuple[Resource, ...]:
    if not isinstance(raw, list):
        raise SignatureFormatError(source, "predicate.resources is not a list")
    if len(raw) > MAX_RESOURCES:
        raise SignatureFormatError(source, f"more than {MAX_RESOURCES} resources")
    resources: list[Resource] = []
    seen: set[str] = set()
    for item in raw:
        if not isinstance(item, dict):
            raise SignatureFormatError(source, "a resource is not an object")
        name, algorithm, digest = item.get("name"), item.get("algorithm"), item.get("digest")
        if not (isinstance(name, str) and isinstance(algorithm, str) and isinstance(digest, str)):
            raise SignatureFormatError(source, "a resource lacks name, algorithm or digest")
        digest = digest.lower()
        if not _HEX.match(digest) or len(digest) % 2 or len(digest) > 256:
            raise SignatureFormatError(source, f"resource {name!r}: digest is not hex")
        if algorithm.split("-sharded-")[0] != ALGORITHM_NAMES[serialization.hash_type]:
            raise SignatureFormatError(
                source, f"resource {name!r}: algorithm {algorithm!r} does not match the hash type"
            )
        resource = Resource(name, algorithm, digest)
        span = resource.span
        if serialization.method == "shards":
            if span is None or not 0 <= span[0] < span[1]:
                raise SignatureFormatError(source, f"resource {name!r} is not a valid shard name")
        check_relative(resource.path, source=source, allow_dot=True)
        if name in seen:
            raise SignatureFormatError(source, f"resource {name!r} is listed twice")
        seen.add(name)
        resources.append(resource)
    return tuple(resources)


def _read_extension(raw: object, source: str) -> tuple[dict[str, int], tuple[str, ...]]:
    if raw is None:
        return {}, ()
    if not isinstance(raw, dict):
        raise SignatureFormatError(source, "predicate.bastion is not an object")
    sizes_raw = raw.get("sizes", {})
    patterns_raw = raw.get("ignore_patterns", [])
    if not isinstance(sizes_raw, dict) or not isinstance(patterns_raw, list):
        raise SignatureFormatError(source, "predicate.bastion has malformed sizes or patterns")
    sizes: dict[str, int] = {}
    for key, value in sizes_raw.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise SignatureFormatError(source, f"size of {key!r} is not a byte count")
        sizes[check_relative(key, source=source, allow_dot=True)] = int(value)
    if not all(isinstance(p, str) and p for p in patterns_raw):
        raise SignatureFormatError(source, "predicate.bastion.ignore_patterns holds non-strings")
    return sizes, tuple(str(p) for p in patterns_raw)


def compare(expected: Manifest, actual: Manifest) -> tuple[FileChange, ...]:
    """Every file that was added, removed or changed, with a human detail; renames are hinted."""
    want, have = _files(expected), _files(actual, like=expected)
    changes: list[FileChange] = []
    removed = [p for p in want if p not in have]
    added = [p for p in have if p not in want]
    removed_by_content = {want[p]: p for p in removed}
    for path, identity in want.items():
        if path in have and have[path] != identity:
            detail = _change_detail(path, expected, actual)
            changes.append(FileChange(path, ChangeKind.CHANGED, detail))
    changes.extend(
        FileChange(p, ChangeKind.REMOVED, "listed in the signed manifest, not found")
        for p in removed
    )
    for path in added:
        twin = removed_by_content.get(have[path])
        detail = "not in the signed manifest"
        if twin is not None:
            detail += f" (same content as the missing {twin}: renamed?)"
        changes.append(FileChange(path, ChangeKind.ADDED, detail))
    return tuple(sorted(changes, key=lambda c: (PurePosixPath(c.path).parts, c.kind.value)))


_Identity = tuple[tuple[str, str], ...]


def _files(manifest: Manifest, like: Manifest | None = None) -> dict[str, _Identity]:
    """Each file's content identity: its resources' (span, digest), empty for an empty file.

    Shard manifests list no resource for an empty file; bastion's recorded sizes still name it,
    so an empty file added or removed is caught whenever the signed manifest has sizes.
    """
    files: dict[str, _Identity] = {
        path: tuple((str(r.span), r.digest) for r in resources)
        for path, resources in manifest.by_path().items()
    }
    reference = like if like is not None else manifest
    if reference.sizes:
        for path in manifest.sizes:
            files.setdefault(path, ())
    return files


def _change_detail(path: str, expected: Manifest, actual: Manifest) -> str:
    before, after = expected.sizes.get(path), actual.sizes.get(path)
    if before is not None and after is not None and before != after:
        how = "truncated" if after < before else "grown"
        return f"content differs ({how}: {before:,} → {after:,} bytes)"
    return "content differs from the signed digest"
