"""The audit writer: one thread, one connection, group commit, nothing returns before fsync.

Requests hand their record to :meth:`AuditWriter.append` and await a receipt. The writer thread
takes every record waiting, chains them (``seq``, ``prev_hash``, ``hash``), inserts them in one
transaction and commits (SQLite ``synchronous=FULL``: the commit is on disk when it returns), then
resolves all their receipts at once. Under load one fsync covers many requests, and still no
response leaves before its record is durable. If the commit fails, every waiting request gets the
error and the gateway answers 503 instead of its response (fail closed).

One writer per log: a lock file next to the SQLite database, or a PostgreSQL advisory lock on the
writer's connection, keeps a second process from forking the chain.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, insert, text
from sqlalchemy.exc import SQLAlchemyError

from bastion.gateway.audit.chain import canonical, genesis, link
from bastion.gateway.audit.checkpoint import CheckpointSigner
from bastion.gateway.errors import AuditError, AuditLockedError
from bastion.gateway.store import GatewayStore, audit_log


@dataclass(frozen=True)
class Receipt:
    """Where a record landed in the chain."""

    seq: int
    hash: str


def utc_now() -> str:
    """RFC 3339 UTC timestamp with microseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


_Pending = tuple[dict[str, Any], Callable[[Receipt | BaseException], None]]


class AuditWriter:
    """Appends records to one hash-chained log with group commit."""

    def __init__(
        self,
        store: GatewayStore,
        log_id: str,
        *,
        signer: CheckpointSigner | None = None,
        checkpoint_every: int = 1000,
        checkpoint_seconds: float = 60.0,
        max_batch: int = 512,
        on_commit: Callable[[int], None] | None = None,
    ) -> None:
        self._store = store
        self.log_id = log_id
        self._signer = signer
        self._checkpoint_every = checkpoint_every
        self._checkpoint_seconds = checkpoint_seconds
        self._max_batch = max_batch
        self._on_commit = on_commit
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._conn: Connection | None = None
        self._lock_file: IO[bytes] | None = None
        self._seq = 0
        self._head = genesis(log_id)
        self._since_checkpoint = 0
        self._last_checkpoint = time.monotonic()
        self.healthy = True
        self.last_error: str | None = None
        self.commits = 0
        self.records = 0

    # -- life cycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Take the writer lock, read the head of the log and start the thread."""
        self._acquire_lock()
        head = self._store.audit_head(self.log_id)
        if head is not None:
            self._seq, self._head = head
        self._thread = threading.Thread(target=self._run, name=f"audit-{self.log_id}", daemon=True)
        self._thread.start()

    def stop(self, *, checkpoint: bool = True) -> None:
        """Write a final checkpoint, drain the queue and release the lock."""
        if self._thread is None:
            return
        if checkpoint and self._signer is not None and self._since_checkpoint:
            self._queue.put(({"kind": "checkpoint-request"}, lambda _r: None))
        self._queue.put(None)
        self._thread.join(timeout=30)
        self._thread = None
        self._release_lock()

    def _acquire_lock(self) -> None:
        store = self._store.store
        if store.dialect == "sqlite":
            database = store.engine.url.database
            if database and database != ":memory:":
                digest = hashlib.sha256(self.log_id.encode()).hexdigest()[:16]
                path = Path(f"{database}.audit-{digest}.lock")
                handle = path.open("ab")
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    handle.close()
                    raise AuditLockedError(
                        f"{database}: audit log {self.log_id!r} is already written by another "
                        "process (give each gateway its own 'instance')"
                    ) from None
                self._lock_file = handle
            self._conn = store.engine.connect()
            return
        self._conn = store.engine.connect()
        key = int.from_bytes(hashlib.sha256(self.log_id.encode()).digest()[:8], "big", signed=True)
        got = self._conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
        self._conn.commit()
        if not got:
            self._conn.close()
            self._conn = None
            raise AuditLockedError(
                f"audit log {self.log_id!r} is already written by another process "
                "(give each gateway its own 'instance')"
            )

    def _release_lock(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._lock_file is not None:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None

    # -- appending --------------------------------------------------------------------------
    async def append(self, record: dict[str, Any]) -> Receipt:
        """Queue a record and wait until it is committed; raises :class:`AuditError`."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Receipt] = loop.create_future()

        def done(result: Receipt | BaseException) -> None:
            loop.call_soon_threadsafe(_settle, future, result)

        self._queue.put((record, done))
        return await future

    def append_sync(self, record: dict[str, Any], timeout: float = 30.0) -> Receipt:
        """Blocking variant for threads and the CLI."""
        future: Future[Receipt] = Future()

        def done(result: Receipt | BaseException) -> None:
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)

        self._queue.put((record, done))
        return future.result(timeout)

    # -- the thread -------------------------------------------------------------------------
    def _run(self) -> None:
        stopping = False
        while not stopping:
            try:
                first = self._queue.get(timeout=self._checkpoint_seconds)
            except queue.Empty:
                first = ({"kind": "checkpoint-request"}, lambda _r: None)
            batch: list[_Pending] = []
            if first is None:
                stopping = True
            else:
                batch.append(first)
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            if batch:
                try:
                    self._commit(batch)
                except Exception as exc:  # NOTE: the thread must survive any bad record
                    failure = AuditError(f"audit log {self.log_id!r}: cannot write: {exc}")
                    self.last_error = str(exc)
                    for _record, done in batch:
                        done(failure)

    def _commit(self, batch: list[_Pending]) -> None:
        seq, head = self._seq, self._head
        rows: list[dict[str, Any]] = []
        receipts: list[Receipt | None] = []
        since = self._since_checkpoint
        want_checkpoint = False
        for record, _done in batch:
            if record.get("kind") == "checkpoint-request":
                want_checkpoint = True
                receipts.append(None)
                continue
            seq, head = self._chain(record, seq, head, rows)
            receipts.append(Receipt(seq, head))
            since += 1
        due = since >= self._checkpoint_every or (
            since and time.monotonic() - self._last_checkpoint >= self._checkpoint_seconds
        )
        if self._signer is not None and since and (due or want_checkpoint):
            signed = self._signer.sign(self.log_id, seq, head)
            cp = {
                "kind": "checkpoint",
                "action": "audit.checkpoint",
                "time": utc_now(),
                "checkpoint": signed,
            }
            seq, head = self._chain(cp, seq, head, rows)
            since = 0
        error: BaseException | None = None
        if rows:
            try:
                if self._conn is None:
                    raise AuditError("the audit writer is not started")
                with self._conn.begin():
                    self._conn.execute(insert(audit_log), rows)
            except (SQLAlchemyError, AuditError) as exc:
                error = AuditError(f"audit log {self.log_id!r}: commit failed: {exc}")
                self.healthy = False
                self.last_error = str(exc)
        if error is None:
            self._seq, self._head = seq, head
            if since == 0 and rows and rows[-1]["kind"] == "checkpoint":
                self._last_checkpoint = time.monotonic()
            self._since_checkpoint = since
            self.healthy = True
            self.commits += 1
            self.records += len(rows)
        for (_record, done), receipt in zip(batch, receipts, strict=True):
            if receipt is None:
                continue
            done(error if error is not None else receipt)
        if error is None and rows and self._on_commit is not None:
            self._on_commit(seq)

    def _chain(
        self, record: dict[str, Any], seq: int, head: str, rows: list[dict[str, Any]]
    ) -> tuple[int, str]:
        seq += 1
        body_data = {**record, "log_id": self.log_id, "seq": seq, "prev_hash": head}
        body_data.setdefault("time", utc_now())
        body = canonical(body_data)
        new = link(head, body)
        rows.append(
            {
                "log_id": self.log_id,
                "seq": seq,
                "time": body_data["time"],
                "kind": str(body_data.get("kind", "request")),
                "action": str(body_data.get("action", ""))[:64],
                "request_id": body_data.get("request_id"),
                "prev_hash": head,
                "hash": new,
                "body": body,
            }
        )
        return seq, new


def _settle(future: asyncio.Future[Receipt], result: Receipt | BaseException) -> None:
    if future.done():
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)
