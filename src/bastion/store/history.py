"""The run history: every scan, assessment, verification, gateway summary and posture check.

>>> from bastion.store.history import open_history
>>> from bastion.store.history_config import StoreSettings
>>> history = open_history(StoreSettings("sqlite://"))          # in memory, migrated
>>> history.runs()
[]

Where it lives (first match wins): ``--store URL``, the ``BASTION_STORE`` environment variable,
``[store] url`` in the policy file, else SQLite at ``<user data dir>/bastion/history.db``
(``platformdirs``). PostgreSQL URLs (``postgresql+psycopg://…``) may name a schema with
``[store] schema`` or ``BASTION_STORE_SCHEMA``. Opening a store upgrades its schema
(:mod:`bastion.store.migrations`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import SQLAlchemyError

from bastion.core import Severity
from bastion.errors import BastionError
from bastion.store import history_tables as t
from bastion.store.engine import Store, StoreError, open_store
from bastion.store.history_config import StoreSettings
from bastion.store.history_types import (
    ArtifactRecord,
    FindingRecord,
    MetricRecord,
    RunRecord,
    StoredRun,
    canonical_json,
)
from bastion.store.migrations import migrate

_CHUNK = 2000
_REF = re.compile(r"^(?:(?P<id>\d+)|latest(?:~(?P<back>\d+))?)$")


class RunNotFoundError(BastionError):
    """A run id (or ``latest~N``) names no stored run."""


def open_history(settings: StoreSettings) -> HistoryStore:
    """Open (creating the default SQLite folder when needed) and migrate the history store."""
    if not settings.configured and settings.url.startswith("sqlite:///"):
        folder = Path(settings.url[len("sqlite:///") :]).parent
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise StoreError(f"{folder}: cannot create the history folder: {exc}") from exc
    store = open_store(settings.url, schema=settings.schema)
    migrate(store)
    return HistoryStore(store)


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return {}


def _severity(text: str) -> Severity:
    try:
        return Severity.parse(text)
    except ValueError:
        return Severity.INFO


class HistoryStore:
    """Reads and writes runs on an open, migrated :class:`~bastion.store.Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def display_url(self) -> str:
        """The URL without a password."""
        return self.store.engine.url.render_as_string(hide_password=True)

    def _fail(self, what: str, exc: SQLAlchemyError) -> StoreError:
        return StoreError(f"{self.display_url}: cannot {what}: {exc}")

    def record(self, run: RunRecord) -> int:
        """Save a run with its findings, metrics and artifacts; returns the new run id."""
        worst = run.max_severity
        row = {
            "kind": run.kind.value,
            "project": run.project,
            "target": run.target,
            "started": run.started.isoformat(),
            "finished": run.finished.isoformat(),
            "tool_version": run.tool_version,
            "verdict": run.verdict,
            "exit_code": run.exit_code,
            "policy_digest": run.policy_digest,
            "summary": canonical_json(run.summary),
            "finding_count": len(run.findings),
            "max_severity": worst.label if worst is not None else None,
        }
        try:
            with self.store.connect() as conn:
                run_id = _new_id(conn.execute(insert(t.runs).values(**row)))
                _bulk(conn, t.findings, (_finding_row(run_id, f) for f in run.findings))
                _bulk(conn, t.metrics, (_metric_row(run_id, m) for m in run.metrics))
                _bulk(conn, t.artifacts, (_artifact_row(run_id, a) for a in run.artifacts))
        except SQLAlchemyError as exc:
            raise self._fail("save the run", exc) from exc
        return run_id

    def runs(
        self, *, project: str | None = None, kind: str | None = None, limit: int = 50
    ) -> list[StoredRun]:
        """Runs, newest first, optionally of one project and kind."""
        query = select(t.runs).order_by(t.runs.c.id.desc()).limit(max(1, limit))
        if project is not None:
            query = query.where(t.runs.c.project == project)
        if kind is not None:
            query = query.where(t.runs.c.kind == kind)
        try:
            with self.store.connect() as conn:
                return [_run(dict(row._mapping)) for row in conn.execute(query)]
        except SQLAlchemyError as exc:
            raise self._fail("list runs", exc) from exc

    def run(self, run_id: int) -> StoredRun:
        """One run by id."""
        try:
            with self.store.connect() as conn:
                row = conn.execute(select(t.runs).where(t.runs.c.id == run_id)).first()
        except SQLAlchemyError as exc:
            raise self._fail("read a run", exc) from exc
        if row is None:
            raise RunNotFoundError(f"no run {run_id} in {self.display_url} (see 'bastion history')")
        return _run(dict(row._mapping))

    def resolve(
        self, ref: str, *, project: str | None = None, kind: str | None = None
    ) -> StoredRun:
        """A run from ``42``, ``latest`` or ``latest~2`` (the newest but two, within filters)."""
        match = _REF.match(ref.strip())
        if match is None:
            raise RunNotFoundError(f"{ref!r} is not a run id (a number, 'latest' or 'latest~N')")
        if match.group("id") is not None:
            return self.run(int(match.group("id")))
        back = int(match.group("back") or 0)
        found = self.runs(project=project, kind=kind, limit=back + 1)
        if len(found) <= back:
            scope = " ".join(
                part for part in (f"project {project!r}" if project else "", kind or "") if part
            )
            where = f" ({scope})" if scope else ""
            raise RunNotFoundError(f"no run {ref}{where} in {self.display_url}")
        return found[back]

    def latest(self, project: str, kind: str) -> StoredRun | None:
        """The newest run of a project and kind, if any."""
        found = self.runs(project=project, kind=kind, limit=1)
        return found[0] if found else None

    def findings(self, run_id: int) -> tuple[FindingRecord, ...]:
        """A run's findings in stored order."""
        query = select(t.findings).where(t.findings.c.run_id == run_id).order_by(t.findings.c.id)
        return tuple(_finding(dict(row._mapping)) for row in self._rows(query, "read findings"))

    def metrics(self, run_id: int) -> tuple[MetricRecord, ...]:
        """A run's metrics by name."""
        query = select(t.metrics).where(t.metrics.c.run_id == run_id).order_by(t.metrics.c.name)
        return tuple(
            MetricRecord(
                r.name, float(r.value), None if r.threshold is None else float(r.threshold)
            )
            for r in self._rows(query, "read metrics")
        )

    def artifacts(self, run_id: int) -> tuple[ArtifactRecord, ...]:
        """A run's artifacts in stored order."""
        query = select(t.artifacts).where(t.artifacts.c.run_id == run_id).order_by(t.artifacts.c.id)
        return tuple(
            ArtifactRecord(r.path, r.format, r.digest) for r in self._rows(query, "read artifacts")
        )

    def save_posture(self, project: str, document: str, digest: str, source: str) -> int:
        """Keep an accepted posture (the JSON document) of a project; returns its id."""
        from datetime import datetime, timezone

        from bastion import __version__

        row = {
            "project": project,
            "created": datetime.now(timezone.utc).isoformat(),
            "tool_version": __version__,
            "digest": digest,
            "source": source,
            "document": document,
        }
        try:
            with self.store.connect() as conn:
                return _new_id(conn.execute(insert(t.posture).values(**row)))
        except SQLAlchemyError as exc:
            raise self._fail("save the posture baseline", exc) from exc

    def latest_posture(self, project: str) -> tuple[int, str, str] | None:
        """``(id, source, document)`` of a project's newest posture baseline, if any."""
        query = (
            select(t.posture.c.id, t.posture.c.source, t.posture.c.document)
            .where(t.posture.c.project == project)
            .order_by(t.posture.c.id.desc())
            .limit(1)
        )
        rows = self._rows(query, "read the posture baseline")
        return (int(rows[0].id), str(rows[0].source), str(rows[0].document)) if rows else None

    def _rows(self, query: Any, what: str) -> Sequence[Any]:
        try:
            with self.store.connect() as conn:
                return conn.execute(query).all()
        except SQLAlchemyError as exc:
            raise self._fail(what, exc) from exc

    def close(self) -> None:
        """Release pooled connections."""
        self.store.dispose()


def _new_id(result: Any) -> int:
    key = result.inserted_primary_key
    if key is None:  # pragma: no cover - every supported dialect reports it
        raise StoreError("the database did not report the new row's id")
    return int(key[0])


def _bulk(conn: Connection, table: Any, rows: Iterable[dict[str, Any]]) -> None:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= _CHUNK:
            conn.execute(insert(table), batch)
            batch = []
    if batch:
        conn.execute(insert(table), batch)


def _finding_row(run_id: int, f: FindingRecord) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "fingerprint": f.fingerprint,
        "rule": f.rule,
        "severity": f.severity.label,
        "path": f.path,
        "member": f.member,
        "line": f.line,
        "message": f.message,
        "properties": canonical_json(f.properties),
        "title": f.title,
        "category": f.category,
    }


def _metric_row(run_id: int, m: MetricRecord) -> dict[str, Any]:
    return {"run_id": run_id, "name": m.name, "value": m.value, "threshold": m.threshold}


def _artifact_row(run_id: int, a: ArtifactRecord) -> dict[str, Any]:
    return {"run_id": run_id, "path": a.path, "digest": a.digest, "format": a.format}


def _run(row: Mapping[str, Any]) -> StoredRun:
    summary = _loads(row["summary"])
    return StoredRun(
        id=int(row["id"]),
        kind=row["kind"],
        project=row["project"],
        target=row["target"],
        started=row["started"],
        finished=row["finished"],
        tool_version=row["tool_version"],
        verdict=row["verdict"],
        exit_code=int(row["exit_code"]),
        policy_digest=row["policy_digest"],
        summary=summary if isinstance(summary, dict) else {},
        finding_count=int(row["finding_count"] or 0),
        max_severity=row["max_severity"],
    )


def _finding(row: Mapping[str, Any]) -> FindingRecord:
    properties = _loads(row["properties"])
    return FindingRecord(
        fingerprint=row["fingerprint"],
        rule=row["rule"],
        severity=_severity(row["severity"]),
        path=row["path"],
        message=row["message"],
        member=row["member"],
        line=row["line"],
        title=row["title"],
        category=row["category"],
        properties=properties if isinstance(properties, dict) else {},
    )
