"""History store backends (SQLite file, PostgreSQL schema per test) and an isolated environment.

Every test runs with ``BASTION_STORE``/``BASTION_STORE_SCHEMA`` unset and the user data
directory inside its tmp folder, so nothing reads or writes the real history.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bastion.store import open_store
from bastion.store.history import HistoryStore, open_history
from bastion.store.history_config import StoreSettings

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No store configured; the default history would live under ``tmp_path/xdg-data``."""
    monkeypatch.delenv("BASTION_STORE", raising=False)
    monkeypatch.delenv("BASTION_STORE_SCHEMA", raising=False)
    data = tmp_path / "xdg-data"
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    return data


@dataclass(frozen=True)
class Backend:
    """A database for one test: URL, optional PostgreSQL schema, dialect name."""

    name: str
    url: str
    schema: str | None = None

    def open(self) -> HistoryStore:
        """The migrated history store."""
        return open_history(StoreSettings(self.url, self.schema))

    def use(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Point ``BASTION_STORE`` (and the schema) at this database."""
        monkeypatch.setenv("BASTION_STORE", self.url)
        if self.schema:
            monkeypatch.setenv("BASTION_STORE_SCHEMA", self.schema)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """SQLite in a file, or a fresh PostgreSQL schema dropped afterwards."""
    if request.param == "sqlite":
        yield Backend("sqlite", f"sqlite:///{tmp_path / 'history.db'}")
        return
    schema = "bsthist_" + secrets.token_hex(6)
    try:
        yield Backend("postgresql", PG_URL, schema)
    finally:
        store = open_store(PG_URL, schema=schema)
        store.drop_schema()
        store.dispose()
