"""Versioned schema of the history store, and the runner that upgrades a database to it.

Each migration is a module with ``VERSION``, ``DESCRIPTION`` and ``upgrade(ctx)``; the runner
records every applied version in ``history_schema_version``. A database is upgraded in one
transaction, under a lock (``BEGIN IMMEDIATE`` on SQLite, an advisory transaction lock on
PostgreSQL), so two processes opening an old database at once upgrade it once, and a failed step
leaves it at the version it had.

>>> from bastion.store import open_store
>>> from bastion.store.migrations import LATEST, migrate
>>> migrate(open_store("sqlite://")) == (0, LATEST)
True

Migrations are frozen: they spell out their own tables instead of importing the current ones,
so an old database is always upgraded through the exact steps a new one was built with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, Text, insert, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.types import TypeEngine

from bastion import __version__
from bastion.store.engine import Store, StoreError
from bastion.store.migrations import v1, v2

#: Name of the table that records applied versions.
VERSION_TABLE = "history_schema_version"

_meta = MetaData()
version_table = Table(
    VERSION_TABLE,
    _meta,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("applied_at", String(40), nullable=False),
    Column("tool_version", String(40), nullable=False),
    Column("description", Text, nullable=False),
)

#: A stable key for PostgreSQL's advisory lock ("bastion history" as a 63-bit number).
_PG_LOCK_KEY = 0x62617374696F6E


@dataclass(frozen=True)
class MigrationContext:
    """What a migration step gets: the connection (inside the upgrade transaction) and schema."""

    conn: Connection
    schema: str | None

    def table_name(self, name: str) -> str:
        """A quoted, schema-qualified table name for the few statements Core cannot build."""
        quote = self.conn.dialect.identifier_preparer.quote
        return f"{quote(self.schema)}.{quote(name)}" if self.schema else quote(name)

    def add_column(
        self, table: str, column: str, type_: TypeEngine[Any], default_sql: str | None = None
    ) -> None:
        """``ALTER TABLE … ADD COLUMN`` (``NOT NULL DEFAULT`` when a default is given)."""
        ddl = type_.compile(dialect=self.conn.dialect)
        quote = self.conn.dialect.identifier_preparer.quote
        extra = f" NOT NULL DEFAULT {default_sql}" if default_sql is not None else ""
        self.conn.exec_driver_sql(
            f"ALTER TABLE {self.table_name(table)} ADD COLUMN {quote(column)} {ddl}{extra}"
        )


@dataclass(frozen=True)
class Migration:
    """One schema version: its number, a sentence, and the step that reaches it."""

    version: int
    description: str
    upgrade: Callable[[MigrationContext], None]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(v1.VERSION, v1.DESCRIPTION, v1.upgrade),
    Migration(v2.VERSION, v2.DESCRIPTION, v2.upgrade),
)
#: The schema version this bastion writes.
LATEST = MIGRATIONS[-1].version


def _has_version_table(conn: Connection, schema: str | None) -> bool:
    return sa_inspect(conn).has_table(VERSION_TABLE, schema=schema)


def _current(conn: Connection, store: Store) -> int:
    # NOTE: the runs table is looked up first. Outside the upgrade lock another process may commit
    # version 1 between the two lookups; both tables appear in one commit, so in this order the
    # race can only show "no runs, a version table" (read on), never a foreign runs table.
    has_runs = sa_inspect(conn).has_table(v1.RUNS, schema=store.schema)
    if not _has_version_table(conn, store.schema):
        if has_runs:
            raise StoreError(
                f"{store.url}: a {v1.RUNS} table exists without {VERSION_TABLE}: "
                "not a bastion history database (use another database or schema)"
            )
        return 0
    value = conn.execute(select(version_table.c.version).order_by(version_table.c.version.desc()))
    return int(value.scalars().first() or 0)


def current_version(store: Store) -> int:
    """The schema version of the database (0 when it has no history tables)."""
    try:
        with store.engine.connect() as conn:
            return _current(conn, store)
    except SQLAlchemyError as exc:
        raise StoreError(f"{_safe(store)}: cannot read the schema version: {exc}") from exc


def _safe(store: Store) -> str:
    return store.engine.url.render_as_string(hide_password=True)


def _lock(conn: Connection, store: Store) -> None:
    if store.dialect == "sqlite":
        # NOTE: pysqlite runs DDL outside transactions unless one is open; BEGIN IMMEDIATE makes
        # the whole upgrade atomic and takes the write lock before the version is read.
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")
        if store.schema is not None:
            quoted = conn.dialect.identifier_preparer.quote(store.schema)
            conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {quoted}")


def migrate(store: Store, *, target: int | None = None) -> tuple[int, int]:
    """Upgrade the database to ``target`` (default :data:`LATEST`): ``(before, after)``.

    A database newer than this bastion is refused rather than guessed at.
    """
    goal = LATEST if target is None else target
    if not 0 <= goal <= LATEST:
        raise StoreError(f"no schema version {goal} (this bastion knows 1 to {LATEST})")
    try:
        found = current_version(store)
        if found >= goal:
            _refuse_newer(store, found)
            return found, found
        with store.engine.connect() as conn:
            _lock(conn, store)
            before = _current(conn, store)
            _refuse_newer(store, before)
            if before < goal:
                _meta.create_all(conn, tables=[version_table])
                ctx = MigrationContext(conn, store.schema)
                for step in MIGRATIONS[before:goal]:
                    step.upgrade(ctx)
                    conn.execute(
                        insert(version_table).values(
                            version=step.version,
                            applied_at=datetime.now(timezone.utc).isoformat(),
                            tool_version=__version__,
                            description=step.description,
                        )
                    )
            conn.commit()
            return before, max(before, goal)
    except SQLAlchemyError as exc:
        raise StoreError(f"{_safe(store)}: cannot upgrade the history schema: {exc}") from exc


def _refuse_newer(store: Store, version: int) -> None:
    if version > LATEST:
        raise StoreError(
            f"{_safe(store)}: history schema version {version} is newer than this bastion "
            f"understands ({LATEST}); upgrade bastion"
        )


__all__ = ["LATEST", "MIGRATIONS", "Migration", "MigrationContext", "current_version", "migrate"]
