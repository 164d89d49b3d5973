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


#: Who waits for a record: an asyncio future, a thread's future, or nobody (checkpoints).
_Waiter = asyncio.Future["Receipt"] | Future["Receipt"] | None
_Item = tuple[dict[str, Any], int, _Waiter]
_COLUMNS = ("log_id", "seq", "time", "kind", "action", "request_id", "prev_hash", "hash", "body")


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
        self._pending: list[_Item] = []
        self._wake = threading.Event()
        self._stopping = False
        self._force_checkpoint = False
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
        self._force_checkpoint = checkpoint
        self._stopping = True
        self._wake.set()
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
    def _enqueue(self, record: dict[str, Any], waiter: _Waiter) -> None:
        # NOTE: chaining happens in the caller's thread under a short lock, and the row joins
        # the pending list under the same lock, so pending order is chain order. The writer is
        # woken only when the list goes from empty to non-empty: one wake-up per batch, not per
        # record, and the writer thread only inserts and commits.
        with self._lock:
            self._pending.append((self._chain(record), self._generation, waiter))
            first = len(self._pending) == 1
        if first:
            self._wake.set()

    async def append(self, record: dict[str, Any]) -> Receipt:
        """Queue a record and wait until it is committed; raises :class:`AuditError`."""
        future: asyncio.Future[Receipt] = asyncio.get_running_loop().create_future()
        self._enqueue(record, future)
        return await future

    def append_sync(self, record: dict[str, Any], timeout: float = 30.0) -> Receipt:
        """Blocking variant for threads and the CLI."""
        future: Future[Receipt] = Future()
        self._enqueue(record, future)
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
            self._pending.append((row, self._generation, None))
            self._wake.set()

    # -- the thread -------------------------------------------------------------------------
    def _take(self) -> list[_Item]:
        with self._lock:
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            if not self._pending:
                self._wake.clear()
        return batch

    def _run(self) -> None:
        while True:
            self._wake.wait(timeout=self._checkpoint_seconds)
            stopping = self._stopping
            batch = self._take()
            if batch:
                self._commit(batch)
            self._checkpoint_due(forced=stopping and self._force_checkpoint)
            if stopping:
                rest = self._take()
                while rest:
                    self._commit(rest)
                    rest = self._take()
                return

    def _commit(self, batch: list[_Item]) -> None:
        live = [item for item in batch if item[1] == self._generation]
        stale = [item for item in batch if item[1] != self._generation]
        if stale:
            _complete(
                [
                    (w, AuditError(f"audit log {self.log_id!r}: an earlier commit failed"))
                    for _r, _g, w in stale
                ]
            )
        if not live:
            return
        rows = [row for row, _gen, _waiter in live]
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
            _complete([(waiter, failure) for _row, _gen, waiter in live])
            return
        self._durable = (rows[-1]["seq"], rows[-1]["hash"])
        self.healthy = True
        self.commits += 1
        self.records += len(rows)
        _complete([(waiter, Receipt(row["seq"], row["hash"])) for row, _gen, waiter in live])
        if self._on_commit is not None:
            self._on_commit(rows[-1]["seq"])


def _complete(results: list[tuple[_Waiter, Receipt | BaseException]]) -> None:
    """Settle waiters: one cross-thread call per event loop, direct for thread futures."""
    by_loop: dict[
        asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Receipt], Receipt | BaseException]]
    ] = {}
    for waiter, result in results:
        if waiter is None:
            continue
        if isinstance(waiter, asyncio.Future):
            by_loop.setdefault(waiter.get_loop(), []).append((waiter, result))
        elif isinstance(result, BaseException):
            waiter.set_exception(result)
        else:
            waiter.set_result(result)
    for loop, items in by_loop.items():
        if not loop.is_closed():  # NOTE: a closed loop has nobody left waiting
            loop.call_soon_threadsafe(_settle_all, items)


def _settle_all(items: list[tuple[asyncio.Future[Receipt], Receipt | BaseException]]) -> None:
    for future, result in items:
        _settle(future, result)


def _settle(future: asyncio.Future[Receipt], result: Receipt | BaseException) -> None:
    if future.done():
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)
