"""Turning what the pickle machine saw into findings: judged globals, stream shape, payloads.

Split from :mod:`bastion.scan.formats.pickle.analyzer`, which drives the machine over a stream.
"""

from __future__ import annotations

import sys
from enum import Enum

from bastion.core import Severity
from bastion.scan.blob import Blob, BytesBlob, SliceBlob
from bastion.scan.formats.pickle.follow import Followed
from bastion.scan.formats.pickle.gadgets import valid_dotted
from bastion.scan.formats.pickle.knowledge import (
    Judgement,
    Usage,
    Verdict,
    alias_judgement,
    judge,
)
from bastion.scan.formats.pickle.knowledge_data import (
    ECOSYSTEM_NAMESPACES,
    GETATTR_GADGETS,
    MODULE_ATTR_GADGETS,
    TRUSTED_NAMESPACES,
)
from bastion.scan.formats.pickle.machine import Observations, RunResult
from bastion.scan.formats.pickle.reader import BigBytes
from bastion.scan.formats.pickle.rules import (
    DANGEROUS_GLOBAL,
    EXTRA_PICKLE,
    MALFORMED_STREAM,
    NESTED_PAYLOAD,
    OBFUSCATED_IMPORT,
    STATE_INJECTION,
    UNFOLLOWABLE,
    UNKNOWN_CALL,
    UNKNOWN_GLOBAL,
)
from bastion.scan.formats.pickle.values import Glob, render_call
from bastion.scan.interface import AnalysisContext


class Mode(str, Enum):
    """What wrote the stream, which decides how consecutive pickles are read."""

    GENERIC = "generic"
    TORCH_LEGACY = "torch-legacy"
    TORCHSCRIPT = "torchscript"


def report(
    obs: Observations,
    runs: list[RunResult],
    followed: Followed,
    ctx: AnalysisContext,
    mode: Mode,
    blob: Blob,
) -> None:
    tensor_loads = _verified_tensor_loads(obs, ctx, blob)
    reported = _report_globals(obs, ctx, mode, tensor_loads=tensor_loads)
    for pos, kind, detail in obs.dynamic:
        ctx.report(
            OBFUSCATED_IMPORT.finding(
                ctx.location(offset=pos),
                f"{detail} (offset {pos}).",
                evidence=kind,
                severity=Severity.CRITICAL if kind == "invalid-name" else None,
            )
        )
    _report_calls(obs, ctx, blob, tensor_loads)
    for alternative in obs.alternatives:
        # NOTE: only what would run matters here; a plain reading of raw array bytes that
        # merely breaks (or names a module that cannot exist) is no finding.
        loads = _verified_tensor_loads(alternative, ctx, blob)
        reported |= _report_globals(
            alternative, ctx, mode, blocking_only=True, skip=reported, tensor_loads=loads
        )
        for qualname, payload, pos in alternative.nested:
            _report_nested(ctx, blob, qualname, payload, pos, verified=pos in loads)
    _report_stream_shape(obs, runs, followed, ctx, mode)


def _report_globals(
    obs: Observations,
    ctx: AnalysisContext,
    mode: Mode,
    *,
    blocking_only: bool = False,
    skip: frozenset[str] | set[str] = frozenset(),
    tensor_loads: frozenset[int] = frozenset(),
) -> set[str]:
    """Judge every imported name; returns the names reported."""
    settings = ctx.settings
    by_name: dict[str, list[Glob]] = {}
    for glob in obs.globs:
        by_name.setdefault(glob.qualname, []).append(glob)
    reported: set[str] = set()
    for qualname, globs in by_name.items():
        if qualname in skip or (mode is Mode.TORCHSCRIPT and _torchscript_name(qualname)):
            continue
        resolving = qualname in GETATTR_GADGETS or qualname in MODULE_ATTR_GADGETS
        if (resolving or qualname == "builtins.type") and all(
            g.total_calls and g.total_calls == g.resolved_uses for g in globs
        ):
            continue
        usage = _strongest(globs)
        literal_only = all(g.nonliteral_calls == 0 for g in globs)
        if qualname == TENSOR_FROM_BYTES and _only_verified_calls(obs, globs, tensor_loads):
            continue
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
        if blocking_only and not _could_run(qualname, judgement):
            continue
        _report_global(ctx, qualname, globs, usage, judgement)
        reported.add(qualname)
    return reported


def _could_run(qualname: str, judgement: Judgement) -> bool:
    """In an alternative reading: a dangerous name, or an unknown call of a module that exists.

    A plain reading of joblib's bytes mixes the outer memo into what follows, so names like
    ``NumpyArrayWrapper.dtype`` appear; importing them fails, nothing runs.
    """
    if not valid_dotted(qualname):
        return False
    if judgement.verdict is Verdict.DANGEROUS:
        return True
    root = qualname.split(".", 1)[0]
    return judgement.verdict is Verdict.UNKNOWN_CALL and (
        root in sys.stdlib_module_names or root in TRUSTED_ROOTS
    )


def _report_calls(
    obs: Observations, ctx: AnalysisContext, blob: Blob, tensor_loads: frozenset[int]
) -> None:
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
        _report_nested(ctx, blob, qualname, payload, pos, verified=pos in tensor_loads)


#: Top-level packages bastion has profiles for (they exist wherever their models are loaded).
TRUSTED_ROOTS = frozenset(n.split(".", 1)[0] for n in TRUSTED_NAMESPACES | ECOSYSTEM_NAMESPACES)

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


def _literal_payload(blob: Blob, payload: object) -> Blob | None:
    if isinstance(payload, bytes | bytearray):
        return BytesBlob(bytes(payload))
    if isinstance(payload, BigBytes) and blob.size is not None:
        return SliceBlob(blob, payload.offset, payload.length)
    return None


def _report_nested(
    ctx: AnalysisContext,
    blob: Blob,
    qualname: str,
    payload: object,
    pos: int,
    *,
    verified: bool = False,
) -> None:
    member = f"<{qualname}@{pos}>"
    inner = _literal_payload(blob, payload)
    if verified:
        message = (
            f"{qualname} at offset {pos} rebuilds a tensor from an embedded torch.save file, "
            "as pickling a tensor writes it; that file is analyzed below."
        )
    else:
        analyzed = "analyzed below" if inner is not None else "not a literal, so not analyzable"
        message = f"{qualname} at offset {pos} deserializes an embedded payload ({analyzed})."
    ctx.report(
        NESTED_PAYLOAD.finding(
            ctx.location(offset=pos),
            message,
            evidence=qualname,
            severity=Severity.LOW if verified else None,
        )
    )
    if inner is not None:
        if qualname == "marshal.loads":
            return  # marshalled code objects: the call itself is the finding
        ctx.dispatch(inner, member)


#: What ``Tensor.__reduce__``/``Storage.__reduce__`` write when a tensor is pickled by plain
#: pickle, joblib, dill or cloudpickle: ``_load_from_bytes(<torch.save bytes>)``.
TENSOR_FROM_BYTES = "torch.storage._load_from_bytes"
#: What torch.save writes (legacy stream, zip archive): the only payloads taken as tensors.
_TORCH_SAVE_FORMATS = frozenset({("pytorch-legacy",), ("pytorch-zip",)})


def _verified_tensor_loads(obs: Observations, ctx: AnalysisContext, blob: Blob) -> frozenset[int]:
    """Offsets of ``_load_from_bytes`` calls whose literal payload is a plain torch.save file.

    The call runs ``torch.load(weights_only=False)`` on the payload, so it is exactly as safe as
    the payload: the payload is dispatched and analyzed in full (under ``<…@offset>``), and the
    call itself is then no finding. A payload that is not a literal, not a torch.save file, or
    that could be read as more than one format keeps the call critical.
    """
    from bastion.scan.detect import detect

    verified: set[int] = set()
    for qualname, payload, pos in obs.nested:
        if qualname != TENSOR_FROM_BYTES:
            continue
        inner = _literal_payload(blob, payload)
        if inner is None:
            continue
        try:
            formats = detect(inner, "payload", ctx.settings.limits)
        except Exception:  # NOTE: an undetectable payload simply stays critical
            continue
        if formats in _TORCH_SAVE_FORMATS:
            verified.add(pos)
    return frozenset(verified)


def _only_verified_calls(obs: Observations, globs: list[Glob], verified: frozenset[int]) -> bool:
    """Every use of the loader is a literal call whose payload was verified."""
    calls = [pos for qualname, _payload, pos in obs.nested if qualname == TENSOR_FROM_BYTES]
    return (
        bool(calls)
        and all(g.strongest is Usage.CALL and g.nonliteral_calls == 0 for g in globs)
        and sum(g.total_calls for g in globs) == len(calls)
        and all(pos in verified for pos in calls)
    )


def _report_stream_shape(
    obs: Observations,
    runs: list[RunResult],
    followed: Followed,
    ctx: AnalysisContext,
    mode: Mode,
) -> None:
    if followed.unfollowable_at is not None:
        ctx.report(
            UNFOLLOWABLE.finding(
                ctx.location(offset=followed.unfollowable_at),
                f"Stopped following the stream at offset {followed.unfollowable_at}: "
                f"{followed.reason}. The loader goes on reading what was not analyzed.",
                evidence=followed.reason,
                severity=Severity.HIGH,
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
