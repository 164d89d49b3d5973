"""The pickle analyzer: every pickle in a stream, judged allowlist-first, reported precisely.

:func:`analyze_pickle` is also what the PyTorch, joblib, NumPy and archive analyzers call for the
pickles they find inside their containers.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from bastion.core import Severity
from bastion.scan.blob import Blob, BytesBlob, SliceBlob, skip_bytes
from bastion.scan.formats.pickle import joblib_arrays
from bastion.scan.formats.pickle.knowledge import (
    Judgement,
    Usage,
    Verdict,
    alias_judgement,
    judge,
)
from bastion.scan.formats.pickle.knowledge_data import GETATTR_GADGETS
from bastion.scan.formats.pickle.machine import Observations, PickleMachine, RunResult
from bastion.scan.formats.pickle.probe import probe_pickle
from bastion.scan.formats.pickle.reader import BigBytes, ByteReader
from bastion.scan.formats.pickle.rules import (
    DANGEROUS_GLOBAL,
    EXTRA_PICKLE,
    MALFORMED_STREAM,
    NESTED_PAYLOAD,
    OBFUSCATED_IMPORT,
    PICKLE_RULES,
    STATE_INJECTION,
    UNFOLLOWABLE,
    UNKNOWN_CALL,
    UNKNOWN_GLOBAL,
)
from bastion.scan.formats.pickle.values import Glob, Value, render_call
from bastion.scan.interface import AnalysisContext, Analyzer

_TORCH_LEGACY_PICKLES = 5


class Mode(str, Enum):
    """What wrote the stream, which decides how consecutive pickles are read."""

    GENERIC = "generic"
    TORCH_LEGACY = "torch-legacy"
    TORCHSCRIPT = "torchscript"


@dataclass
class _Followed:
    """Where following the stream stopped early, if it did."""

    unfollowable_at: int | None = None
    reason: str = ""


class PickleAnalyzer(Analyzer):
    """Pickle streams of every protocol, including legacy PyTorch files."""

    name = "pickle"
    formats = ("pickle", "pytorch-legacy")
    rules = PICKLE_RULES

    def analyze(self, blob: Blob, ctx: AnalysisContext) -> None:
        """Analyze every pickle in the blob."""
        mode = Mode.TORCH_LEGACY if ctx.format == "pytorch-legacy" else Mode.GENERIC
        analyze_pickle(blob, ctx, mode=mode)


def analyze_pickle(
    blob: Blob, ctx: AnalysisContext, *, mode: Mode = Mode.GENERIC, start: int = 0
) -> Observations:
    """Run the machine over every pickle in ``blob`` and report what it saw."""
    obs = Observations()
    followed = _Followed()
    runs: list[RunResult] = []
    with blob.open() as stream:
        if start:
            skip_bytes(stream, start)
        reader = ByteReader(stream, base=start, limit=ctx.limits.max_pickle_bytes)

        def build_hook(obj: Value, state: Value, rd: ByteReader) -> None:
            _follow_joblib_array(obj, state, rd, ctx, obs, followed, build_hook)

        machine = PickleMachine(reader, ctx.limits, ctx.deadline, obs, build_hook)
        while True:
            run_start = reader.pos
            try:
                result = machine.run()
            except _StopFollowing:
                runs.append(
                    RunResult(
                        run_start,
                        reader.pos,
                        False,
                        error=followed.reason,
                        error_pos=followed.unfollowable_at,
                    )
                )
                break
            runs.append(result)
            if not result.stopped or followed.unfollowable_at is not None:
                break
            if mode is Mode.TORCH_LEGACY:
                if len(runs) >= _TORCH_LEGACY_PICKLES:
                    break  # the rest is raw storage data
                continue
            if reader.at_eof() or not _another_pickle_follows(reader.peek(4096)):
                break
    _report(obs, runs, followed, ctx, mode, blob)
    return obs


def _another_pickle_follows(head: bytes) -> bool:
    if len(head) >= 2 and head[0] == 0x80 and 1 <= head[1] <= 5:
        return True
    verdict = probe_pickle(head)
    return verdict.complete or verdict.imports_valid_global


def _follow_joblib_array(
    obj: Value,
    state: Value,
    reader: ByteReader,
    ctx: AnalysisContext,
    obs: Observations,
    followed: _Followed,
    hook: object,
) -> None:
    if joblib_arrays.wrapper_class(obj) is None:
        return
    try:
        layout = joblib_arrays.layout(state)
    except joblib_arrays.UnknownLayoutError as exc:
        followed.unfollowable_at = reader.pos
        followed.reason = str(exc)
        raise _StopFollowing from None
    if layout.nested_pickle:
        nested = PickleMachine(reader, ctx.limits, ctx.deadline, obs, hook)  # type: ignore[arg-type]
        result = nested.run()
        if not result.stopped:
            followed.unfollowable_at = result.error_pos
            followed.reason = f"nested object-array pickle broke: {result.error}"
            raise _StopFollowing
        return
    if layout.aligned:
        padding = reader.read_byte()
        if padding:
            reader.skip(padding, "joblib array padding")
    reader.skip(layout.nbytes, "joblib array data")


class _StopFollowing(Exception):
    """Raised through the machine when the stream cannot be followed further."""


def _report(
    obs: Observations,
    runs: list[RunResult],
    followed: _Followed,
    ctx: AnalysisContext,
    mode: Mode,
    blob: Blob,
) -> None:
    settings = ctx.settings
    by_name: dict[str, list[Glob]] = {}
    for glob in obs.globs:
        by_name.setdefault(glob.qualname, []).append(glob)
    for qualname, globs in by_name.items():
        if mode is Mode.TORCHSCRIPT and _torchscript_name(qualname):
            continue
        if (qualname in GETATTR_GADGETS or qualname == "builtins.type") and all(
            g.total_calls and g.total_calls == g.resolved_uses for g in globs
        ):
            continue
        usage = _strongest(globs)
        literal_only = all(g.nonliteral_calls == 0 for g in globs)
        judgement = judge(
            qualname,
            usage,
            single_literal_arg=literal_only,
            allow=settings.allow_globals,
            deny=settings.deny_globals,
            attributes=_worst_attribute_path(globs),
        )
        if judgement.verdict is Verdict.SAFE:
            continue
        _report_global(ctx, qualname, globs, usage, judgement)
    for pos, kind, detail in obs.dynamic:
        ctx.report(
            OBFUSCATED_IMPORT.finding(
                ctx.location(offset=pos),
                f"{detail} (offset {pos}).",
                evidence=kind,
                severity=Severity.CRITICAL if kind == "invalid-name" else None,
            )
        )
    for pos, detail in obs.dynamic_calls:
        ctx.report(
            OBFUSCATED_IMPORT.finding(
                ctx.location(offset=pos),
                f"The pickle {detail} at offset {pos}.",
                evidence="dynamic-call",
            )
        )
    for glob, pos in obs.build_on_global:
        ctx.report(
            STATE_INJECTION.finding(
                ctx.location(offset=pos),
                f"BUILD at offset {pos} sets state on the imported object {glob.qualname} itself.",
                evidence=glob.qualname,
            )
        )
    for qualname, payload, pos in obs.nested:
        _report_nested(ctx, blob, qualname, payload, pos)
    _report_stream_shape(obs, runs, followed, ctx, mode)


#: What TorchScript's own (C++) unpickler resolves in ``data.pkl``/``constants.pkl``.
_TORCHSCRIPT_HELPERS = frozenset(
    f"torch.jit._pickle.{name}"
    for name in (
        "build_intlist",
        "build_tensorlist",
        "build_doublelist",
        "build_boollist",
        "build_tensor_from_id",
        "restore_type_tag",
    )
)


def _torchscript_name(qualname: str) -> bool:
    """Classes of the archive's own code and the restore helpers, nothing reached through them."""
    if qualname in _TORCHSCRIPT_HELPERS:
        return True
    return qualname.startswith("__torch__.") and not any(
        part.startswith("__") and part.endswith("__") for part in qualname.split(".")[1:]
    )


def _worst_attribute_path(globs: list[Glob]) -> str:
    """An attribute path that walks into a dangerous module, if any use of the name has one."""
    for glob in globs:
        if "." in glob.attributes and alias_judgement(glob.attributes) is not None:
            return glob.attributes
    return ""


def _strongest(globs: list[Glob]) -> Usage:
    usages = {g.strongest for g in globs}
    for usage in (Usage.CALL, Usage.CONSTRUCT, Usage.REFERENCE):
        if usage in usages:
            return usage
    return Usage.REFERENCE


def _report_global(
    ctx: AnalysisContext, qualname: str, globs: list[Glob], usage: Usage, judgement: Judgement
) -> None:
    first = min(globs, key=lambda g: g.pos)
    used = next((g for g in globs if g.call_pos is not None and g.strongest is usage), first)
    pos = used.call_pos if used.call_pos is not None else used.pos
    if usage is Usage.CALL:
        evidence = render_call(qualname, used.call_args)
        action = f"calls it as {evidence}"
    elif usage is Usage.CONSTRUCT:
        action, evidence = "instantiates it", qualname
    else:
        action, evidence = "references it", qualname
    where = f"{first.via} at offset {first.pos}"
    count = f" ({len(globs)} uses)" if len(globs) > 1 else ""
    message = f"Imports {qualname} ({where}) and {action}{count}: {judgement.reason}."
    rule = {
        Verdict.DANGEROUS: DANGEROUS_GLOBAL,
        Verdict.UNKNOWN_CALL: UNKNOWN_CALL,
        Verdict.REVIEW: UNKNOWN_GLOBAL,
    }[judgement.verdict]
    ctx.report(
        rule.finding(
            ctx.location(offset=pos),
            message,
            evidence=evidence,
            properties={
                "global": qualname,
                "usage": usage.value,
                "category": judgement.category,
                "opcode": first.via,
            },
        )
    )


def _report_nested(
    ctx: AnalysisContext, blob: Blob, qualname: str, payload: object, pos: int
) -> None:
    member = f"<{qualname}@{pos}>"
    inner: Blob | None = None
    if isinstance(payload, bytes | bytearray):
        inner = BytesBlob(bytes(payload))
    elif isinstance(payload, BigBytes) and blob.size is not None:
        inner = SliceBlob(blob, payload.offset, payload.length)
    analyzed = "analyzed below" if inner is not None else "not a literal, so not analyzable"
    ctx.report(
        NESTED_PAYLOAD.finding(
            ctx.location(offset=pos),
            f"{qualname} at offset {pos} deserializes an embedded payload ({analyzed}).",
            evidence=qualname,
        )
    )
    if inner is not None:
        if qualname == "marshal.loads":
            return  # marshalled code objects: the call itself is the finding
        ctx.dispatch(inner, member)


def _report_stream_shape(
    obs: Observations,
    runs: list[RunResult],
    followed: _Followed,
    ctx: AnalysisContext,
    mode: Mode,
) -> None:
    if followed.unfollowable_at is not None:
        ctx.report(
            UNFOLLOWABLE.finding(
                ctx.location(offset=followed.unfollowable_at),
                f"Stopped following the stream at offset {followed.unfollowable_at}: "
                f"{followed.reason}.",
                evidence=followed.reason,
            )
        )
    for run in runs:
        if run.stopped or followed.unfollowable_at is not None:
            continue
        has_activity = bool(obs.globs)
        ctx.report(
            MALFORMED_STREAM.finding(
                ctx.location(offset=run.error_pos),
                f"The pickle starting at offset {run.start} breaks at offset {run.error_pos}: "
                f"{run.error}. Everything before the break runs when the file is loaded.",
                evidence=run.error or "",
                severity=Severity.MEDIUM if has_activity else Severity.LOW,
            )
        )
    extra = [r for r in runs[1:] if r.stopped or r.error_pos != r.start]
    if extra and mode is Mode.GENERIC:
        ctx.report(
            EXTRA_PICKLE.finding(
                ctx.location(offset=extra[0].start),
                f"{len(extra)} more pickle(s) follow the first one (first at offset "
                f"{extra[0].start}); all were analyzed.",
                evidence=f"{len(runs)} pickles",
            )
        )
