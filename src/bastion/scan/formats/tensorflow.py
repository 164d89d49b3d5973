"""TensorFlow SavedModels and graphs: every op of every graph and function, checked statically.

``saved_model.pb`` (binary), ``saved_model.pbtxt`` (text format) and frozen GraphDef ``.pb``
files are decoded without TensorFlow (:mod:`~bastion.scan.formats.tf_model`). Every
MetaGraphDef's main graph, every function of its library (reachable or not: a loader can call
any of them), every function named by function-valued attributes at any depth, and graphs
embedded in ``DatasetFromGraph`` constants are checked against
:mod:`~bastion.scan.formats.tf_ops`. Checkpoint ops are expected inside the saver the
MetaGraphDef declares; ops outside the standard op set need native code. ``fingerprint.pb``
holds only hashes and is recorded without findings.

>>> from bastion.scan.engine import scan
>>> result = scan("exported_model/")                       # doctest: +SKIP
>>> sorted({f.rule_id for f in result.findings})           # doctest: +SKIP
['BST-TF-002']
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bastion.core import Severity, SkipReason
from bastion.errors import MalformedInputError
from bastion.rules import Rule
from bastion.scan.blob import Blob, BytesBlob
from bastion.scan.formats.keras_rules import OVERSIZED_CONFIG
from bastion.scan.formats.paths import path_concern
from bastion.scan.formats.pbtext import parse_text
from bastion.scan.formats.protowire import (
    MAX_MESSAGE_BYTES,
    FieldBudget,
    WireType,
    iter_fields,
    open_buffer,
)
from bastion.scan.formats.tf_model import (
    MetaGraph,
    NodeInfo,
    Scope,
    TextView,
    WireView,
    input_node,
    read_graph,
    read_saved_model,
)
from bastion.scan.formats.tf_ops import (
    CHECKPOINT_CATEGORIES,
    HARMLESS_TARGETS,
    LOCAL_SCHEMES,
    OP_RISKS,
    SAVER_FUNCTION_MARKERS,
    OpCategory,
    OpRisk,
)
from bastion.scan.formats.tf_opset import is_standard_op
from bastion.scan.formats.tf_rules import (
    CUSTOM_OP,
    MALFORMED_GRAPH,
    RULE_BY_CATEGORY,
    TF_RULES,
)
from bastion.scan.interface import AnalysisContext, Analyzer

#: Findings reported per op and rule before the rest are summarized.
MAX_FINDINGS_PER_OP = 20
#: Graphs embedded in graphs (``DatasetFromGraph``) followed this deep.
MAX_EMBED_DEPTH = 3
#: Object-graph metadata entries handed to the Keras checks.
MAX_USER_METADATA = 10_000
_PASS_THROUGH = frozenset({"Identity", "PlaceholderWithDefault", "Snapshot"})
_MAX_CONST_CHARS = 1024


@dataclass(frozen=True)
class _Hit:
    """A node that a rule applies to, before de-duplication and capping."""

    rule: Rule
    severity: Severity
    scope: Scope
    node: NodeInfo
    message: str
    targets: tuple[str, ...]
    category: str


class _Checker:
    """Checks the scopes of one MetaGraph (and the graphs embedded in it)."""

    def __init__(self, meta: MetaGraph, ctx: AnalysisContext, budget: FieldBudget) -> None:
        self.meta = meta
        self.ctx = ctx
        self.budget = budget
        self.functions = {f.name: f for f in meta.functions}
        self.saver_functions, self.saver_prefixes = self._saver_context()
        self.hits: list[_Hit] = []
        self.custom: dict[str, list[tuple[Scope, NodeInfo]]] = {}

    def _callees(self, node: NodeInfo) -> Iterable[str]:
        yield from (f for f in node.functions if f in self.functions)
        if node.op in self.functions:
            yield node.op

    def _reachable(self, roots: Iterable[str]) -> set[str]:
        seen: set[str] = set()
        stack = [r for r in roots if r in self.functions]
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            for node in self.functions[name].nodes:
                stack.extend(c for c in self._callees(node) if c not in seen)
        return seen

    def _saver_context(self) -> tuple[set[str], tuple[str, ...]]:
        """Functions and main-graph name scopes that belong to the declared saver."""
        saver = self.meta.saver
        roots: list[str] = []
        names = [saver.filename_tensor, saver.save_tensor, saver.restore_op] if saver else ["save/"]
        wanted = {input_node(n) or "" for n in names}
        prefixes = [name.rsplit("/", 1)[0] + "/" for name in wanted if "/" in name]
        for node in self.meta.graph.nodes:
            if node.name in wanted:
                roots.extend(self._callees(node))
        if saver is None:
            roots.extend(f for f in self.functions if any(m in f for m in SAVER_FUNCTION_MARKERS))
        return self._reachable(roots), tuple(dict.fromkeys(prefixes))

    def run(self) -> None:
        """Check the main graph and every library function."""
        for scope in (self.meta.graph, *self.meta.functions):
            self.check_scope(scope, self.functions, 0)

    def check_scope(self, scope: Scope, functions: dict[str, Scope], depth: int) -> None:
        """Check every node of one scope."""
        by_name = {n.name: n for n in scope.nodes}
        in_saver = scope.kind == "function" and scope.name in self.saver_functions
        for node in scope.nodes:
            self.ctx.deadline.check()
            risk = OP_RISKS.get(node.op)
            if risk is not None:
                self._judge(scope, node, risk, by_name, in_saver)
                if risk.category is OpCategory.EMBEDDED_GRAPH:
                    self._embedded(scope, node, by_name, depth)
            elif node.op not in functions and not is_standard_op(node.op):
                self.custom.setdefault(node.op, []).append((scope, node))

    def _judge(
        self,
        scope: Scope,
        node: NodeInfo,
        risk: OpRisk,
        by_name: dict[str, NodeInfo],
        in_saver: bool,
    ) -> None:
        targets = [t for i in risk.path_inputs for t in self._resolve(node, i, by_name)]
        attr_targets = [t for a in risk.path_attrs for t in node.strings.get(a, ())]
        if risk.needs_target:
            attr_targets = [t for t in attr_targets if _is_target(node.op, t)]
            if not attr_targets:
                return
        if node.op.startswith("CacheDataset") and targets and not any(targets):
            return  # an empty file name caches in memory
        targets = [t for t in targets + attr_targets if t]
        concerns = [(t, c) for t in targets if (c := path_concern(t, local_schemes=LOCAL_SCHEMES))]
        if risk.category in CHECKPOINT_CATEGORIES and not concerns:
            if in_saver or (scope.kind == "graph" and node.name.startswith(self.saver_prefixes)):
                return
        severity = max(risk.severity, Severity.HIGH) if concerns else risk.severity
        message = f"{scope.label} / node {node.name}: op {node.op} {risk.what}"
        if risk.category in CHECKPOINT_CATEGORIES:
            message += " outside the model's declared saver" if not concerns else ""
        if concerns:
            shown = "; ".join(f"{t!r} ({c})" for t, c in concerns[:3])
            message += f"; target {shown}"
        elif targets:
            message += f"; target {', '.join(repr(t) for t in targets[:3])}"
        rule = RULE_BY_CATEGORY[risk.category]
        self.hits.append(
            _Hit(rule, severity, scope, node, message + ".", tuple(targets), risk.category.value)
        )

    def _resolve(
        self, node: NodeInfo, index: int, by_name: dict[str, NodeInfo], depth: int = 0
    ) -> list[str]:
        """Constant strings feeding input ``index`` (through Identity-like nodes)."""
        if index >= len(node.inputs) or depth > 8:
            return []
        source = by_name.get(input_node(node.inputs[index]) or "")
        if source is None:
            return []
        if source.op in ("Const", "HostConst"):
            return [
                bytes(c[: _MAX_CONST_CHARS * 4]).decode("utf-8", "replace")
                for c in source.constants
            ]
        if source.op in _PASS_THROUGH:
            return self._resolve(source, 0, by_name, depth + 1)
        if source.op == "StringJoin":
            parts = [
                self._resolve(source, i, by_name, depth + 1) for i in range(len(source.inputs))
            ]
            if parts and all(len(p) == 1 for p in parts):
                separator = source.strings.get("separator", ("",))[0]
                return [separator.join(p[0] for p in parts)]
        return []

    def _embedded(
        self, scope: Scope, node: NodeInfo, by_name: dict[str, NodeInfo], depth: int
    ) -> None:
        """Decode a constant GraphDef fed to ``DatasetFromGraph`` and check its ops."""
        name = input_node(node.inputs[0]) if node.inputs else None
        source = by_name.get(name or "")
        if source is None or not source.constants or depth >= MAX_EMBED_DEPTH:
            return
        label = f"{scope.name}/{node.name}"
        try:
            scopes = read_graph(
                WireView(source.constants[0], budget=self.budget),
                "embedded graph",
                label,
                self.ctx.deadline.check,
            )
        except MalformedInputError as exc:
            self.ctx.skip(SkipReason.MALFORMED, f"embedded graph {label}: {exc}")
            return
        inner = {s.name: s for s in scopes[1:]} | self.functions
        for sub in scopes:
            self.check_scope(sub, inner, depth + 1)


def _is_target(op: str, value: str) -> bool:
    """Whether an attribute value names a real sink (not a default like ``stderr``)."""
    if value.strip().lower() in HARMLESS_TARGETS:
        return False
    if op == "PrintV2":
        return value.startswith("file://")
    if op == "DecodeProtoV2":
        return not value.startswith(LOCAL_SCHEMES)
    if op in ("Copy", "CopyHost"):
        return "://" in value
    return True


class _Reporter:
    """Turns hits into findings: one per node, de-duplicated, capped per op."""

    def __init__(self, ctx: AnalysisContext) -> None:
        self.ctx = ctx
        self.seen: set[tuple[str, str, str, str]] = set()
        self.per_op: dict[tuple[str, str], int] = {}

    def report(self, hit: _Hit) -> None:
        key = (
            hit.rule.id,
            hit.scope.name if hit.scope.kind == "function" else hit.scope.label,
            hit.node.name,
            hit.node.op,
        )
        if key in self.seen:
            return
        self.seen.add(key)
        count = self.per_op[(hit.rule.id, hit.node.op)] = (
            self.per_op.get((hit.rule.id, hit.node.op), 0) + 1
        )
        if count > MAX_FINDINGS_PER_OP:
            return
        self.ctx.report(
            hit.rule.finding(
                self.ctx.location(offset=hit.node.offset, line=hit.node.line),
                hit.message,
                evidence=f"{hit.scope.label} / node {hit.node.name} / op {hit.node.op}",
                severity=hit.severity,
                properties={
                    "op": hit.node.op,
                    "node": hit.node.name,
                    "scope": hit.scope.label,
                    "category": hit.category,
                    "targets": list(hit.targets[:8]),
                },
            )
        )

    def summarize(self) -> None:
        for (rule_id, op), count in sorted(self.per_op.items()):
            if count > MAX_FINDINGS_PER_OP:
                rule = next(r for r in TF_RULES if r.id == rule_id)
                self.ctx.report(
                    rule.finding(
                        self.ctx.location(),
                        f"{count - MAX_FINDINGS_PER_OP} more nodes run op {op} "
                        f"(only the first {MAX_FINDINGS_PER_OP} are listed).",
                        evidence=f"more nodes / op {op}",
                    )
                )

    def custom_ops(self, custom: dict[str, list[tuple[Scope, NodeInfo]]]) -> None:
        for op, uses in sorted(custom.items()):
            scope, node = uses[0]
            internal = op.startswith("_")
            self.ctx.report(
                CUSTOM_OP.finding(
                    self.ctx.location(offset=node.offset, line=node.line),
                    f"{scope.label} / node {node.name}: op {op} is not a standard TensorFlow "
                    f"op ({len(uses)} node(s) use it); running the graph needs a custom op "
                    "library (native code) loaded into the process.",
                    evidence=f"custom op {op}",
                    severity=Severity.LOW if internal else None,
                    properties={
                        "op": op,
                        "node": node.name,
                        "scope": scope.label,
                        "nodes": len(uses),
                    },
                )
            )


def check_meta_graphs(metas: list[MetaGraph], ctx: AnalysisContext, budget: FieldBudget) -> None:
    """Run every check over decoded MetaGraphs and report the findings."""
    reporter = _Reporter(ctx)
    custom: dict[str, list[tuple[Scope, NodeInfo]]] = {}
    for meta in metas:
        _dispatch_user_metadata(meta, ctx)
        checker = _Checker(meta, ctx, budget)
        checker.run()
        for hit in checker.hits:
            reporter.report(hit)
        for op, uses in checker.custom.items():
            custom.setdefault(op, []).extend(uses)
    reporter.summarize()
    reporter.custom_ops(custom)


def _dispatch_user_metadata(meta: MetaGraph, ctx: AnalysisContext) -> None:
    """Hand Keras layer metadata kept in the object graph to the Keras config checks.

    tf-keras revives every Keras object of the graph from this metadata (when the SavedModel
    has no ``keras_metadata.pb``), so what cannot be checked is reported at high: a Lambda
    behind ten thousand padding objects, or in one huge entry, is still revived.
    """
    for index, identifier, raw in meta.user_metadata[:MAX_USER_METADATA]:
        name = f"meta graph {meta.index} object {index} ({identifier or 'user object'}) metadata"
        if len(raw) > ctx.limits.max_json_bytes:
            _unchecked_metadata(ctx.child(name), f"metadata of {len(raw)} bytes")
            continue
        ctx.dispatch(BytesBlob(bytes(raw)), name, formats=("keras-json",))
    extra = len(meta.user_metadata) - MAX_USER_METADATA
    if extra > 0:
        _unchecked_metadata(
            ctx, f"{extra} object-graph metadata entries beyond the first {MAX_USER_METADATA}"
        )


def _unchecked_metadata(ctx: AnalysisContext, what: str) -> None:
    ctx.report(
        OVERSIZED_CONFIG.finding(
            ctx.location(),
            f"Keras metadata was not checked ({what}); tf-keras revives it when the model is "
            "loaded, so code in it would go unseen.",
            evidence=f"unchecked keras metadata: {what}",
            severity=Severity.HIGH,
        )
    )
    ctx.skip(SkipReason.TOO_LARGE, what)


def _malformed(ctx: AnalysisContext, what: str, exc: Exception) -> None:
    ctx.report(
        MALFORMED_GRAPH.finding(
            ctx.location(), f"{what} could not be decoded: {exc}.", evidence=f"malformed {what}"
        )
    )
    ctx.skip(SkipReason.MALFORMED, f"{what}: {exc}", format=ctx.format)


class SavedModelAnalyzer(Analyzer):
    """``saved_model.pb``, ``saved_model.pbtxt`` and frozen GraphDef ``.pb`` files."""

    name = "tensorflow"
    formats = ("tf-savedmodel", "tf-savedmodel-text", "tf-graphdef")
    rules = (*TF_RULES, OVERSIZED_CONFIG)

    def analyze(self, blob: Blob, ctx: AnalysisContext) -> None:
        """Decode the graphs, then check every op."""
        budget = FieldBudget(check=ctx.deadline.check)
        if ctx.format == "tf-savedmodel-text":
            self._text(blob, ctx, budget)
            return
        with open_buffer(blob, min(ctx.limits.max_member_bytes, MAX_MESSAGE_BYTES)) as buf:
            try:
                view = WireView(buf, budget=budget)
                if ctx.format == "tf-graphdef":
                    scopes = read_graph(view, "graph", ctx.name, ctx.deadline.check)
                    metas = [MetaGraph(0, (), scopes[0], tuple(scopes[1:]))]
                else:
                    metas = read_saved_model(view, ctx.deadline.check)
            except MalformedInputError as exc:
                _malformed(ctx, ctx.name, exc)
                return
            check_meta_graphs(metas, ctx, budget)

    def _text(self, blob: Blob, ctx: AnalysisContext, budget: FieldBudget) -> None:
        size = blob.size
        limit = ctx.limits.max_text_bytes
        if size is not None and size > limit:
            ctx.skip(SkipReason.TOO_LARGE, f"text SavedModel larger than {limit} bytes")
            return
        raw = blob.read_at(0, limit + 1)
        try:
            message = parse_text(raw.decode("utf-8", "replace"), check=ctx.deadline.check)
            metas = read_saved_model(TextView(message), ctx.deadline.check)
        except MalformedInputError as exc:
            _malformed(ctx, ctx.name, exc)
            return
        check_meta_graphs(metas, ctx, budget)


_FINGERPRINT_FIELDS = {
    1: WireType.VARINT,
    2: WireType.VARINT,
    3: WireType.VARINT,
    4: WireType.VARINT,
    5: WireType.VARINT,
    6: WireType.LEN,
    7: WireType.LEN,
}


class FingerprintAnalyzer(Analyzer):
    """``fingerprint.pb``: hashes TensorFlow writes next to a SavedModel; nothing runs from it."""

    name = "tensorflow-fingerprint"
    formats = ("tf-fingerprint",)

    def analyze(self, blob: Blob, ctx: AnalysisContext) -> None:
        """Confirm the file is a FingerprintDef; anything else is reported as not checked."""
        if blob.size is None or blob.size > 4096:
            ctx.skip(
                SkipReason.MALFORMED, "too large for a SavedModel fingerprint", format=ctx.format
            )
            return
        data = blob.read_at(0, 4096)
        try:
            for fld in iter_fields(data, budget=FieldBudget(check=ctx.deadline.check)):
                if _FINGERPRINT_FIELDS.get(fld.number) is not fld.wire_type:
                    raise MalformedInputError(f"unexpected field {fld.number}")
        except MalformedInputError as exc:
            ctx.skip(
                SkipReason.MALFORMED, f"not a SavedModel fingerprint: {exc}", format=ctx.format
            )
