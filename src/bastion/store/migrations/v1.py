"""Schema version 1: runs, their findings, metrics and artifacts.

Timestamps are ISO-8601 strings in UTC (portable, and they sort as text); JSON columns are text
holding canonical JSON.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Column, Float, ForeignKey, Index, Integer, MetaData, String, Table, Text

if TYPE_CHECKING:
    from bastion.store.migrations import MigrationContext

VERSION = 1
DESCRIPTION = "runs, findings, metrics and artifacts"

RUNS = "history_runs"
FINDINGS = "history_findings"
METRICS = "history_metrics"
ARTIFACTS = "history_artifacts"


def tables() -> MetaData:
    """The version-1 tables, as they were first released."""
    meta = MetaData()
    Table(
        RUNS,
        meta,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("kind", String(16), nullable=False),
        Column("project", String(256), nullable=False),
        Column("target", Text, nullable=False),
        Column("started", String(40), nullable=False),
        Column("finished", String(40), nullable=False),
        Column("tool_version", String(40), nullable=False),
        Column("verdict", String(16), nullable=False),
        Column("exit_code", Integer, nullable=False),
        Column("policy_digest", String(80), nullable=True),
        Column("summary", Text, nullable=False),
    )
    Table(
        FINDINGS,
        meta,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("run_id", Integer, ForeignKey(f"{RUNS}.id", ondelete="CASCADE"), nullable=False),
        Column("fingerprint", String(64), nullable=False),
        Column("rule", String(64), nullable=False),
        Column("severity", String(16), nullable=False),
        Column("path", Text, nullable=False),
        Column("member", Text, nullable=True),
        Column("line", Integer, nullable=True),
        Column("message", Text, nullable=False),
        Column("properties", Text, nullable=False),
        Index("ix_history_findings_run", "run_id"),
    )
    Table(
        METRICS,
        meta,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("run_id", Integer, ForeignKey(f"{RUNS}.id", ondelete="CASCADE"), nullable=False),
        Column("name", String(256), nullable=False),
        Column("value", Float, nullable=False),
        Column("threshold", Float, nullable=True),
        Index("ix_history_metrics_run", "run_id"),
    )
    Table(
        ARTIFACTS,
        meta,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("run_id", Integer, ForeignKey(f"{RUNS}.id", ondelete="CASCADE"), nullable=False),
        Column("path", Text, nullable=False),
        Column("digest", String(100), nullable=True),
        Column("format", String(64), nullable=False),
        Index("ix_history_artifacts_run", "run_id"),
    )
    return meta


def upgrade(ctx: MigrationContext) -> None:
    """Create the version-1 tables."""
    tables().create_all(ctx.conn)
