"""Opening a database by URL: SQLite tuned for durability, PostgreSQL, optional schema isolation.

SQLite connections get ``journal_mode=WAL``, ``synchronous=FULL`` (every commit is on disk before
it returns), ``foreign_keys=ON`` and a busy timeout, so a reader never blocks the writer and a
committed row survives a crash. PostgreSQL URLs may name a ``schema``: tables are then created and
used inside it (tests use a unique schema per run and drop it afterwards).
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from bastion.errors import BastionError

_WAL_WAIT_S = 10.0
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class StoreError(BastionError):
    """The database could not be opened or used; names the URL (without password) and why."""


def resolve_url(url: str, base: Path | None = None) -> str:
    """Make a relative SQLite path absolute against ``base`` (the config file's folder)."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////") and base is not None:
        rel = url[len("sqlite:///") :]
        if rel and not rel.startswith(":memory:"):
            return "sqlite:///" + str((base / rel).absolute())
    return url


def _safe(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid url>"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout=10000")
        _enable_wal(cursor)
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _enable_wal(cursor: Any) -> None:
    """Switch to WAL, retrying while another opener holds the lock the switch needs.

    The switch is persistent in the file, so only the first opener of a new database does it;
    SQLite may answer "database is locked" at once (without the busy handler) when two openers
    race for it, hence the bounded retry.
    """
    deadline = time.monotonic() + _WAL_WAIT_S
    delay = 0.005
    while not _try_wal(cursor, last=time.monotonic() >= deadline):
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def _try_wal(cursor: Any, *, last: bool) -> bool:
    """One attempt: True once the database is in WAL mode, False when it is locked (retry)."""
    try:
        row = cursor.execute("PRAGMA journal_mode").fetchone()
        if row is None or str(row[0]).lower() != "wal":
            cursor.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError as exc:
        if last or ("locked" not in str(exc) and "busy" not in str(exc)):
            raise
        return False
    return True


@dataclass(frozen=True)
class Store:
    """An open database: the engine, its dialect name and the schema tables live in."""

    engine: Engine
    url: str
    schema: str | None = None
    base: Engine | None = None

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def create_all(self, metadata: MetaData) -> None:
        """Create the tables of ``metadata`` (and the schema) when they do not exist."""
        try:
            with self.engine.begin() as conn:
                if self.schema is not None:
                    conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
                metadata.create_all(conn)
        except SQLAlchemyError as exc:
            raise StoreError(f"{_safe(self.url)}: cannot create tables: {exc}") from exc

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection with a transaction, committed on success."""
        with self.engine.begin() as conn:
            yield conn

    def drop_schema(self) -> None:
        """Drop the schema and everything in it (PostgreSQL test isolation)."""
        if self.schema is None:
            return
        with self.engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))

    def dispose(self) -> None:
        """Close every pooled connection (of the underlying engine when schema-bound)."""
        (self.base or self.engine).dispose()


def open_store(url: str, *, schema: str | None = None, base: Path | None = None) -> Store:
    """Open the database at ``url``; ``schema`` isolates tables (PostgreSQL only)."""
    url = resolve_url(url, base)
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"{url!r} is not a database URL: {exc}") from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise StoreError(f"{_safe(url)}: unsupported database '{backend}' (sqlite or postgresql)")
    if schema is not None and not _SCHEMA_NAME.match(schema):
        raise StoreError(f"{_safe(url)}: invalid schema name {schema!r}")
    kwargs: dict[str, Any] = {}
    if backend == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            kwargs["poolclass"] = StaticPool
            kwargs["connect_args"] = {"check_same_thread": False}
        else:
            path = Path(parsed.database or "")
            if not path.parent.is_dir():
                raise StoreError(f"{_safe(url)}: directory {path.parent} does not exist")
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 10}
        if schema is not None:
            raise StoreError(f"{_safe(url)}: schemas are a PostgreSQL feature")
    else:
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(url, **kwargs)
    except (ArgumentError, ImportError) as exc:
        raise StoreError(f"{_safe(url)}: cannot open: {exc}") from exc
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    if schema is not None:
        bound = engine.execution_options(schema_translate_map={None: schema})
        return Store(engine=bound, url=url, schema=schema, base=engine)
    return Store(engine=engine, url=url, schema=schema)
