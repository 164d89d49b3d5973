"""The history tables as of the latest schema version (what queries read and write).

The migrations in :mod:`bastion.store.migrations` create these; this module only describes
them for SQLAlchemy Core. Table names carry a ``history_`` prefix so the history can share a
database (or PostgreSQL schema) with the gateway's tables.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, ForeignKey, Integer, MetaData, String, Table, Text

metadata = MetaData()

runs = Table(
    "history_runs",
    metadata,
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
    Column("finding_count", Integer, nullable=False, default=0),
    Column("max_severity", String(16), nullable=True),
)

findings = Table(
    "history_findings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("history_runs.id", ondelete="CASCADE"), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("rule", String(64), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("path", Text, nullable=False),
    Column("member", Text, nullable=True),
    Column("line", Integer, nullable=True),
    Column("message", Text, nullable=False),
    Column("properties", Text, nullable=False),
    Column("title", Text, nullable=True),
    Column("category", String(32), nullable=True),
)

metrics = Table(
    "history_metrics",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("history_runs.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(256), nullable=False),
    Column("value", Float, nullable=False),
    Column("threshold", Float, nullable=True),
)

artifacts = Table(
    "history_artifacts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("history_runs.id", ondelete="CASCADE"), nullable=False),
    Column("path", Text, nullable=False),
    Column("digest", String(100), nullable=True),
    Column("format", String(64), nullable=False),
)

posture = Table(
    "history_posture",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project", String(256), nullable=False),
    Column("created", String(40), nullable=False),
    Column("tool_version", String(40), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("source", Text, nullable=False),
    Column("document", Text, nullable=False),
)
