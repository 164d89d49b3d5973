"""Keras model files: ``.keras`` archives, architecture JSON, and SavedModel Keras metadata.

Nothing is imported from Keras or TensorFlow and no model is loaded: configs are parsed as JSON
(bounded in size and nesting) and walked by
:class:`~bastion.scan.formats.keras_config.ConfigWalker`.

* ``keras`` — the Keras 3 zip: ``config.json`` and ``metadata.json`` are checked here, every
  other member (``model.weights.h5``, ``assets/…``) is dispatched by content like any archive
  member, so the weights go to the HDF5 analyzer.
* ``keras-json`` — a ``model.to_json()`` file; claimed by :meth:`KerasJsonAnalyzer.sniff` when a
  JSON document has the shape of a Keras object.
* ``keras-metadata`` — TF SavedModel's ``keras_metadata.pb``: a ``SavedMetadata`` protobuf whose
  nodes carry JSON strings, read with :mod:`~bastion.scan.formats.protowire`.

Legacy ``.h5`` models are read by :mod:`bastion.scan.formats.hdf5`, which uses the same checks.
"""

from __future__ import annotations

import json

from bastion.core import ArtifactKind, Severity, SkipReason
from bastion.errors import MalformedInputError
from bastion.scan.blob import Blob, BytesBlob
from bastion.scan.formats import protowire, zipread
from bastion.scan.formats.archive import ARCHIVE_RULES, walk_zip
from bastion.scan.formats.keras_config import ConfigIssue, ConfigWalker
from bastion.scan.formats.keras_knowledge import looks_like_keras_json
from bastion.scan.formats.keras_rules import (
    CONFIG_RULES,
    MALFORMED_CONFIG,
    OVERSIZED_CONFIG,
)
from bastion.scan.interface import AnalysisContext, Analyzer

#: The largest config bastion parses (real ones are kilobytes to a few megabytes).
MAX_CONFIG_BYTES = 64 * 1024 * 1024


def config_limit(ctx: AnalysisContext) -> int:
    """The byte bound on one config, within the project's JSON limit."""
    return min(MAX_CONFIG_BYTES, ctx.limits.max_json_bytes)


def read_bounded(blob: Blob, ctx: AnalysisContext, what: str) -> bytes | None:
    """The blob's bytes, or ``None`` (reported) when it is larger than a config may be."""
    limit = config_limit(ctx)
    size = blob.size
    if size is None or size <= limit:
        with blob.open() as stream:
            data = stream.read(limit + 1)
        if len(data) <= limit:
            return data
    _oversized(ctx, what, limit)
    return None


def _oversized(ctx: AnalysisContext, what: str, limit: int) -> None:
    # NOTE: fail closed. Keras parses a config of any size, and JSON whitespace or an ignored
    # key pads a Lambda past the bound for nothing (the zip compresses the padding away).
    ctx.report(
        OVERSIZED_CONFIG.finding(
            ctx.location(),
            f"{what} is larger than {limit} bytes; it was not parsed, so code in it would go "
            "unseen.",
            evidence=f"{what}: oversized",
            severity=Severity.HIGH,
        )
    )
    ctx.skip(SkipReason.LIMIT, f"{what} exceeds {limit} bytes")


def parse_config(
    data: bytes | str, ctx: AnalysisContext, what: str, *, require_object: bool = True
) -> object | None:
    """Parse JSON config text; malformed or too deep input is reported and gives ``None``."""
    try:
        # NOTE: bytes go to json.loads as they are, the way keras.saving reads config.json: it
        # detects a BOM and UTF-16/32, so a config in those encodings still loads.
        value: object = json.loads(data)
    except RecursionError:
        ctx.report(
            OVERSIZED_CONFIG.finding(
                ctx.location(),
                f"{what} nests too deeply to parse (a recursion bomb).",
                evidence=f"{what}: nesting",
            )
        )
        return None
    except (UnicodeDecodeError, ValueError) as exc:
        _malformed(ctx, what, f"not valid JSON: {str(exc)[:160]}")
        return None
    if require_object and not isinstance(value, dict):
        _malformed(ctx, what, f"a JSON {type(value).__name__}, not an object")
        return None
    return value


def _malformed(ctx: AnalysisContext, what: str, why: str, severity: Severity | None = None) -> None:
    ctx.report(
        MALFORMED_CONFIG.finding(
            ctx.location(), f"{what} is {why}.", evidence=f"{what}: {why}", severity=severity
        )
    )


def check_config(
    value: object, ctx: AnalysisContext, *, container: str, root_path: str = ""
) -> list[ConfigIssue]:
    """Walk a parsed config with the project's allow/deny patterns; return its issues."""
    walker = ConfigWalker(
        container=container,
        allow=ctx.settings.allow_globals,
        deny=ctx.settings.deny_globals,
        tick=ctx.deadline.check,
    )
    return walker.walk(value, root_path)


def report_issues(ctx: AnalysisContext, issues: list[ConfigIssue]) -> None:
    """Turn config issues into findings; embedded payloads are analyzed as nested artifacts."""
    for issue in issues:
        where = issue.path or "the model config"
        ctx.report(
            issue.rule.finding(
                ctx.location(),
                f"{where}: {issue.message}",
                evidence=issue.evidence,
                severity=issue.severity,
                properties={"layer": issue.path, "field": issue.field},
            )
        )
        if issue.payload:
            name = f"{issue.path or 'config'}/{issue.field}".replace("!", "_")
            ctx.dispatch(BytesBlob(issue.payload), name)


def check_config_blob(blob: Blob, ctx: AnalysisContext, *, container: str) -> None:
    """Read, parse and walk one JSON config member or file."""
    what = ctx.name or "config"
    data = read_bounded(blob, ctx, what)
    if data is None:
        return
    value = parse_config(data, ctx, what)
    if value is not None:
        report_issues(ctx, check_config(value, ctx, container=container))


def _check_metadata_json(blob: Blob, ctx: AnalysisContext) -> None:
    """``metadata.json`` is only read for the version; it must still be a small JSON object."""
    data = read_bounded(blob, ctx, "metadata.json")
    if data is None:
        return
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        _malformed(ctx, "metadata.json", f"not valid JSON: {str(exc)[:160]}", Severity.LOW)
        return
    if not isinstance(value, dict):
        _malformed(ctx, "metadata.json", "not a JSON object", Severity.LOW)


class KerasAnalyzer(Analyzer):
    """Keras 3 ``.keras`` archives: the config is checked, the other members dispatched."""

    name = "keras"
    formats = ("keras",)
    rules = CONFIG_RULES + ARCHIVE_RULES

    def analyze(self, blob: Blob, ctx: AnalysisContext) -> None:
        """Walk the zip; ``config.json`` and ``metadata.json`` at its root are checked here."""

        def route(entry: zipread.ZipEntry, member: Blob, parent: AnalysisContext) -> bool:
            if entry.name == "config.json":
                parent.nested(
                    entry.name,
                    member,
                    "keras-config",
                    lambda b, c: check_config_blob(b, c, container="keras"),
                )
                return True
            if entry.name == "metadata.json":
                parent.nested(entry.name, member, "keras-metadata-json", _check_metadata_json)
                return True
            return False

        names = walk_zip(blob, ctx, route)
        if "config.json" not in names:
            ctx.skip(SkipReason.MALFORMED, "Keras archive has no config.json at its root")


class KerasJsonAnalyzer(Analyzer):
    """Architecture JSON written by ``model.to_json()`` (or a bare ``config.json``)."""

    name = "keras-json"
    formats = ("keras-json",)
    rules = CONFIG_RULES

    @classmethod
    def sniff(cls, head: bytes, name: str) -> str | None:
        """Claim JSON shaped like a Keras object (detection also does, for ``.json`` names)."""
        return "keras-json" if looks_like_keras_json(head) else None

    def analyze(self, blob: Blob, ctx: AnalysisContext) -> None:
        """Parse and walk the JSON."""
        check_config_blob(blob, ctx, container="json")


class KerasJsonProbe(Analyzer):
    """Any ``.json`` file: walked as a Keras config when its top level is a Keras object.

    Detection names a JSON file ``keras-json`` from its first 4 KiB; Keras accepts keys in any
    order and any amount of padding, so other ``.json`` files are parsed (within the config
    bound) and checked when they turn out to be Keras objects. Nothing is reported about JSON
    that is not Keras.
    """

    name = "keras-json-probe"
    formats = ("json",)
    rules = CONFIG_RULES
    kind = ArtifactKind.CONFIG

    def analyze(self, blob: Blob, ctx: AnalysisContext) -> None:
        """Parse the file if it mentions Keras object keys; walk it if it is one."""
        size = blob.size
        limit = config_limit(ctx)
        if size is not None and size > limit:
            return
        with blob.open() as stream:
            data = stream.read(limit + 1)
        if len(data) > limit or b'"class_name"' not in data or b'"config"' not in data:
            return
        try:
            value = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return  # not JSON after all, or not parseable: not a Keras config either
        if isinstance(value, dict) and isinstance(value.get("class_name"), str):
            if "config" in value:
                report_issues(ctx, check_config(value, ctx, container="json"))


#: ``SavedMetadata.nodes`` and the ``SavedObject`` fields bastion reads.
_NODES, _NODE_PATH, _IDENTIFIER, _METADATA = 1, 3, 4, 5


class KerasMetadataAnalyzer(Analyzer):
    """TF SavedModel ``keras_metadata.pb``: every node's JSON metadata is checked."""

    name = "keras-metadata"
    formats = ("keras-metadata",)
    rules = CONFIG_RULES

    def analyze(self, blob: Blob, ctx: AnalysisContext) -> None:
        """Decode ``SavedMetadata`` and walk each node's metadata JSON."""
        budget = protowire.FieldBudget(check=ctx.deadline.check)
        seen: set[tuple[str, str]] = set()
        nodes = 0
        with protowire.open_buffer(blob, ctx.limits.max_json_bytes) as buffer:
            for field in protowire.iter_fields(buffer, budget=budget):
                if field.number != _NODES:
                    continue
                if field.wire_type is not protowire.WireType.LEN:
                    raise MalformedInputError(
                        f"SavedMetadata field 1 at offset {field.offset} is not a message"
                    )
                nodes += 1
                self._node(field, budget, ctx, seen)
        if nodes == 0:
            _malformed(ctx, "keras_metadata.pb", "a protobuf without any Keras node")

    def _node(
        self,
        field: protowire.Field,
        budget: protowire.FieldBudget,
        ctx: AnalysisContext,
        seen: set[tuple[str, str]],
    ) -> None:
        path, identifier, metadata = "", "", None
        for sub in protowire.iter_message(field, budget):
            if sub.wire_type is not protowire.WireType.LEN:
                continue
            if sub.number == _NODE_PATH:
                path = sub.text(512)
            elif sub.number == _IDENTIFIER:
                identifier = sub.text(128)
            elif sub.number == _METADATA:
                metadata = sub
        if metadata is None or metadata.size == 0:
            return
        what = f"metadata of node {path or '?'} ({identifier or 'no identifier'})"
        if metadata.size > config_limit(ctx):
            _oversized(ctx, what, config_limit(ctx))
            return
        value = parse_config(metadata.raw(), ctx, what)
        if value is None:
            return
        issues = check_config(value, ctx, container="savedmodel", root_path=path)
        # NOTE: the model node repeats every layer's config; keep the first sighting only.
        fresh = [i for i in issues if (i.rule.id, i.detail) not in seen]
        seen.update((i.rule.id, i.detail) for i in issues)
        report_issues(ctx, fresh)


__all__ = [
    "KerasAnalyzer",
    "KerasJsonAnalyzer",
    "KerasJsonProbe",
    "KerasMetadataAnalyzer",
    "check_config",
    "config_limit",
    "parse_config",
    "report_issues",
]
