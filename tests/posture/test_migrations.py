"""The history schema: built from empty, upgraded from version 1 (with data), refused when newer."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import insert, inspect, select, text

from bastion.core import Severity
from bastion.store import open_store
from bastion.store.engine import StoreError
from bastion.store.history import open_history
from bastion.store.history_config import StoreSettings
from bastion.store.history_types import FindingRecord, RunKind, RunRecord
from bastion.store.migrations import LATEST, MIGRATIONS, current_version, migrate, v1, version_table
from tests.posture.conftest import Backend

FIXTURE = Path(__file__).parent / "fixtures" / "history_v1.sqlite.sql"

V1_RUNS = [
    (1, "scan", "demo", "failed", 1),
    (2, "assess", "demo", "passed", 0),
    (3, "scan", "other", "passed", 0),
]


def _fill_v1(backend: Backend) -> None:
    """The fixture's rows, written through the version-1 tables (any dialect)."""
    store = open_store(backend.url, schema=backend.schema)
    assert migrate(store, target=1) == (0, 1)
    tables = v1.tables().tables
    with store.connect() as conn:
        for run_id, kind, project, verdict, code in V1_RUNS:
            conn.execute(
                insert(tables[v1.RUNS]).values(
                    id=run_id, kind=kind, project=project, target=f"/srv/{project}",
                    started=f"2026-01-0{4 + run_id}T09:00:01+00:00",
                    finished=f"2026-01-0{4 + run_id}T09:00:03+00:00", tool_version="0.1.0",
                    verdict=verdict, exit_code=code, policy_digest=None, summary="{}",
                )
            )  # fmt: skip
        rows = [
            (1, "f1", "BST-PKL-001", "critical", "models/m.pkl", None, None, "imports os.system"),
            (1, "f2", "BST-PKL-003", "medium", "models/m.pkl", "data.pkl", 3, "unknown class"),
            (2, "f3", "BST-ASR-001", "info", "model", None, None, "robust accuracy ok"),
        ]
        for run_id, fp, rule, sev, path, member, line, message in rows:
            conn.execute(
                insert(tables[v1.FINDINGS]).values(
                    run_id=run_id, fingerprint=fp, rule=rule, severity=sev, path=path,
                    member=member, line=line, message=message, properties="{}",
                )
            )  # fmt: skip
        conn.execute(
            insert(tables[v1.METRICS]).values(
                run_id=2, name="BST-ASR-001/robust_accuracy", value=0.61, threshold=0.5
            )
        )
        if backend.name == "postgresql":  # explicit ids do not advance PostgreSQL's sequence
            table = f'"{backend.schema}".history_runs'
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), 3)"))
    store.dispose()


def _check_upgraded(backend: Backend) -> None:
    history = backend.open()
    try:
        assert current_version(history.store) == LATEST == 2
        runs = {r.id: r for r in history.runs()}
        assert runs[1].finding_count == 2 and runs[1].max_severity == "critical"
        assert runs[2].finding_count == 1 and runs[2].max_severity == "info"
        assert runs[3].finding_count == 0 and runs[3].max_severity is None
        old = history.findings(1)
        assert [f.severity for f in old] == [Severity.CRITICAL, Severity.MEDIUM]
        assert old[0].title is None and old[1].member == "data.pkl" and old[1].line == 3
        assert [m.name for m in history.metrics(2)] == ["BST-ASR-001/robust_accuracy"]
        assert history.latest("demo", "scan") is not None and history.latest("demo", "scan").id == 1
        now = datetime.now(timezone.utc)
        new_id = history.record(
            RunRecord(
                RunKind.SCAN, "demo", "/srv/demo", now, now, "failed", 1,
                findings=(FindingRecord("f1", "BST-PKL-001", Severity.CRITICAL, "models/m.pkl",
                                        "imports os.system", title="Dangerous import"),),
            )
        )  # fmt: skip
        assert new_id == 4
        assert history.run(new_id).finding_count == 1
        assert history.findings(new_id)[0].title == "Dangerous import"
        assert history.save_posture("demo", "{}", "d" * 64, "test") >= 1
        with history.store.connect() as conn:
            versions = conn.execute(select(version_table.c.version)).scalars().all()
        assert sorted(versions) == [1, 2]
    finally:
        history.close()


def test_from_empty(backend: Backend) -> None:
    store = open_store(backend.url, schema=backend.schema)
    assert current_version(store) == 0
    assert migrate(store) == (0, LATEST)
    assert migrate(store) == (LATEST, LATEST)  # idempotent
    with store.engine.connect() as conn:
        names = set(inspect(conn).get_table_names(schema=backend.schema))
    assert {"history_runs", "history_findings", "history_metrics", "history_artifacts",
            "history_posture", "history_schema_version"} <= names  # fmt: skip
    store.dispose()


def test_from_v1_with_data(backend: Backend) -> None:
    _fill_v1(backend)
    _check_upgraded(backend)


def test_from_committed_v1_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(FIXTURE.read_text())
    backend = Backend("sqlite", f"sqlite:///{path}")
    store = open_store(backend.url)
    assert current_version(store) == 1
    store.dispose()
    _check_upgraded(backend)


def test_newer_schema_is_refused(backend: Backend) -> None:
    store = open_store(backend.url, schema=backend.schema)
    migrate(store)
    with store.connect() as conn:
        conn.execute(
            insert(version_table).values(
                version=LATEST + 1, applied_at="x", tool_version="9.9", description="future"
            )
        )
    with pytest.raises(StoreError, match="newer than this bastion"):
        migrate(store)
    store.dispose()


def test_foreign_table_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "foreign.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE history_runs (x INTEGER)")
    with pytest.raises(StoreError, match="not a bastion history database"):
        open_history(StoreSettings(f"sqlite:///{path}"))


def test_failed_step_leaves_the_old_version(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fill_v1(backend)
    broken = MIGRATIONS[1]

    def explode(ctx: object) -> None:
        broken.upgrade(ctx)  # type: ignore[arg-type]
        raise RuntimeError("disk on fire")

    import bastion.store.migrations as migrations

    monkeypatch.setattr(
        migrations, "MIGRATIONS", (MIGRATIONS[0], type(broken)(2, broken.description, explode))
    )
    store = open_store(backend.url, schema=backend.schema)
    with pytest.raises(RuntimeError, match="disk on fire"):
        migrations.migrate(store)
    assert current_version(store) == 1  # the half-done upgrade was rolled back
    with store.engine.connect() as conn:
        columns = {
            c["name"] for c in inspect(conn).get_columns("history_runs", schema=backend.schema)
        }
    assert "finding_count" not in columns
    store.dispose()
    monkeypatch.undo()
    _check_upgraded(backend)


def test_unknown_target_version() -> None:
    with pytest.raises(StoreError, match="no schema version 7"):
        migrate(open_store("sqlite://"), target=7)


def test_concurrent_openers_upgrade_once(backend: Backend) -> None:
    """Two processes opening an empty database at once: one upgrades, the other waits."""
    from concurrent.futures import ThreadPoolExecutor

    stores = [open_store(backend.url, schema=backend.schema) for _ in range(3)]
    try:
        with ThreadPoolExecutor(max_workers=3) as pool:
            results = list(pool.map(migrate, stores))
        assert sorted(results) == [(0, LATEST), (LATEST, LATEST), (LATEST, LATEST)]
        with stores[0].connect() as conn:
            versions = conn.execute(select(version_table.c.version)).scalars().all()
        assert sorted(versions) == list(range(1, LATEST + 1))
    finally:
        for store in stores:
            store.dispose()
