"""The gateway's tables: API keys, the audit chain, response actions and model state.

Built with SQLAlchemy Core on a :class:`bastion.store.Store` (SQLite or PostgreSQL). Only hashes
of API keys are stored. Audit rows are append-only: ``(log_id, seq)`` is the key, and each row
keeps the canonical JSON body it was hashed from, so verification never re-serializes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import SQLAlchemyError

from bastion.gateway.errors import ApiKeyError, AuditError
from bastion.store import Store, StoreError

metadata = MetaData()

api_keys = Table(
    "gateway_api_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("roles", Text, nullable=False),
    Column("models", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=True),
    Column("revoked_at", Float, nullable=True),
    Column("created_by", String(256), nullable=False, default=""),
)

audit_log = Table(
    "gateway_audit",
    metadata,
    Column("log_id", String(64), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("time", String(40), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("action", String(64), nullable=False),
    Column("request_id", String(64), nullable=True, index=True),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("body", Text, nullable=False),
)

actions = Table(
    "gateway_actions",
    metadata,
    Column("action_id", String(32), primary_key=True),
    Column("playbook", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("target", String(256), nullable=False),
    Column("params", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=True),
    Column("reverted_at", Float, nullable=True),
    Column("reverted_by", String(256), nullable=True),
)

model_state = Table(
    "gateway_model_state",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("quarantined", Boolean, nullable=False),
    Column("reason", Text, nullable=False),
    Column("changed_at", Float, nullable=False),
)


@dataclass(frozen=True)
class KeyRecord:
    """One stored API key (the secret itself is never stored)."""

    key_id: str
    name: str
    secret_hash: str
    roles: tuple[str, ...]
    models: tuple[str, ...]
    created_at: float
    expires_at: float | None
    revoked_at: float | None
    created_by: str

    def state(self, now: float) -> str:
        """``active``, ``expired`` or ``revoked``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and now >= self.expires_at:
            return "expired"
        return "active"


@dataclass(frozen=True)
class AuditRow:
    """One stored audit record."""

    log_id: str
    seq: int
    time: str
    kind: str
    action: str
    request_id: str | None
    prev_hash: str
    hash: str
    body: str

    def data(self) -> dict[str, Any]:
        """The record as a dict (parsed from the hashed body)."""
        value = json.loads(self.body)
        if not isinstance(value, dict):
            raise AuditError(f"audit record {self.log_id}#{self.seq}: body is not an object")
        return value


@dataclass(frozen=True)
class ActionRecord:
    """One response action taken by a playbook (or an admin)."""

    action_id: str
    playbook: str
    kind: str
    target: str
    params: dict[str, Any]
    reason: str
    created_at: float
    expires_at: float | None
    reverted_at: float | None
    reverted_by: str | None

    def active(self, now: float) -> bool:
        """Not reverted and not expired."""
        return self.reverted_at is None and (self.expires_at is None or now < self.expires_at)


def _key(row: Any) -> KeyRecord:
    return KeyRecord(
        key_id=row.key_id,
        name=row.name,
        secret_hash=row.secret_hash,
        roles=tuple(json.loads(row.roles)),
        models=tuple(json.loads(row.models)),
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        created_by=row.created_by,
    )


def _action(row: Any) -> ActionRecord:
    return ActionRecord(
        action_id=row.action_id,
        playbook=row.playbook,
        kind=row.kind,
        target=row.target,
        params=json.loads(row.params),
        reason=row.reason,
        created_at=row.created_at,
        expires_at=row.expires_at,
        reverted_at=row.reverted_at,
        reverted_by=row.reverted_by,
    )


def _audit(row: Any) -> AuditRow:
    return AuditRow(
        log_id=row.log_id,
        seq=row.seq,
        time=row.time,
        kind=row.kind,
        action=row.action,
        request_id=row.request_id,
        prev_hash=row.prev_hash,
        hash=row.hash,
        body=row.body,
    )


class GatewayStore:
    """Queries on the gateway's tables; every method is synchronous (run it off the loop)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self) -> None:
        """Create the tables if needed."""
        self.store.create_all(metadata)

    def _fail(self, what: str, exc: SQLAlchemyError) -> StoreError:
        return StoreError(f"{self.store.engine.url.render_as_string(True)}: {what}: {exc}")

    # -- keys -------------------------------------------------------------------------------
    def add_key(self, record: KeyRecord) -> None:
        """Insert a new key record."""
        try:
            with self.store.connect() as conn:
                conn.execute(
                    insert(api_keys).values(
                        key_id=record.key_id,
                        name=record.name,
                        secret_hash=record.secret_hash,
                        roles=json.dumps(list(record.roles)),
                        models=json.dumps(list(record.models)),
                        created_at=record.created_at,
                        expires_at=record.expires_at,
                        revoked_at=record.revoked_at,
                        created_by=record.created_by,
                    )
                )
        except SQLAlchemyError as exc:
            raise self._fail("cannot store key", exc) from exc

    def get_key(self, key_id: str) -> KeyRecord | None:
        """One key by id."""
        try:
            with self.store.connect() as conn:
                row = conn.execute(select(api_keys).where(api_keys.c.key_id == key_id)).first()
        except SQLAlchemyError as exc:
            raise self._fail("cannot read key", exc) from exc
        return _key(row) if row is not None else None

    def list_keys(self) -> list[KeyRecord]:
        """Every key, oldest first."""
        with self.store.connect() as conn:
            rows = conn.execute(select(api_keys).order_by(api_keys.c.created_at)).all()
        return [_key(r) for r in rows]

    def set_revoked(self, key_id: str, when: float | None) -> None:
        """Revoke a key (``when`` is the time) or reinstate it (``None``)."""
        with self.store.connect() as conn:
            done = conn.execute(
                update(api_keys).where(api_keys.c.key_id == key_id).values(revoked_at=when)
            )
        if done.rowcount == 0:
            raise ApiKeyError(f"no API key with id {key_id!r}")

    # -- audit ------------------------------------------------------------------------------
    def audit_head(self, log_id: str) -> tuple[int, str] | None:
        """The last ``(seq, hash)`` of a log, or ``None`` when it is empty."""
        with self.store.connect() as conn:
            top = conn.execute(
                select(func.max(audit_log.c.seq)).where(audit_log.c.log_id == log_id)
            ).scalar()
            if top is None:
                return None
            value = conn.execute(
                select(audit_log.c.hash).where(
                    and_(audit_log.c.log_id == log_id, audit_log.c.seq == top)
                )
            ).scalar_one()
        return int(top), str(value)

    def audit_rows(
        self, log_id: str, *, after: int = 0, limit: int | None = None, descending: bool = False
    ) -> list[AuditRow]:
        """Records of a log with ``seq > after``, in order (or newest first)."""
        query = select(audit_log).where(and_(audit_log.c.log_id == log_id, audit_log.c.seq > after))
        query = query.order_by(audit_log.c.seq.desc() if descending else audit_log.c.seq)
        if limit is not None:
            query = query.limit(limit)
        with self.store.connect() as conn:
            return [_audit(r) for r in conn.execute(query).all()]

    def iter_audit(self, log_id: str, *, chunk: int = 5000) -> Iterator[AuditRow]:
        """Every record of a log in ``seq`` order, read in chunks."""
        after = 0
        while True:
            rows = self.audit_rows(log_id, after=after, limit=chunk)
            yield from rows
            if len(rows) < chunk:
                return
            after = rows[-1].seq

    def audit_logs(self) -> list[str]:
        """Every log id present."""
        with self.store.connect() as conn:
            return sorted(
                str(r[0]) for r in conn.execute(select(audit_log.c.log_id).distinct()).all()
            )

    def audit_by_request(self, request_ids: Sequence[str]) -> set[str]:
        """Which of these request ids have an audit record."""
        found: set[str] = set()
        ids = list(request_ids)
        with self.store.connect() as conn:
            for start in range(0, len(ids), 500):
                part = ids[start : start + 500]
                rows = conn.execute(
                    select(audit_log.c.request_id).where(audit_log.c.request_id.in_(part))
                ).all()
                found.update(str(r[0]) for r in rows)
        return found

    # -- actions ----------------------------------------------------------------------------
    def add_action(self, record: ActionRecord) -> None:
        """Insert a response action."""
        with self.store.connect() as conn:
            conn.execute(
                insert(actions).values(
                    action_id=record.action_id,
                    playbook=record.playbook,
                    kind=record.kind,
                    target=record.target,
                    params=json.dumps(record.params, sort_keys=True),
                    reason=record.reason,
                    created_at=record.created_at,
                    expires_at=record.expires_at,
                    reverted_at=record.reverted_at,
                    reverted_by=record.reverted_by,
                )
            )

    def list_actions(self, *, active_at: float | None = None) -> list[ActionRecord]:
        """Every action (or only those active at a time), oldest first."""
        with self.store.connect() as conn:
            rows = conn.execute(select(actions).order_by(actions.c.created_at)).all()
        records = [_action(r) for r in rows]
        if active_at is not None:
            records = [r for r in records if r.active(active_at)]
        return records

    def get_action(self, action_id: str) -> ActionRecord | None:
        """One action by id."""
        with self.store.connect() as conn:
            row = conn.execute(select(actions).where(actions.c.action_id == action_id)).first()
        return _action(row) if row is not None else None

    def revert_action(self, action_id: str, when: float, by: str) -> None:
        """Mark an action reverted."""
        with self.store.connect() as conn:
            conn.execute(
                update(actions)
                .where(actions.c.action_id == action_id)
                .values(reverted_at=when, reverted_by=by)
            )

    # -- model state ------------------------------------------------------------------------
    def set_quarantine(self, name: str, quarantined: bool, reason: str, when: float) -> None:
        """Persist a model's quarantine state."""
        with self.store.connect() as conn:
            done = conn.execute(
                update(model_state)
                .where(model_state.c.name == name)
                .values(quarantined=quarantined, reason=reason, changed_at=when)
            )
            if done.rowcount == 0:
                conn.execute(
                    insert(model_state).values(
                        name=name, quarantined=quarantined, reason=reason, changed_at=when
                    )
                )

    def quarantined(self) -> dict[str, str]:
        """Quarantined models and why."""
        with self.store.connect() as conn:
            rows = conn.execute(
                select(model_state).where(model_state.c.quarantined.is_(True))
            ).all()
        return {str(r.name): str(r.reason) for r in rows}
