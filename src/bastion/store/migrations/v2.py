"""Schema version 2: finding counts on runs, finding titles and categories, posture baselines.

The upgrade adds ``finding_count`` and ``max_severity`` to runs and fills them from the stored
findings (so ``bastion history`` lists counts without a join over every finding), adds nullable
``title``/``category`` to findings (older rows fall back to the rule registry), an index for the
``--project``/``--kind`` listing, and the ``history_posture`` table where ``bastion baseline set``
keeps every accepted posture of a project.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import (
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    case,
    func,
    select,
    update,
)

if TYPE_CHECKING:
    from bastion.store.migrations import MigrationContext

VERSION = 2
DESCRIPTION = "run finding counts, finding title/category, posture baselines"

POSTURE = "history_posture"
_SEVERITY_RANK = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


def _posture_table(meta: MetaData) -> Table:
    return Table(
        POSTURE,
        meta,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("project", String(256), nullable=False),
        Column("created", String(40), nullable=False),
        Column("tool_version", String(40), nullable=False),
        Column("digest", String(64), nullable=False),
        Column("source", Text, nullable=False),
        Column("document", Text, nullable=False),
        Index("ix_history_posture_project", "project", "id"),
    )


def upgrade(ctx: MigrationContext) -> None:
    """Add the columns, backfill run counts from findings, create the posture table."""
    ctx.add_column("history_runs", "finding_count", Integer(), default_sql="0")
    ctx.add_column("history_runs", "max_severity", String(16))
    ctx.add_column("history_findings", "title", Text())
    ctx.add_column("history_findings", "category", String(32))
    meta = MetaData()
    runs = Table(
        "history_runs",
        meta,
        Column("id", Integer, primary_key=True),
        Column("project", String(256)),
        Column("kind", String(16)),
        Column("finding_count", Integer),
        Column("max_severity", String(16)),
    )
    findings = Table(
        "history_findings",
        meta,
        Column("id", Integer, primary_key=True),
        Column("run_id", Integer),
        Column("severity", String(16)),
    )
    rank = case(
        *((findings.c.severity == name, value) for name, value in _SEVERITY_RANK.items()),
        else_=-1,
    )
    per_run = select(
        findings.c.run_id, func.count().label("n"), func.max(rank).label("worst")
    ).group_by(findings.c.run_id)
    names = {value: name for name, value in _SEVERITY_RANK.items()}
    for run_id, count, worst in ctx.conn.execute(per_run).all():
        ctx.conn.execute(
            update(runs)
            .where(runs.c.id == run_id)
            .values(finding_count=int(count), max_severity=names.get(int(worst)))
        )
    Index("ix_history_runs_project_kind", runs.c.project, runs.c.kind, runs.c.id).create(ctx.conn)
    _posture_table(MetaData()).create(ctx.conn)
