"""Scan throughput at scale: a generated model zoo scanned with 1 and 2 local workers and on Ray.

The zoo has thousands of model files in the formats ML teams store: pickles (a few of them
malicious, with an inert payload), PyTorch zip checkpoints, safetensors, GGUF, ONNX with external
weights, NumPy arrays and Keras archives. Tensor data is *declared*, not written: checkpoints,
safetensors, GGUF, ONNX weight files and arrays are sparse files whose tensor regions are holes,
so hundreds of GB of declared weights take a few MB of disk. A scanner that reads only headers and
pickles (as bastion does) pays for metadata; one that read the weights would read zeros at disk
speed.

Each configuration runs in its own process (same zoo, warm page cache): the time is the scan
alone (``bastion.scan.engine.scan``: walk, detection, analysis, collection), Ray's start-up is
timed apart, and the driver's peak RSS is reported (workers not included). The runs must agree
on every finding. With one worker the engine analyzes in process but runs each HDF5-backed file
(the Keras archives) in a child process, so a native-library crash costs one file; with two, the
pool's workers are that isolation already. Ray workers are fresh processes that import bastion
once each, a fixed cost a long scan amortizes.

Usage::

    .venv/bin/python bench/scan_scale.py [--files 2000] [--declared-gib 300] [--zoo DIR]
                                         [--repeat 3] [--no-ray]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import big_checkpoint  # noqa: E402
from tests.formats.pickle import asm  # noqa: E402

MiB = 1 << 20
GiB = 1 << 30
#: Share of the files, and of the declared bytes, per format.
FILE_SHARE = {"pickle": 0.30, "torch": 0.20, "safetensors": 0.20, "gguf": 0.10, "onnx": 0.10,
              "npy": 0.05, "keras": 0.05}  # fmt: skip
BYTE_SHARE = {"torch": 0.45, "safetensors": 0.25, "gguf": 0.15, "onnx": 0.10, "npy": 0.05}
MARKER = ".payload-ran"
MODES = ("local-1", "local-2", "ray-2")


# --- the zoo -----------------------------------------------------------------------------------


def _sparse(path: Path, head: bytes, total: int) -> None:
    with path.open("wb") as handle:
        handle.write(head)
        handle.truncate(max(total, len(head)))


def _safetensors(path: Path, size: int) -> None:
    rows = max(1, size // (4 * 4096 * 4))
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for i in range(4):
        end = offset + rows * 4096 * 4
        header[f"layers.{i}.weight"] = {"dtype": "F32", "shape": [rows, 4096],
                                        "data_offsets": [offset, end]}  # fmt: skip
        offset = end
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    head = struct.pack("<Q", len(raw)) + raw
    _sparse(path, head, len(head) + offset)


def _gguf_string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


def _gguf(path: Path, size: int) -> None:
    align = 32
    count = 4
    cols = 4096
    rows = max(1, size // (count * cols * 4))
    kvs = (
        _gguf_string("general.architecture") + struct.pack("<I", 8) + _gguf_string("llama")
        + _gguf_string("general.alignment") + struct.pack("<II", 4, align)
    )  # fmt: skip
    infos = b""
    offset = 0
    for i in range(count):
        infos += _gguf_string(f"blk.{i}.ffn_up.weight") + struct.pack(
            "<IQQIQ", 2, cols, rows, 0, offset
        )
        offset += rows * cols * 4
        offset += -offset % align
    head = b"GGUF" + struct.pack("<IQQ", 3, count, 2) + kvs + infos
    head += b"\x00" * (-len(head) % align)
    _sparse(path, head, len(head) + offset)


def _onnx(path: Path, size: int) -> None:
    from onnx import TensorProto, helper

    cols = 1024
    rows = max(1, size // (cols * 4))
    weight = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[rows, cols])
    weight.data_location = TensorProto.EXTERNAL
    for key, value in (("location", path.name + ".data"), ("offset", "0"),
                       ("length", str(rows * cols * 4))):  # fmt: skip
        entry = weight.external_data.add()
        entry.key, entry.value = key, value
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["Y"])],
        "zoo",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, rows])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, cols])],
        initializer=[weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path.write_bytes(model.SerializeToString())
    _sparse(path.with_name(path.name + ".data"), b"", rows * cols * 4)


def _npy(path: Path, size: int) -> None:
    count = max(1, size // 4)
    header = f"{{'descr': '<f4', 'fortran_order': False, 'shape': ({count},), }}"
    raw = header.encode() + b" " * (-(10 + len(header) + 1) % 64) + b"\n"
    head = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(raw)) + raw
    _sparse(path, head, len(head) + count * 4)


def _keras_archive() -> bytes:
    """A small Sequential model saved the way Keras 3 writes ``.keras`` files."""
    import h5py

    config = {"module": "keras", "class_name": "Sequential", "config": {"name": "zoo", "layers": [
        {"module": "keras.layers", "class_name": "InputLayer",
         "config": {"batch_shape": [None, 8], "dtype": "float32", "name": "input"}},
        {"module": "keras.layers", "class_name": "Dense",
         "config": {"name": "dense", "units": 4, "activation": "relu", "dtype": "float32"}},
    ]}}  # fmt: skip
    weights = io.BytesIO()
    with h5py.File(weights, "w") as h5:
        group = h5.create_group("layers/dense/vars")
        group.create_dataset("0", data=[[0.0] * 4] * 8)
        group.create_dataset("1", data=[0.0] * 4)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.6.0"}))
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("model.weights.h5", weights.getvalue())
    return buffer.getvalue()


def _pickle(path: Path, index: int, zoo: Path) -> bool:
    """A training-state pickle; one in fifty calls os.system (an inert ``touch``)."""
    if index % 50 == 0:
        path.write_bytes(asm.call("os", "system", f"touch {zoo / MARKER}"))
        return True
    state = {"epoch": index, "lr": 1e-3, "layers": [[0.25] * 16 for _ in range(8)]}
    path.write_bytes(pickle.dumps(state, protocol=4))
    return False


def build_zoo(root: Path, files: int, declared: int) -> int:
    """Write the zoo; returns the number of malicious pickles in it."""
    counts = {fmt: max(1, round(files * share)) for fmt, share in FILE_SHARE.items()}
    counts["onnx"] = max(1, counts["onnx"] // 2)  # each ONNX model is two files
    per_file = {fmt: int(declared * BYTE_SHARE[fmt] / counts[fmt]) for fmt in BYTE_SHARE}
    keras = _keras_archive()
    malicious = 0
    for fmt, count in counts.items():
        folder = root / fmt
        for i in range(count):
            sub = folder / f"team{i % 16:02d}"
            sub.mkdir(parents=True, exist_ok=True)
            if fmt == "pickle":
                malicious += _pickle(sub / f"state-{i:05d}.pkl", i, root)
            elif fmt == "torch":
                big_checkpoint.write(
                    sub / f"ckpt-{i:05d}.pt", per_file["torch"], tensor_bytes=64 * MiB
                )
            elif fmt == "safetensors":
                _safetensors(sub / f"model-{i:05d}.safetensors", per_file["safetensors"])
            elif fmt == "gguf":
                _gguf(sub / f"model-{i:05d}.gguf", per_file["gguf"])
            elif fmt == "onnx":
                _onnx(sub / f"model-{i:05d}.onnx", per_file["onnx"])
            elif fmt == "npy":
                _npy(sub / f"embeddings-{i:05d}.npy", per_file["npy"])
            else:
                (sub / f"classifier-{i:05d}.keras").write_bytes(keras)
    return malicious


# --- one measured scan (in a child process) -------------------------------------------------


def _child(mode: str, zoo: Path, skip_keras: bool) -> dict[str, object]:
    from bastion.scan.engine import ScanOptions, scan
    from bastion.scan.executors import RayExecutor

    exclude = ("keras/",) if skip_keras else ()
    options = ScanOptions(workers=1 if mode == "local-1" else 2, exclude=exclude)
    ray_start = 0.0
    if mode.startswith("ray"):
        import ray

        os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
        started = time.perf_counter()
        ray.init(
            num_cpus=int(mode.split("-")[1]),
            include_dashboard=False,
            log_to_driver=False,
            logging_level="ERROR",
            object_store_memory=128 * MiB,
        )
        ray_start = time.perf_counter() - started
        options = ScanOptions(executor=RayExecutor(), exclude=exclude)
    began = time.perf_counter()
    cpu = time.process_time()
    result = scan(zoo, options)
    wall = time.perf_counter() - began
    fingerprints = sorted(f.fingerprint for f in result.findings)
    outcome = {
        "mode": mode,
        "wall": wall,
        "driver_cpu": time.process_time() - cpu,
        "ray_start": ray_start,
        "files": len({a.path for a in result.artifacts}),
        "declared": sum(a.size for a in result.artifacts if a.member is None),
        "artifacts": len(result.artifacts),
        "findings": Counter(f.rule_id for f in result.findings),
        "skipped": len(result.skipped),
        "digest": hashlib.sha256("\n".join(fingerprints).encode()).hexdigest()[:16],
        "rss_mib": _peak_rss_mib(),
    }
    if mode.startswith("ray"):
        import ray

        ray.shutdown()
    return outcome


def _peak_rss_mib() -> float:
    """This process's peak resident set (``VmHWM``; unlike ``ru_maxrss`` it is not inherited
    from the parent across fork and exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _measure(mode: str, zoo: Path, skip_keras: bool, repeat: int) -> dict[str, Any]:
    """The run with the median scan time of ``repeat`` fresh processes."""
    runs = [_measure_once(mode, zoo, skip_keras) for _ in range(max(1, repeat))]
    return sorted(runs, key=lambda r: float(r["wall"]))[len(runs) // 2]


def _measure_once(mode: str, zoo: Path, skip_keras: bool) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", mode, "--zoo", str(zoo)]
    command += ["--skip-keras"] if skip_keras else []
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def fmt(row: list[str]) -> str:
        cells = zip(row, widths, strict=True)
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(cells))

    return "\n".join([fmt(header), "  ".join("-" * w for w in widths), *(fmt(r) for r in rows)])


def _describe(zoo: Path) -> dict[str, object]:
    paths = [p for p in zoo.rglob("*") if p.is_file()]
    return {
        "files": len(paths),
        "per_format": dict(Counter(p.parent.parent.name for p in paths)),
        "declared": sum(p.stat().st_size for p in paths),
        "allocated": sum(p.stat().st_blocks * 512 for p in paths),
    }


def _row(run: dict[str, Any], base: float) -> list[str]:
    wall = float(run["wall"])
    return [
        str(run["mode"]),
        f"{int(run['files'])}",
        f"{wall:.1f}",
        f"{int(run['files']) / wall:.0f}",
        f"{int(run['declared']) / GiB / wall:.1f}",
        f"{base / wall:.2f}x",
        f"{float(run['ray_start']):.1f}" if run["ray_start"] else "-",
        f"{float(run['rss_mib']):.0f}",
        str(run["digest"]),
    ]


def main() -> None:
    """Build the zoo, run every configuration, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=2000, help="model files (about)")
    parser.add_argument("--declared-gib", type=float, default=300.0, help="declared tensor GiB")
    parser.add_argument("--zoo", type=Path, help="build the zoo here (reused if not empty)")
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray run")
    parser.add_argument("--repeat", type=int, default=1, help="runs per cell (median shown)")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--skip-keras", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.zoo, args.skip_keras)))
        return
    zoo = args.zoo or Path(tempfile.mkdtemp(prefix="bastion-zoo-"))
    try:
        began = time.perf_counter()
        reuse = zoo.is_dir() and any(zoo.iterdir())
        if not reuse:
            zoo.mkdir(parents=True, exist_ok=True)
            build_zoo(zoo, args.files, int(args.declared_gib * GiB))
        stats = _describe(zoo)
        declared_gib = int(stats["declared"]) / GiB  # type: ignore[call-overload]
        built = "reused" if reuse else f"built in {time.perf_counter() - began:.1f} s"
        print(
            f"zoo {zoo}: {stats['files']} files {stats['per_format']}, "
            f"{declared_gib:.1f} GiB declared, "
            f"{int(stats['allocated']) / MiB:.1f} MiB allocated on disk ({built})"  # type: ignore[call-overload]
        )
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
        modes = [m for m in MODES if not (args.no_ray and m.startswith("ray"))]
        header = ["executor", "files", "scan s", "files/s", "GiB/s declared", "vs 1 worker",
                  "Ray start s", "driver RSS MiB", "findings digest"]  # fmt: skip
        for title, skip_keras in (("every format", False), ("without the Keras archives", True)):
            runs = [_measure(mode, zoo, skip_keras, args.repeat) for mode in modes]
            base = float(runs[0]["wall"])
            print(f"\n{title} (median of {max(1, args.repeat)}):")
            print(_table(header, [_row(run, base) for run in runs]))
            identical = len({r["digest"] for r in runs}) == 1
            print(f"findings {dict(runs[0]['findings'])}, skipped {runs[0]['skipped']}; "
                  f"identical across executors: {'yes' if identical else 'NO'}")  # fmt: skip
        if (zoo / MARKER).exists():
            raise SystemExit("an inert payload ran: the marker file exists")
    finally:
        if args.zoo is None:
            shutil.rmtree(zoo, ignore_errors=True)


if __name__ == "__main__":
    main()
