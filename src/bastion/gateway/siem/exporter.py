"""The SIEM exporter: reads committed audit records, formats and ships them, never blocking a
request and never losing a record.

The audit store is the source of truth: each sink keeps a persisted cursor (the last exported
``seq``) and a bounded on-disk spool holding the batch in flight. A batch is formatted into the
spool, sent, and only then does the cursor advance (at-least-once delivery; ``event.id`` lets the
SIEM drop duplicates). While the SIEM is unreachable the exporter retries with exponential
backoff and records simply wait in the store; nothing grows in memory, and requests never wait
for the SIEM. Each sink runs in its own thread with its own database connection.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

from bastion.gateway.settings import SinkSettings
from bastion.gateway.siem.formats import render, severity_of
from bastion.gateway.siem.sinks import Sink, SinkError
from bastion.gateway.store import GatewayStore

log = logging.getLogger("bastion.gateway")


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class SinkExporter:
    """Ships one log to one sink."""

    def __init__(
        self, store: GatewayStore, log_id: str, settings: SinkSettings, sink: Sink, spool_dir: Path
    ) -> None:
        self._store = store
        self._log_id = log_id
        self.settings = settings
        self._sink = sink
        spool_dir.mkdir(parents=True, exist_ok=True)
        stem = f"{log_id}.{settings.name}"
        self._cursor_path = spool_dir / f"{stem}.cursor"
        self._spool_path = spool_dir / f"{stem}.pending"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sent = 0
        self.failures = 0
        self.last_error: str | None = None

    @property
    def cursor(self) -> int:
        """The last exported ``seq``."""
        try:
            return int(self._cursor_path.read_text(encoding="ascii").strip() or 0)
        except (OSError, ValueError):
            return 0

    def start(self) -> None:
        """Start the exporter thread."""
        self._thread = threading.Thread(
            target=self._run, daemon=True, name=f"siem-{self.settings.name}"
        )
        self._thread.start()

    def notify(self) -> None:
        """New records were committed."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Flush what can be flushed and stop."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._sink.close()

    def _run(self) -> None:
        delay = 0.25
        while True:
            try:
                progressed = self.step()
                delay = 0.25
            except SinkError as exc:
                self.failures += 1
                self.last_error = str(exc)
                log.warning(
                    "SIEM delivery failed; will retry",
                    extra={"sink": self.settings.name, "error": str(exc)},
                )
                if self._stop.wait(delay):
                    return
                delay = min(delay * 2, self.settings.max_backoff_seconds)
                continue
            except Exception as exc:
                self.last_error = str(exc)
                log.error(
                    "SIEM exporter error", extra={"sink": self.settings.name, "error": str(exc)}
                )
                if self._stop.wait(1.0):
                    return
                continue
            if self._stop.is_set() and not progressed:
                return
            if not progressed:
                self._wake.wait(self.settings.flush_seconds)
                self._wake.clear()

    def step(self) -> bool:
        """Deliver one batch (the spooled one first); ``False`` when there was nothing."""
        if self._spool_path.exists():
            spooled = json.loads(self._spool_path.read_text(encoding="utf-8"))
            self._sink.send(spooled["lines"], spooled["severities"])
            _atomic_write(self._cursor_path, str(spooled["last_seq"]))
            self._spool_path.unlink()
            self.sent += len(spooled["lines"])
            return True
        rows = self._store.audit_rows(
            self._log_id, after=self.cursor, limit=self.settings.batch_size
        )
        if not rows:
            return False
        lines: list[str] = []
        severities: list[int] = []
        size = 0
        last = rows[0].seq - 1
        for row in rows:
            data = row.data()
            line = render(self.settings.format, data, row.hash)
            if lines and size + len(line) > self.settings.spool_max_bytes:
                break
            lines.append(line)
            severities.append(severity_of(data))
            size += len(line)
            last = row.seq
        _atomic_write(
            self._spool_path,
            json.dumps({"last_seq": last, "lines": lines, "severities": severities}),
        )
        return True
