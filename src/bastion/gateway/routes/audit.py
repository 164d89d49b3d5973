"""Audit routes (auditor role): read records and verify the chain."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

import anyio.to_thread

from bastion.gateway.audit.verify import verify_log
from bastion.gateway.context import Problem, RequestContext
from bastion.gateway.routes.table import Reply
from bastion.gateway.siem.formats import render

if TYPE_CHECKING:
    from bastion.gateway.runtime import Gateway


def _int(query: dict[str, list[str]], name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name, [str(default)])[-1]
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise Problem(
            400,
            "Bad parameter",
            f"{name} must be an integer in [{low}, {high}]",
            decision="rejected",
        )
    return int(raw)


async def read_records(gw: Gateway, ctx: RequestContext, params: Mapping[str, str]) -> Reply:
    """Records of this gateway's log after ``after`` (``format`` = raw, ecs, ocsf or cef)."""
    query = parse_qs(ctx.query, keep_blank_values=True)
    after = _int(query, "after", 0, 0, 2**62)
    limit = _int(query, "limit", 100, 1, 1000)
    fmt = query.get("format", ["raw"])[-1]
    if fmt not in ("raw", "ecs", "ocsf", "cef"):
        raise Problem(
            400, "Bad parameter", "format must be raw, ecs, ocsf or cef", decision="rejected"
        )
    rows = await anyio.to_thread.run_sync(
        lambda: gw.store.audit_rows(gw.log_id, after=after, limit=limit)
    )
    if fmt == "raw":
        items = [
            {"seq": r.seq, "hash": r.hash, "prev_hash": r.prev_hash, "record": r.data()}
            for r in rows
        ]
        return Reply({"log_id": gw.log_id, "records": items})
    lines = "".join(render(fmt, r.data(), r.hash) + "\n" for r in rows)
    media = b"text/plain; charset=utf-8" if fmt == "cef" else b"application/x-ndjson"
    return Reply(body=lines.encode("utf-8"), media_type=media)


async def verify(gw: Gateway, ctx: RequestContext, params: Mapping[str, str]) -> Reply:
    """Recompute this gateway's chain end to end."""
    report = await anyio.to_thread.run_sync(verify_log, gw.store, gw.log_id)
    return Reply(
        {
            "log_id": report.log_id,
            "ok": report.ok,
            "records": report.records,
            "head_seq": report.head_seq,
            "head_hash": report.head_hash,
            "checkpoints": report.checkpoints,
            "problems": [
                {"seq": p.seq, "kind": p.kind, "detail": p.detail} for p in report.problems[:100]
            ],
        }
    )
