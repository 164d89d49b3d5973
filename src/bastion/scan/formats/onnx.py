"""ONNX models: external data locations, operator domains and opset imports, read statically.

The ModelProto is decoded with bastion's own wire decoder
(:mod:`~bastion.scan.formats.protowire`) over a memory-mapped file, not with ``onnx.load``:
the decoder steps over ``raw_data`` payloads without reading them, so a 2 GB model costs what
its graph structure costs (see ``docs/architecture.md``). The walk covers the main graph,
every subgraph held in attributes (``If``/``Loop``/``Scan`` bodies, at any depth), the model's
local functions and training graphs, and every tensor in initializers, sparse initializers and
attributes. External data is never opened.

>>> from bastion.scan.engine import scan
>>> [f.rule_id for f in scan("model_dir/").findings]      # doctest: +SKIP
['BST-ONNX-001']
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from bastion.core import Severity, SkipReason
from bastion.errors import MalformedInputError
from bastion.rules import Rule
from bastion.scan.blob import Blob
from bastion.scan.formats.onnx_rules import (
    CUSTOM_DOMAIN,
    EXTERNAL_DATA_ESCAPE,
    MALFORMED_MODEL,
    MEMORY_ADDRESS,
    ONNX_RULES,
    OPSET_INCONSISTENT,
    ORT_MEMORY_TAG,
    PYTHON_OP,
    PYTHON_OPS,
    STANDARD_DOMAINS,
    VENDOR_DOMAINS,
)
from bastion.scan.formats.paths import path_concern
from bastion.scan.formats.protowire import (
    MAX_MESSAGE_BYTES,
    Field,
    FieldBudget,
    WireType,
    iter_fields,
    iter_message,
    open_buffer,
)
from bastion.scan.interface import AnalysisContext, Analyzer

_EXTERNAL = 1
_MAX_NAME = 512
#: The longest external-data location judged (real ones are short relative names).
_MAX_LOCATION = 8192
#: Findings of one rule reported per model before the rest are counted in a summary.
MAX_FINDINGS = 50


def _domain(text: str) -> str:
    return "" if text == "ai.onnx" else text


def _by_number(fields: Iterator[Field]) -> dict[int, list[Field]]:
    out: dict[int, list[Field]] = {}
    for fld in fields:
        out.setdefault(fld.number, []).append(fld)
    return out


def _text(fields: dict[int, list[Field]], number: int, limit: int = _MAX_NAME) -> str:
    found = fields.get(number)
    if not found or found[-1].wire_type is not WireType.LEN:
        return ""
    return found[-1].text(limit * 4)[:limit]


@dataclass
class _Uses:
    """Where a custom operator or an undeclared domain is used."""

    where: str
    offset: int
    count: int = 0


@dataclass
class _Walk:
    """The state of one model walk: the budget, what was found, what is defined."""

    ctx: AnalysisContext
    budget: FieldBudget
    functions: set[tuple[str, str]] = field(default_factory=set)
    custom: dict[tuple[str, str], _Uses] = field(default_factory=dict)
    undeclared: dict[str, _Uses] = field(default_factory=dict)
    reported: dict[str, int] = field(default_factory=dict)

    def message(self, fld: Field) -> dict[int, list[Field]]:
        """A nested message's fields by number."""
        if fld.wire_type is not WireType.LEN:
            raise MalformedInputError(
                f"field {fld.number} at offset {fld.offset} should be a message"
            )
        return _by_number(iter_message(fld, self.budget))

    def report(
        self,
        rule: Rule,
        offset: int,
        message: str,
        evidence: str,
        severity: Severity | None = None,
        properties: Mapping[str, object] | None = None,
    ) -> None:
        """Report one finding of a rule, counting past the cap."""
        count = self.reported[rule.id] = self.reported.get(rule.id, 0) + 1
        if count > MAX_FINDINGS:
            return
        self.ctx.report(
            rule.finding(
                self.ctx.location(offset=offset),
                message,
                evidence=evidence,
                severity=severity,
                properties=properties,
            )
        )

    # -- tensors ---------------------------------------------------------------------------

    def tensor(self, fld: Field, where: str) -> None:
        """Check one TensorProto's external data (the payload itself is never read)."""
        tensor = self.message(fld)
        name = _text(tensor, 8) or "<unnamed>"
        location_field = tensor.get(14, [])
        external = bool(location_field) and location_field[-1].uint == _EXTERNAL
        entries: dict[str, str] = {}
        for entry in tensor.get(13, ()):
            kv = self.message(entry)
            entries[_text(kv, 1)] = _text(kv, 2, _MAX_LOCATION + 1)
        label = f"{where} / tensor {name}"
        if not external and not entries:
            return
        location = entries.get("location")
        if location is None:
            if external:
                self.report(
                    MALFORMED_MODEL,
                    fld.offset,
                    f"{label}: data_location is EXTERNAL but no location is given.",
                    f"{label} / no location",
                    Severity.LOW,
                )
            return
        props = {"tensor": name, "where": where, "location": location}
        ignored = "" if external else " (declared without data_location = EXTERNAL)"
        if location == ORT_MEMORY_TAG:
            self.report(
                MEMORY_ADDRESS,
                fld.offset,
                f"{label}: external data location is ONNX Runtime's memory marker "
                f"{ORT_MEMORY_TAG!r} with offset {entries.get('offset', '?')}; "
                f"loaders honouring it read process memory{ignored}.",
                f"{label} / {location}",
                properties=props,
            )
            return
        # NOTE: a name past the bound is judged whole, never by a prefix that hides its '..'.
        concern = (
            f"a name longer than {_MAX_LOCATION} characters"
            if len(location) > _MAX_LOCATION
            else path_concern(location)
        )
        if concern:
            self.report(
                EXTERNAL_DATA_ESCAPE,
                fld.offset,
                f"{label}: external data location {location!r} leaves the model "
                f"directory ({concern}); loading the model reads that file{ignored}.",
                f"{label} / {location}",
                Severity.HIGH if external else Severity.MEDIUM,
                props,
            )

    def sparse(self, fld: Field, where: str) -> None:
        """A SparseTensorProto: its values and indices tensors."""
        sparse = self.message(fld)
        for number in (1, 2):
            for tensor in sparse.get(number, ()):
                self.tensor(tensor, where)

    # -- graphs, nodes, attributes -----------------------------------------------------------

    def graph(self, fld: Field, where: str, opsets: dict[str, int]) -> None:
        """A GraphProto: initializers, then every node and its subgraphs."""
        graph = self.message(fld)
        label = f"{where}graph {_text(graph, 2) or '<unnamed>'}"
        for tensor in graph.get(5, ()):
            self.tensor(tensor, f"{label} / initializer")
        for sparse in graph.get(15, ()):
            self.sparse(sparse, f"{label} / sparse initializer")
        for node in graph.get(1, ()):
            self.node(node, label, opsets)

    def node(self, fld: Field, where: str, opsets: dict[str, int]) -> None:
        """A NodeProto: its operator, then its attributes."""
        self.ctx.deadline.check()
        node = self.message(fld)
        op_type = _text(node, 4)
        domain = _domain(_text(node, 7))
        label = f"{where} / node {_text(node, 3) or '<unnamed>'} ({op_type})"
        if (domain, op_type) not in self.functions:
            if op_type in PYTHON_OPS:
                self.report(
                    PYTHON_OP,
                    fld.offset,
                    f"{label}: op {domain or 'ai.onnx'}::{op_type} calls Python code "
                    "named by the model when it runs.",
                    f"{label} / {domain}::{op_type}",
                    properties={"op": op_type, "domain": domain, "where": where},
                )
            elif domain not in STANDARD_DOMAINS:
                uses = self.custom.setdefault((domain, op_type), _Uses(label, fld.offset))
                uses.count += 1
        if domain not in opsets and (domain, op_type) not in self.functions:
            uses = self.undeclared.setdefault(domain, _Uses(label, fld.offset))
            uses.count += 1
        for attr in node.get(5, ()):
            self.attribute(attr, label, opsets)

    def attribute(self, fld: Field, where: str, opsets: dict[str, int]) -> None:
        """An AttributeProto: tensors and graphs inside it."""
        attr = self.message(fld)
        label = f"{where} / attribute {_text(attr, 1) or '<unnamed>'}"
        for number in (5, 10):
            for tensor in attr.get(number, ()):
                self.tensor(tensor, label)
        for number in (22, 23):
            for sparse in attr.get(number, ()):
                self.sparse(sparse, label)
        for number in (6, 11):
            for graph in attr.get(number, ()):
                self.graph(graph, f"{label} / ", opsets)


def _opsets(walk: _Walk, fields: list[Field], where: str) -> dict[str, int]:
    """Read an opset_import list; report duplicates with different versions, bad versions."""
    found: dict[str, int] = {}
    for fld in fields:
        entry = walk.message(fld)
        domain = _domain(_text(entry, 1))
        version = entry[2][-1].int64 if entry.get(2) else 0
        shown = domain or "ai.onnx"
        if domain in found and found[domain] != version:
            walk.report(
                OPSET_INCONSISTENT,
                fld.offset,
                f"{where}: domain {shown} is imported with versions {found[domain]} "
                f"and {version}; loaders disagree on which applies.",
                f"{where} / duplicate opset {shown}",
                Severity.MEDIUM,
            )
        if version <= 0:
            walk.report(
                OPSET_INCONSISTENT,
                fld.offset,
                f"{where}: domain {shown} is imported with impossible version {version}.",
                f"{where} / opset {shown} {version}",
            )
        found.setdefault(domain, version)
    return found


def analyze_model(buf: memoryview, ctx: AnalysisContext) -> None:
    """Walk a whole ModelProto in ``buf`` and report what it finds."""
    walk = _Walk(ctx, FieldBudget(check=ctx.deadline.check))
    model = _by_number(iter_fields(buf, budget=walk.budget))
    if not model.get(7) and not model.get(8):
        raise MalformedInputError("no graph and no opset imports: not an ONNX model")
    opsets = _opsets(walk, model.get(8, []), "model")
    functions = [walk.message(f) for f in model.get(25, ())]
    walk.functions = {(_domain(_text(f, 10)), _text(f, 1)) for f in functions}
    for graph in model.get(7, ()):
        walk.graph(graph, "", opsets)
    for info in model.get(20, ()):
        training = walk.message(info)
        for number, kind in ((1, "training initialization"), (2, "training algorithm")):
            for graph in training.get(number, ()):
                walk.graph(graph, f"{kind} ", opsets)
    for fld, func in zip(model.get(25, ()), functions, strict=True):
        name = f"function {_text(func, 10) or 'ai.onnx'}::{_text(func, 1)}"
        own = _opsets(walk, func.get(9, []), name)
        for domain, version in own.items():
            if domain in opsets and opsets[domain] != version:
                walk.report(
                    OPSET_INCONSISTENT,
                    fld.offset,
                    f"{name} imports {domain or 'ai.onnx'} version {version}, the "
                    f"model version {opsets[domain]}.",
                    f"{name} / opset {domain}",
                )
        for node in func.get(7, ()):
            walk.node(node, name, {**opsets, **own})
        for attr in func.get(11, ()):
            walk.attribute(attr, name, {**opsets, **own})
    _summaries(walk)


def _summaries(walk: _Walk) -> None:
    for (domain, op_type), uses in sorted(walk.custom.items()):
        walk.report(
            CUSTOM_DOMAIN,
            uses.offset,
            f"{uses.where}: op {domain}::{op_type} comes from a non-standard domain "
            f"({uses.count} node(s)); running it needs a custom op library "
            "(native code) registered with the runtime.",
            f"custom op {domain}::{op_type}",
            severity=Severity.MEDIUM if domain in VENDOR_DOMAINS else None,
            properties={"op": op_type, "domain": domain, "nodes": uses.count},
        )
    for domain, uses in sorted(walk.undeclared.items()):
        walk.report(
            OPSET_INCONSISTENT,
            uses.offset,
            f"{uses.where}: domain {domain or 'ai.onnx'} is used by {uses.count} "
            "node(s) but never imported in opset_import.",
            f"undeclared domain {domain}",
        )
    for rule_id, count in sorted(walk.reported.items()):
        if count > MAX_FINDINGS:
            rule = next(r for r in ONNX_RULES if r.id == rule_id)
            walk.ctx.report(
                rule.finding(
                    walk.ctx.location(),
                    f"{count - MAX_FINDINGS} more findings of {rule_id} in this model "
                    f"(only the first {MAX_FINDINGS} are listed).",
                    evidence=f"more {rule_id}",
                )
            )


class OnnxAnalyzer(Analyzer):
    """``.onnx`` models (ModelProto), decoded without loading weights or external data."""

    name = "onnx"
    formats = ("onnx",)
    rules = ONNX_RULES

    def analyze(self, blob: Blob, ctx: AnalysisContext) -> None:
        """Walk the model; a decoding failure is a finding and a skip."""
        with open_buffer(blob, min(ctx.limits.max_member_bytes, MAX_MESSAGE_BYTES)) as buf:
            try:
                analyze_model(buf, ctx)
            except MalformedInputError as exc:
                ctx.report(
                    MALFORMED_MODEL.finding(
                        ctx.location(),
                        f"{ctx.name} could not be decoded as an ONNX model: {exc}.",
                        evidence="malformed onnx",
                    )
                )
                ctx.skip(SkipReason.MALFORMED, f"onnx: {exc}", format=ctx.format)
