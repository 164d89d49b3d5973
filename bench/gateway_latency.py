"""Gateway overhead: the same small ONNX model served directly and through ``bastion serve``.

Both servers are uvicorn subprocesses on loopback (one worker each, same settings); the gateway
runs with API-key auth, rate limits, RBAC, schema validation, anomaly scoring, output hardening
and the hash-chained SQLite audit (WAL, synchronous=FULL, group commit: no response before its
record is on disk). A keep-alive load generator written on asyncio streams (cheap, so it steals
little CPU from the server) drives each for a bounded time and reports throughput, p50 and p99.

    .venv/bin/python bench/gateway_latency.py [--seconds 8] [--connections 16] [--profile]

``--profile`` also runs 2000 requests through the gateway's ASGI stack in process under cProfile
and prints where the time goes. ``--ablate`` runs the same stack in process (no HTTP), 16
requests at a time, with one component switched off at a time (the audit append, the rate
limits, probing, anomaly scoring, then all four) and prints the CPU per request of each, median
of three fresh gateways. The script also measures an API-key check with SHA-256 against
argon2id, the reason keys are hashed with SHA-256.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import hashlib
import io
import json
import os
import pstats
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BODY = json.dumps(
    {
        "inputs": [
            {"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 4.9, 5.3, 5.0]}
        ]
    }
).encode()

DIRECT_APP = textwrap.dedent("""
    import json, sys
    import numpy as np
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(sys.argv[1], sess_options=options,
                                   providers=["CPUExecutionProvider"])

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        tensor = json.loads(body)["inputs"][0]
        x = np.asarray(tensor["data"], dtype=np.float32).reshape(tensor["shape"])
        out = session.run(None, {"input": x})[0]
        data = json.dumps({"model_name": "iris", "outputs": out.tolist()}).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(data)).encode())]})
        await send({"type": "http.response.body", "body": data})

    if __name__ == "__main__":
        import uvicorn
        uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning",
                    access_log=False, server_header=False)
""")


#: ``bastion serve`` with SQLite commits that do not wait for the disk (variant runs only).
NOSYNC_SERVE = textwrap.dedent("""
    import sys
    import bastion.store.engine as engine
    original = engine._sqlite_pragmas
    def pragmas(connection, record):
        original(connection, record)
        cursor = connection.cursor()
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.close()
    engine._sqlite_pragmas = pragmas
    sys.argv = ["bastion", "serve", "--config", sys.argv[1], "--port", sys.argv[2]]
    from bastion.cli.app import main
    main()
""")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"port {port} never opened")


async def _connection(
    port: int,
    path: str,
    headers: bytes,
    stop: float,
    warm: float,
    latencies: list[float],
    errors: list[int],
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = (
        (
            f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(BODY)}\r\n"
        ).encode()
        + headers
        + b"\r\n"
        + BODY
    )
    try:
        while True:
            start = time.perf_counter()
            if start >= stop:
                return
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            end = time.perf_counter()
            if start >= warm:
                if status == 200:
                    latencies.append(end - start)
                else:
                    errors.append(status)
    finally:
        writer.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load(port: int, path: str, headers: bytes, seconds: float, connections: int, pid: int) -> dict:
    latencies: list[float] = []
    errors: list[int] = []

    async def run() -> None:
        now = time.perf_counter()
        warm, stop = now + 1.0, now + 1.0 + seconds
        await asyncio.gather(
            *(
                _connection(port, path, headers, stop, warm, latencies, errors)
                for _ in range(connections)
            )
        )

    cpu_before = cpu_seconds(pid)
    asyncio.run(run())
    cpu = cpu_seconds(pid) - cpu_before
    latencies.sort()
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    total = len(latencies) + len(errors)
    return {
        "rps": len(latencies) / seconds,
        "p50": q[49] * 1000,
        "p99": q[98] * 1000,
        "ok": len(latencies),
        "errors": len(errors),
        "cpu_us": cpu / max(total, 1) * 1e6 * seconds / (seconds + 1.0),
    }


def build(folder: Path) -> tuple[Path, str, Path, dict[str, Path]]:
    from tests.gateway.helpers import build_onnx, model_entry, sign, write_config

    model = build_onnx(folder / "iris.onnx")
    pub = sign(model, folder / "keys")
    config = write_config(
        folder / "gateway.toml",
        {"instance": "bench", "store": f"sqlite:///{folder / 'audit.db'}", "executor": "inline"},
        [model_entry(model, pub)],
        tables={
            "limits": {
                "per_identity": ["1000000/minute"],
                "per_address": ["1000000/minute"],
                "daily_query_budget": 100_000_000,
            }
        },
    )
    from bastion.gateway.apikeys import new_key
    from bastion.gateway.store import GatewayStore
    from bastion.store import open_store

    store = GatewayStore(open_store(f"sqlite:///{folder / 'audit.db'}"))
    store.create()
    created = new_key("bench", ("predictor",))
    store.add_key(created.record)
    store.store.dispose()
    variants = {
        "lean": write_config(
            folder / "nofsync.toml",
            {
                "instance": "bench2",
                "store": f"sqlite:///{folder / 'audit.db'}",
                "executor": "inline",
            },
            [model_entry(model, pub)],
            tables={
                "limits": {
                    "per_identity": ["1000000/minute"],
                    "per_address": ["1000000/minute"],
                    "daily_query_budget": 100_000_000,
                },
                "anomaly": {"enabled": False},
            },
        ),
    }
    return model, created.token, config, variants


def serve(cmd: list[str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    wait(port)
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


def commit_latency(folder: Path) -> None:
    """The floor under any durable audit: one SQLite WAL commit with synchronous=FULL."""
    import sqlite3

    conn = sqlite3.connect(folder / "commit.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (body TEXT)")
    times = []
    for _ in range(200):
        start = time.perf_counter()
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t VALUES (?)", ("x" * 600,))
        conn.execute("COMMIT")
        times.append(time.perf_counter() - start)
    conn.close()
    times.sort()
    print(
        f"one durable SQLite commit on this disk: p50 {times[100] * 1000:.2f} ms, "
        f"p99 {times[197] * 1000:.2f} ms (the floor of 'no response before its record is on disk')"
    )


def key_hashing() -> None:
    from argon2 import PasswordHasher

    secret = "x" * 43
    stored = hashlib.sha256(secret.encode()).hexdigest()
    start = time.perf_counter()
    for _ in range(10000):
        hashlib.sha256(secret.encode()).hexdigest() == stored  # noqa: B015
    sha = (time.perf_counter() - start) / 10000 * 1e6
    hasher = PasswordHasher()
    digest = hasher.hash(secret)
    start = time.perf_counter()
    for _ in range(5):
        hasher.verify(digest, secret)
    argon = (time.perf_counter() - start) / 5 * 1e6
    print(
        f"API key check: SHA-256 {sha:.2f} µs, argon2id (defaults) {argon / 1000:.1f} ms "
        f"per request ({argon / sha:,.0f}x)"
    )


def profile(config: Path, token: str) -> None:
    import httpx

    from bastion.gateway.app import create_app
    from bastion.gateway.settings import load_settings

    async def run() -> None:
        app = create_app(load_settings(config))
        await app.gateway.start()
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
        headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(2000):
                await client.post("/v2/models/iris/infer", content=BODY, headers=headers)
            profiler.disable()
        await app.gateway.stop()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(18)
        print(out.getvalue())

    asyncio.run(run())


ABLATIONS: tuple[tuple[str, ...], ...] = (
    (),
    ("audit",),
    ("limits",),
    ("probing",),
    ("anomaly",),
    ("audit", "limits", "probing", "anomaly"),
)


async def _ablated_cpu(config: Path, lean: Path, token: str, off: tuple[str, ...]) -> float:
    """CPU µs per request of the in-process ASGI stack with the ``off`` components disabled."""
    from bastion.gateway.app import create_app
    from bastion.gateway.audit.writer import Receipt
    from bastion.gateway.settings import load_settings

    app = create_app(load_settings(lean if "anomaly" in off else config))
    gw = app.gateway
    await gw.start()

    async def receipt(_record: dict) -> Receipt:
        return Receipt(1, "0" * 64)

    async def unlimited(*_args: object) -> None:
        return None

    if "audit" in off:
        gw.writer.append = receipt  # type: ignore[method-assign]
    if "limits" in off:
        gw.limiter.check_address = unlimited  # type: ignore[method-assign]
        gw.limiter.check_identity = unlimited  # type: ignore[method-assign]
    if "probing" in off:
        gw.probes.observe = lambda *_args: 0  # type: ignore[method-assign]
    headers = [
        (b"host", b"gw"),
        (b"content-type", b"application/json"),
        (b"authorization", f"Bearer {token}".encode()),
        (b"content-length", str(len(BODY)).encode()),
    ]

    async def one() -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/v2/models/iris/infer",
            "raw_path": b"/v2/models/iris/infer",
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 5555),
            "server": ("127.0.0.1", 8000),
        }
        messages = [{"type": "http.request", "body": BODY, "more_body": False}]
        statuses: list[int] = []

        async def receive() -> dict:
            if messages:
                return messages.pop()
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        await app(scope, receive, send)
        if statuses != [200]:
            raise RuntimeError(f"ablation {off}: status {statuses}")

    async def client(count: int) -> None:
        for _ in range(count):
            await one()

    await asyncio.gather(*(client(30) for _ in range(16)))
    requests = 16 * 250
    start = time.process_time()
    await asyncio.gather(*(client(requests // 16) for _ in range(16)))
    cpu = (time.process_time() - start) / requests * 1e6
    await gw.stop()
    return cpu


def ablate(config: Path, lean: Path, token: str) -> None:
    """Print the CPU per request with each component off (median of three fresh gateways)."""
    print("in process, no HTTP, 16 concurrent requests: CPU µs per request (median of 3)")
    for off in ABLATIONS:
        runs = sorted(asyncio.run(_ablated_cpu(config, lean, token, off)) for _ in range(3))
        label = "everything on" if not off else "off: " + ", ".join(off)
        print(f"  {label:<40}{runs[1]:>8.0f}   (runs: {', '.join(f'{r:.0f}' for r in runs)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--ablate", action="store_true", help="CPU per request, components off")
    parser.add_argument(
        "--variants",
        action="store_true",
        help="also run the gateway without fsync and without anomaly scoring, "
        "to show what each costs",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=ROOT / "bench") as tmp:
        folder = Path(tmp)
        model, token, config, variants = build(folder)
        if args.ablate:
            ablate(config, variants["lean"], token)
            return
        direct_py = folder / "direct_app.py"
        direct_py.write_text(DIRECT_APP)
        env_python = sys.executable
        results = {}
        port = free_port()
        proc = serve(
            [env_python, str(direct_py), str(model), str(port)], port, folder / "direct.log"
        )
        try:
            results["direct"] = load(port, "/infer", b"", args.seconds, args.connections, proc.pid)
            results["direct@1"] = load(port, "/infer", b"", args.seconds / 2, 1, proc.pid)
        finally:
            stop(proc)
        port = free_port()
        proc = serve(
            [
                env_python,
                "-m",
                "bastion.cli.app",
                "serve",
                "--config",
                str(config),
                "--port",
                str(port),
            ],
            port,
            folder / "gateway.log",
        )
        try:
            time.sleep(1.0)
            auth = f"Authorization: Bearer {token}\r\n".encode()
            results["gateway"] = load(
                port, "/v2/models/iris/infer", auth, args.seconds, args.connections, proc.pid
            )
            results["gateway@1"] = load(
                port, "/v2/models/iris/infer", auth, args.seconds / 2, 1, proc.pid
            )
        finally:
            stop(proc)
        if args.variants:
            for name, path in variants.items():
                port = free_port()
                with (folder / f"{name}.log").open("wb") as out:
                    proc = subprocess.Popen(
                        [env_python, "-c", NOSYNC_SERVE, str(path), str(port)],
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                wait(port)
                try:
                    time.sleep(1.0)
                    auth = f"Authorization: Bearer {token}\r\n".encode()
                    results[name] = load(
                        port,
                        "/v2/models/iris/infer",
                        auth,
                        args.seconds,
                        args.connections,
                        proc.pid,
                    )
                finally:
                    stop(proc)
        print(
            f"{'server':<10}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}"
            f"{'CPU µs/req':>12}"
        )
        for name, r in results.items():
            print(
                f"{name:<10}{r['rps']:>10.0f}{r['p50']:>10.2f}{r['p99']:>10.2f}"
                f"{r['errors']:>8}{r['cpu_us']:>12.0f}"
            )
        print("name@1 = the same server with one connection (latency without queueing)")
        if "lean" in results:
            print(
                "lean = the gateway with SQLite commits not waiting for the disk and anomaly "
                "scoring off (what the durable audit and the detectors cost)"
            )
        d, g = results["direct"], results["gateway"]
        print(f"throughput ratio gateway/direct: {g['rps'] / d['rps']:.1%} (target >= 70%)")
        print(
            f"added p50: {g['p50'] - d['p50']:.2f} ms, added p99: {g['p99'] - d['p99']:.2f} ms"
            f" at {args.connections} connections (target < 2 ms)"
        )
        d1, g1 = results["direct@1"], results["gateway@1"]
        print(
            f"one connection (no queueing): added p50 {g1['p50'] - d1['p50']:.2f} ms, "
            f"added p99 {g1['p99'] - d1['p99']:.2f} ms"
        )
        print(
            f"server CPU per request, gateway/direct: {g['cpu_us'] / d['cpu_us']:.2f}x "
            "(the load generator shares the cores; CPU/request does not depend on it)"
        )
        print(
            f"cores: {os.cpu_count()}, connections: {args.connections}, "
            f"{args.seconds:.0f} s per server, load average {os.getloadavg()[0]:.1f}"
        )
        commit_latency(folder)
        key_hashing()
        if args.profile:
            profile(config, token)


if __name__ == "__main__":
    main()
