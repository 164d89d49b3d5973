"""Signing speed: bastion against ``model_signing`` and a bare two-thread hashlib loop.

Generates a model folder of several shards (default 8 GiB in 4 shards; real pseudo-random bytes,
not sparse, written once and reused), then on the same files, interleaved and repeated (best of
``--repeat`` is kept, the machine is shared):

* **bare loop**: two threads, ``hashlib.sha256`` over 8 MiB reads, one file per task: the
  practical bound on this machine (OpenSSL SHA-256; coreutils ``sha256sum`` is slower here);
* **bastion sign** (in process: hash every file in parallel threads + sign, key mode);
* **model_signing sign key**: its own CLI, as users run it (a subprocess, so its interpreter
  start-up counts, as bastion's would from the command line; ``--no-cli`` uses its Python API);
* **bastion verify --manifest-cache**, second run on the unchanged folder (stat only), reported
  per 10 GiB.

    .venv/bin/python bench/sign_speed.py [--size-gib 8] [--shards 4] [--repeat 3] [--dir PATH]

Prints seconds, GB/s (decimal) and each tool's throughput as a fraction of the bare loop, both
in wall-clock time and in CPU time (user + system, all threads, children included): on a shared
machine wall time also measures the neighbours, CPU time measures the work each tool does, and
with two free cores a tool's wall time approaches its CPU time / 2.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from bastion.integrity.cache import ManifestCache  # noqa: E402
from bastion.integrity.hashing import HashOptions  # noqa: E402
from bastion.integrity.keys import generate_key_pair  # noqa: E402
from bastion.integrity.signing import KeySigner, SignOptions, sign_model  # noqa: E402
from bastion.integrity.verify import Trust, verify_model  # noqa: E402

GIB = 1024**3
BLOCK = 64 * 1024 * 1024
READ = 8 * 1024 * 1024


def generate(folder: Path, size: int, shards: int) -> list[Path]:
    """Write ``shards`` files totalling ``size`` bytes of pseudo-random data (reused if present)."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = folder / ".generated"
    files = [folder / f"model-{i + 1:05d}-of-{shards:05d}.safetensors" for i in range(shards)]
    if stamp.is_file() and stamp.read_text() == f"{size} {shards}":
        return files
    for old in folder.iterdir():
        if old.is_file():
            old.unlink()
    base = os.urandom(BLOCK)
    per_file = size // shards
    counter = 0
    for index, path in enumerate(files):
        want = per_file if index < shards - 1 else size - per_file * (shards - 1)
        with path.open("wb") as handle:
            while want > 0:
                # every block differs (a counter mixed into each 4 KiB page): no dedup, no sparse
                block = bytearray(base)
                tag = counter.to_bytes(8, "little")
                for offset in range(0, len(block), 4096):
                    block[offset : offset + 8] = tag
                counter += 1
                chunk = memoryview(block)[: min(want, len(block))]
                handle.write(chunk)
                want -= len(chunk)
        print(f"  wrote {path.name} ({path.stat().st_size / GIB:.2f} GiB)", flush=True)
    stamp.write_text(f"{size} {shards}")
    return files


def _cpu() -> float:
    """CPU seconds used so far by this process (all threads) and its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def bare_loop(files: list[Path]) -> float:
    """Two threads, one file per task, hashlib SHA-256 over 8 MiB reads."""

    def digest(path: Path) -> str:
        hasher = hashlib.sha256()
        with path.open("rb", buffering=0) as handle:
            while chunk := handle.read(READ):
                hasher.update(chunk)
        return hasher.hexdigest()

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(digest, files))
    return time.perf_counter() - started


def bastion_sign(folder: Path, key: Path, out: Path) -> float:
    started = time.perf_counter()
    sign_model(folder, KeySigner(key), out, SignOptions())
    return time.perf_counter() - started


def model_signing_sign(folder: Path, key: Path, out: Path, use_cli: bool) -> float:
    started = time.perf_counter()
    if use_cli:
        cli = Path(sys.executable).with_name("model_signing")
        command = [str(cli), "sign", "key", str(folder), "--private_key", str(key),
                   "--signature", str(out)]  # fmt: skip
        subprocess.run(command, check=True, capture_output=True)
    else:
        import model_signing

        hashing = model_signing.hashing.Config().set_ignored_paths(paths=[out.name])
        model_signing.signing.Config().use_elliptic_key_signer(private_key=key).set_hashing_config(
            hashing
        ).sign(folder, out)
    return time.perf_counter() - started


def cached_verify(folder: Path, signature: Path, public: Path, cache_dir: Path) -> float:
    """Populate the cache (untimed), then time a second verification of the unchanged folder."""
    trust = Trust(keys=(public,))
    first = verify_model(
        folder,
        signature,
        trust,
        options=HashOptions(cache=ManifestCache.for_model(folder, cache_dir)),
    )
    assert first.verified, first.problems
    started = time.perf_counter()
    cache = ManifestCache.for_model(folder, cache_dir)
    result = verify_model(folder, signature, trust, options=HashOptions(cache=cache))
    elapsed = time.perf_counter() - started
    assert result.verified and result.local is not None and result.local.bytes_read == 0
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-gib", type=float, default=8.0)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "bastion-bench")
    parser.add_argument("--no-cli", action="store_true", help="model_signing via its API")
    parser.add_argument("--clean", action="store_true", help="delete the generated folder after")
    args = parser.parse_args()

    size = int(args.size_gib * GIB)
    folder = args.dir / f"model-{args.size_gib:g}g-{args.shards}"
    print(f"model folder {folder}: {args.size_gib:g} GiB in {args.shards} shards", flush=True)
    files = generate(folder, size, args.shards)
    work = Path(tempfile.mkdtemp(prefix="bastion-bench-"))
    key = generate_key_pair(work / "bench.pem")
    ours, theirs = work / "bastion.sig", work / "model_signing.sig"

    print("warming the page cache (one untimed bare pass)", flush=True)
    bare_loop(files)
    runners = {
        "bare": lambda: bare_loop(files),
        "bastion": lambda: bastion_sign(folder, key.private, ours),
        "model_signing": lambda: model_signing_sign(folder, key.private, theirs, not args.no_cli),
    }
    times: dict[str, list[float]] = {name: [] for name in runners}
    cpu: dict[str, list[float]] = {name: [] for name in runners}
    order = list(runners)
    for round_ in range(args.repeat):
        for name in order:  # the order rotates each round: no tool always runs after another
            before = _cpu()
            times[name].append(runners[name]())
            cpu[name].append(_cpu() - before)
        order = order[1:] + order[:1]
        print(
            f"  round {round_ + 1}: "
            + ", ".join(f"{n} {times[n][-1]:.2f} s ({cpu[n][-1]:.2f} s CPU)" for n in runners),
            flush=True,
        )
    cached = min(cached_verify(folder, ours, key.public, work / "cache") for _ in range(3))

    best = {name: min(values) for name, values in times.items()}
    best_cpu = {name: min(values) for name, values in cpu.items()}
    gb = size / 1e9
    label = "model_signing sign key (CLI)" if not args.no_cli else "model_signing (API)"
    print(f"\n{'tool':34} {'wall s':>8} {'GB/s':>6} {'vs bare':>8} {'CPU s':>8} {'vs bare':>8}")
    for name, title in (("bare", "bare 2-thread hashlib loop"), ("bastion", "bastion sign"),
                        ("model_signing", label)):  # fmt: skip
        seconds = best[name]
        print(
            f"{title:34} {seconds:8.2f} {gb / seconds:6.2f} {best['bare'] / seconds:8.0%} "
            f"{best_cpu[name]:8.2f} {best_cpu['bare'] / best_cpu[name]:8.0%}"
        )
    per_10 = cached / (size / (10 * GIB))
    print(f"{'bastion verify, cached (unchanged)':34} {cached:8.3f}   ({per_10:.3f} s per 10 GiB)")
    print(
        f"\nbastion / bare loop: {best['bare'] / best['bastion']:.0%} of the bound in wall time, "
        f"{best_cpu['bare'] / best_cpu['bastion']:.0%} in CPU time (target ≥ 90%); "
        f"model_signing takes {best['model_signing'] / best['bastion']:.2f}× bastion's wall time"
    )
    shutil.rmtree(work, ignore_errors=True)
    if args.clean:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
