"""Run ``bastion serve`` as a real uvicorn subprocess on a free loopback port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from types import TracebackType

from tests.gateway.helpers import free_port, wait_http


class GatewayProcess:
    """``with GatewayProcess(config) as gw: httpx.get(gw.url + '/healthz')``."""

    def __init__(self, config: Path, *extra: str, port: int | None = None) -> None:
        self.config = config
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra = extra
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = config.parent / f"gateway-{self.port}.log"

    def start(self) -> GatewayProcess:
        """Start and wait until /healthz answers."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bastion.cli.app",
                    "serve",
                    "--config",
                    str(self.config),
                    "--port",
                    str(self.port),
                    *self.extra,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        try:
            wait_http(self.url + "/healthz", timeout=60)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"gateway did not start:\n{self.log.read_text()[-3000:]}") from None
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM and wait."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> GatewayProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
