"""SIEM transports: append-only file, stdout, syslog (RFC 5424 over UDP, or TCP with RFC 6587
octet counting) and an HTTPS webhook (NDJSON batches). ``send`` raises :class:`SinkError` on
failure; the exporter retries with backoff."""

from __future__ import annotations

import os
import socket
import sys
from abc import ABC, abstractmethod
from datetime import datetime, timezone
from pathlib import Path

import httpx

from bastion.gateway.settings import SinkSettings


class SinkError(Exception):
    """A batch could not be delivered."""


class Sink(ABC):
    """Delivers a batch of formatted lines."""

    @abstractmethod
    def send(self, lines: list[str], severities: list[int]) -> None:
        """Deliver all lines or raise :class:`SinkError`."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources."""


class FileSink(Sink):
    """Appends lines and fsyncs each batch."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def send(self, lines: list[str], severities: list[int]) -> None:
        """Append the batch."""
        try:
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write("".join(line + "\n" for line in lines))
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise SinkError(f"{self.path}: {exc}") from exc


class StdoutSink(Sink):
    """Writes lines to standard output."""

    def send(self, lines: list[str], severities: list[int]) -> None:
        """Print the batch."""
        sys.stdout.write("".join(line + "\n" for line in lines))
        sys.stdout.flush()


#: Record severity (0 info … 4 critical) → syslog severity.
_SYSLOG_SEVERITY = {0: 6, 1: 5, 2: 4, 3: 3, 4: 2}


def syslog_frame(line: str, severity: int, facility: int, hostname: str, procid: int) -> bytes:
    """One RFC 5424 message: ``<PRI>1 TIMESTAMP HOST APP PROCID MSGID - MSG``."""
    pri = facility * 8 + _SYSLOG_SEVERITY.get(severity, 6)
    stamp = datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")
    host = "".join(c for c in hostname if 33 <= ord(c) <= 126)[:255] or "-"
    header = f"<{pri}>1 {stamp} {host} bastion {procid} audit -"
    return (header + " ").encode("ascii") + b"\xef\xbb\xbf" + line.encode("utf-8")


class SyslogSink(Sink):
    """RFC 5424 syslog over UDP (one datagram per record) or TCP (octet counting)."""

    def __init__(self, settings: SinkSettings) -> None:
        self.settings = settings
        self._tcp: socket.socket | None = None
        self._host = socket.gethostname()

    def send(self, lines: list[str], severities: list[int]) -> None:
        """Send every record."""
        s = self.settings
        frames = [
            syslog_frame(line, sev, s.facility, self._host, os.getpid())
            for line, sev in zip(lines, severities, strict=True)
        ]
        try:
            if s.protocol == "udp":
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                    for frame in frames:
                        sock.sendto(frame[:65000], (s.host, s.port))
                return
            if self._tcp is None:
                self._tcp = socket.create_connection((s.host, s.port), timeout=5)
            self._tcp.sendall(b"".join(str(len(f)).encode() + b" " + f for f in frames))
        except OSError as exc:
            self.close()
            raise SinkError(f"syslog {s.host}:{s.port}/{s.protocol}: {exc}") from exc

    def close(self) -> None:
        """Close the TCP connection."""
        if self._tcp is not None:
            self._tcp.close()
            self._tcp = None


class WebhookSink(Sink):
    """POSTs each batch as newline-delimited records."""

    def __init__(self, settings: SinkSettings, base: Path) -> None:
        verify: str | bool = True
        if settings.ca_file is not None:
            ca = settings.ca_file if settings.ca_file.is_absolute() else base / settings.ca_file
            verify = str(ca)
        self._url = str(settings.url)
        self._headers = {"content-type": "application/x-ndjson", **settings.headers}
        self._client = httpx.Client(timeout=10.0, verify=verify, trust_env=False)

    def send(self, lines: list[str], severities: list[int]) -> None:
        """One POST per batch; any non-2xx answer is a failure."""
        body = "".join(line + "\n" for line in lines).encode("utf-8")
        try:
            response = self._client.post(self._url, content=body, headers=self._headers)
        except httpx.HTTPError as exc:
            raise SinkError(f"webhook: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 300:
            raise SinkError(f"webhook answered {response.status_code}")

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()


def make_sink(settings: SinkSettings, base: Path) -> Sink:
    """The transport a sink's settings describe."""
    if settings.type == "file":
        path = settings.path or Path("siem.log")
        return FileSink(path if path.is_absolute() else base / path)
    if settings.type == "stdout":
        return StdoutSink()
    if settings.type == "syslog":
        return SyslogSink(settings)
    return WebhookSink(settings, base)
