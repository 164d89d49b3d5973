"""Saving a gateway summary: ``bastion audit verify --save`` records one ``gateway`` run.

The run holds the chain verification's findings (``BST-GW-018`` for every broken link) and,
as metrics, per audit log: records, checkpoints, verified checkpoints, and how many records of
each kind and action the log holds (requests, detections, response actions, model loads…), so
``bastion diff`` shows how traffic and incidents changed between two audits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bastion.cli.history import record_run, wants_save
from bastion.config import LoadedConfig, load_config
from bastion.core import Finding, ScanResult
from bastion.errors import BastionError
from bastion.store.history_types import MetricRecord


def _counts(gateway_store: Any) -> list[MetricRecord]:
    """Records per log, kind and action, read with one grouped query."""
    from sqlalchemy import func, select
    from sqlalchemy.exc import SQLAlchemyError

    from bastion.gateway.store import audit_log

    query = select(audit_log.c.log_id, audit_log.c.kind, audit_log.c.action, func.count()).group_by(
        audit_log.c.log_id, audit_log.c.kind, audit_log.c.action
    )
    try:
        with gateway_store.store.connect() as conn:
            rows = conn.execute(query).all()
    except SQLAlchemyError:
        return []
    return [
        MetricRecord(f"gateway/{log}/{kind}/{action or '-'}", float(count))
        for log, kind, action, count in rows
    ]


def record_gateway_audit(
    config: Path,
    gateway_store: Any,
    reports: Sequence[Any],
    findings: Sequence[Finding],
    *,
    started: datetime,
    save: bool | None,
    store: str | None,
    quiet: bool = False,
) -> int | None:
    """Save the outcome of verifying the gateway's audit logs as a ``gateway`` run."""
    try:
        loaded: LoadedConfig | None = load_config(config)
    except BastionError:
        loaded = None
    if not wants_save(save, store, loaded):
        return None
    metrics: list[MetricRecord] = []
    for report in reports:
        prefix = f"gateway/{report.log_id}"
        metrics += [
            MetricRecord(f"{prefix}/records", float(report.records)),
            MetricRecord(f"{prefix}/checkpoints", float(report.checkpoints)),
            MetricRecord(f"{prefix}/checkpoints_verified", float(report.checkpoints_verified)),
            MetricRecord(f"{prefix}/problems", float(len(report.problems))),
        ]
    metrics += _counts(gateway_store)
    passed = all(r.ok for r in reports)
    result = ScanResult(
        root=str(config),
        started=started,
        finished=datetime.now(timezone.utc),
        findings=tuple(findings),
    )
    return record_run(
        "gateway",
        result,
        target=config,
        passed=passed,
        exit_code=0 if passed else 1,
        save=save,
        store=store,
        loaded=loaded,
        metrics=sorted(metrics, key=lambda m: m.name),
        summary={
            "logs": {
                r.log_id: {"records": r.records, "head_seq": r.head_seq, "ok": r.ok}
                for r in reports
            }
        },
        quiet=quiet,
    )
