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

from sqlalchemy import Connection, text

from bastion.gateway.audit.chain import canonical, genesis, link
from bastion.gateway.audit.checkpoint import CheckpointSigner
from bastion.gateway.errors import AuditError, AuditLockedError
from bastion.gateway.store import GatewayStore


@dataclass(frozen=True)
class Receipt:
    """Where a record landed in the chain."""

    seq: int
    hash: str


def utc_now() -> str:
    """RFC 3339 UTC timestamp with microseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


_Done = Callable[[Receipt | BaseException], None]
_Item = tuple[dict[str, Any], int, _Done]
_CHECKPOINT: Any = ("checkpoint",)
_COLUMNS = ("log_id", "seq", "time", "kind", "action", "request_id", "prev_hash", "hash", "body")


def _ignore(_result: Receipt | BaseException) -> None:
    """Completion callback of records nobody waits for (checkpoints)."""


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
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._generation = 0
        self._insert = ""
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
        self._durable = (self._seq, self._head)
        store = self._store.store
        table = f'"{store.schema}".gateway_audit' if store.schema else "gateway_audit"
        mark = "?" if store.dialect == "sqlite" else "%s"
        self._insert = (
            f"INSERT INTO {table} ({', '.join(_COLUMNS)}) "
            f"VALUES ({', '.join([mark] * len(_COLUMNS))})"
        )
        self._thread = threading.Thread(target=self._run, name=f"audit-{self.log_id}", daemon=True)
        self._thread.start()

    def stop(self, *, checkpoint: bool = True) -> None:
        """Write a final checkpoint, drain the queue and release the lock."""
        if self._thread is None:
            return
        if checkpoint and self._signer is not None and self._since_checkpoint:
            self._queue.put(_CHECKPOINT)
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
    def _enqueue(self, record: dict[str, Any], done: _Done) -> None:
        # NOTE: chaining happens here, in the caller's thread, under a short lock, and the row
        # is queued inside the same lock so queue order is chain order. The writer thread then
        # only inserts and commits, holding the GIL as little as possible.
        with self._lock:
            row = self._chain(record)
            self._queue.put((row, self._generation, done))

    async def append(self, record: dict[str, Any]) -> Receipt:
        """Queue a record and wait until it is committed; raises :class:`AuditError`."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Receipt] = loop.create_future()

        def done(result: Receipt | BaseException) -> None:
            loop.call_soon_threadsafe(_settle, future, result)

        self._enqueue(record, done)
        return await future

    def append_sync(self, record: dict[str, Any], timeout: float = 30.0) -> Receipt:
        """Blocking variant for threads and the CLI."""
        future: Future[Receipt] = Future()

        def done(result: Receipt | BaseException) -> None:
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)

        self._enqueue(record, done)
        return future.result(timeout)

    def _chain(self, record: dict[str, Any]) -> dict[str, Any]:
        self._seq += 1
        body_data = {**record, "log_id": self.log_id, "seq": self._seq, "prev_hash": self._head}
        body_data.setdefault("time", utc_now())
        body = canonical(body_data)
        new = link(self._head, body)
        row = {
            "log_id": self.log_id,
            "seq": self._seq,
            "time": body_data["time"],
            "kind": str(body_data.get("kind", "request")),
            "action": str(body_data.get("action", ""))[:64],
            "request_id": body_data.get("request_id"),
            "prev_hash": self._head,
            "hash": new,
            "body": body,
        }
        self._head = new
        self._since_checkpoint += 1
        return row

    def _checkpoint_due(self, forced: bool) -> None:
        if self._signer is None or not self._since_checkpoint:
            return
        elapsed = time.monotonic() - self._last_checkpoint
        if not (
            forced
            or self._since_checkpoint >= self._checkpoint_every
            or elapsed >= self._checkpoint_seconds
        ):
            return
        with self._lock:
            signed = self._signer.sign(self.log_id, self._seq, self._head)
            row = self._chain(
                {
                    "kind": "checkpoint",
                    "action": "audit.checkpoint",
                    "time": utc_now(),
                    "checkpoint": signed,
                }
            )
            self._since_checkpoint = 0
            self._last_checkpoint = time.monotonic()
            self._queue.put((row, self._generation, _ignore))

    # -- the thread -------------------------------------------------------------------------
    def _run(self) -> None:
        stopping = False
        while not stopping:
            try:
                first = self._queue.get(timeout=self._checkpoint_seconds)
            except queue.Empty:
                self._checkpoint_due(forced=False)
                continue
            batch: list[_Item] = []
            if first is None:
                stopping = True
            elif first == _CHECKPOINT:
                self._checkpoint_due(forced=True)
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
                if item == _CHECKPOINT:
                    self._checkpoint_due(forced=True)
                    continue
                batch.append(item)
            if batch:
                self._commit(batch)
                self._checkpoint_due(forced=False)
        # drain what a final checkpoint may have queued
        leftover: list[_Item] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None and item != _CHECKPOINT:
                leftover.append(item)
        if leftover:
            self._commit(leftover)

    def _commit(self, batch: list[_Item]) -> None:
        live = [item for item in batch if item[1] == self._generation]
        stale = [item for item in batch if item[1] != self._generation]
        for _row, _gen, done in stale:
            done(AuditError(f"audit log {self.log_id!r}: an earlier commit failed"))
        if not live:
            return
        rows = [row for row, _gen, _done in live]
        try:
            if self._conn is None:
                raise AuditError("the audit writer is not started")
            with self._conn.begin():
                self._conn.exec_driver_sql(
                    self._insert, [tuple(row[c] for c in _COLUMNS) for row in rows]
                )
        except Exception as exc:
            self.healthy = False
            self.last_error = str(exc)
            with self._lock:
                self._generation += 1
                self._seq, self._head = self._durable
            failure = AuditError(f"audit log {self.log_id!r}: commit failed: {exc}")
            for _row, _gen, done in live:
                done(failure)
            return
        self._durable = (rows[-1]["seq"], rows[-1]["hash"])
        self.healthy = True
        self.commits += 1
        self.records += len(rows)
        for row, _gen, done in live:
            done(Receipt(row["seq"], row["hash"]))
        if self._on_commit is not None:
            self._on_commit(rows[-1]["seq"])


def _settle(future: asyncio.Future[Receipt], result: Receipt | BaseException) -> None:
    if future.done():
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)
