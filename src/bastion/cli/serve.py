"""``bastion serve``: run the zero-trust inference gateway with uvicorn."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from bastion.cli.common import handle_errors
from bastion.errors import MissingDependencyError


@handle_errors
def serve_command(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="Policy file with a [gateway] table.")
    ],
    redis: Annotated[
        str | None,
        typer.Option("--redis", help="Share rate limits through Redis (redis://host:6379/0)."),
    ] = None,
    host: Annotated[str | None, typer.Option(help="Listen address (overrides the config).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (overrides the config).")] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="Worker processes (need --redis; one audit log each)."),
    ] = None,
) -> None:
    """Serve models behind authentication, RBAC, rate limits, validation and a tamper-evident
    audit log. Exits 2 when the configuration is invalid or the audit log is locked."""
    try:
        import uvicorn

        from bastion.gateway import logs
        from bastion.gateway.app import create_app
        from bastion.gateway.settings import load_settings
    except ImportError as exc:
        raise MissingDependencyError(exc.name or "starlette", "gateway", "bastion serve") from exc
    overrides: dict[str, Any] = {}
    if redis is not None:
        overrides["redis"] = redis
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    if workers is not None:
        overrides["workers"] = workers
    settings = load_settings(config, overrides=overrides)
    logs.configure(settings.log_level)
    # NOTE: the audit writer thread hands the GIL back to the event loop after at most this
    # long; the 5 ms default showed up directly in the p99 latency.
    sys.setswitchinterval(0.0005)
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "access_log": False,
        "lifespan": "on",
        "server_header": False,
        "timeout_keep_alive": int(settings.http.keep_alive_seconds),
        "h11_max_incomplete_event_size": max(65536, settings.http.max_header_bytes * 4),
    }
    if settings.workers == 1:
        uvicorn.run(create_app(settings), **options)
        return
    from bastion.gateway.worker import CONFIG_ENV, OVERRIDES_ENV

    os.environ[CONFIG_ENV] = str(config.absolute())
    os.environ[OVERRIDES_ENV] = json.dumps(overrides)
    # NOTE: a worker verifies and scans every model before it answers the supervisor's
    # health check; uvicorn's 5 s default killed workers that were still starting.
    uvicorn.run(
        "bastion.gateway.worker:create_from_env",
        factory=True,
        workers=settings.workers,
        timeout_worker_healthcheck=120,
        **options,
    )
