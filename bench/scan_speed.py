"""Scan speed of bastion and its peers, and bastion's cost on multi-GiB checkpoints.

Part 1 scans the labelled corpus (``tests/corpus``, ~230 files of every format) with bastion
and each peer, each in its own virtualenv and process, ``--repeat`` times, and prints the
median wall time, files per second and the ratio to the fastest peer. Wall time includes each
tool's interpreter start-up, as a CI job would see it.

Part 2 writes sparse PyTorch checkpoints of 1 GiB and 4 GiB of tensors (``big_checkpoint.py``:
nothing is allocated, the storages are holes) and times ``bastion.scan.engine.scan`` on each
in this process, with the bytes it read (``rchar`` from ``/proc/self/io``): the cost follows the
pickle, not the tensors. Peers are timed on the 1 GiB file for context.

Usage::

    .venv/bin/python bench/scan_speed.py [--repeat 3] [--peers picklescan,modelscan] [--no-big]
"""

from __future__ import annotations

import argparse
import compileall
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import big_checkpoint  # noqa: E402
from model_peers import Run, all_files, run_bastion, select  # noqa: E402
from tests.corpus import build_corpus  # noqa: E402

_REPEAT_UNDER_S = 60.0


def _median_run(runner: Callable[[], Run], repeat: int) -> tuple[Run, float, float]:
    """Run ``repeat`` times; the last run, the median wall and the median CPU seconds."""
    runs = [runner()]
    # A tool that takes minutes per pass is timed once: repeating it only costs the machine.
    while len(runs) < repeat and runs[0].wall < _REPEAT_UNDER_S:
        runs.append(runner())
    return runs[-1], statistics.median(r.wall for r in runs), statistics.median(r.cpu for r in runs)


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def fmt(row: list[str]) -> str:
        cells = zip(row, widths, strict=True)
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(cells))

    return "\n".join([fmt(header), "  ".join("-" * w for w in widths), *(fmt(r) for r in rows)])


def _rchar() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    return 0


@dataclass(frozen=True)
class _Timing:
    """One tool's medians on the corpus and on an empty directory (its start-up)."""

    label: str
    wall: float
    cpu: float
    start_wall: float
    start_cpu: float

    def per_file_ms(self, files: int) -> float:
        """CPU milliseconds per file once started (corpus minus empty directory)."""
        return max(0.0, self.cpu - self.start_cpu) * 1000 / files


def _analysis_only(root: Path) -> tuple[float, float]:
    """bastion's analysis of every file in this process: wall and CPU seconds, no start-up."""
    from bastion.registry import default_registry
    from bastion.scan.discover import Candidate, Excluder, walk
    from bastion.scan.engine import analyze_file
    from bastion.scan.interface import ScanSettings

    registry = default_registry()
    candidates = [e for e in walk(root, Excluder(())) if isinstance(e, Candidate)]
    for candidate in candidates:  # warm-up: lazy imports inside analyzers
        analyze_file(candidate, ScanSettings(), registry)
    wall, cpu = time.perf_counter(), time.process_time()
    for candidate in candidates:
        analyze_file(candidate, ScanSettings(), registry)
    return time.perf_counter() - wall, time.process_time() - cpu


def corpus_speed(args: argparse.Namespace, work: Path) -> None:
    """Part 1: every tool over the same corpus directory, and over an empty one."""
    root, empty = work / "corpus", work / "empty"
    build_corpus(root, marker_dir=work / "markers")
    empty.mkdir(exist_ok=True)
    files = len(all_files(root))
    out = work / "out"
    out.mkdir(exist_ok=True)
    timings: list[_Timing] = []
    # NOTE: an editable install under PYTHONDONTWRITEBYTECODE recompiles bastion's sources on
    # every start; a wheel install (like each peer's venv) has them compiled by pip. Compile once
    # so every tool starts from bytecode.
    compileall.compile_dir(REPO / "src" / "bastion", quiet=1)

    def measure(runner: Callable[[Path], Run]) -> None:
        run, wall, cpu = _median_run(lambda: runner(root), args.repeat)
        _, start_wall, start_cpu = _median_run(lambda: runner(empty), args.repeat)
        timings.append(_Timing(f"{run.tool} {run.version}", wall, cpu, start_wall, start_cpu))

    for workers in (None, 1):
        measure(lambda r, w=workers: run_bastion(r, out, workers=w))
    for peer in select(args.peers.split(",") if args.peers else None):
        peer.ensure()
        measure(lambda r, p=peer: p.run(r, out))
    peers = [t for t in timings if not t.label.startswith("bastion")]
    fast_wall = min((t.wall for t in peers), default=None)
    fast_cpu = min((t.cpu for t in peers), default=None)
    fast_file = min((t.per_file_ms(files) for t in peers), default=None)
    rows = []
    for t in timings:
        per_file = t.per_file_ms(files)
        rows.append(
            [
                t.label,
                f"{t.wall:.2f}",
                f"{files / t.wall:.1f}",
                f"{t.wall / fast_wall:.2f}x" if fast_wall else "-",
                f"{t.cpu:.2f}",
                f"{t.cpu / fast_cpu:.2f}x" if fast_cpu else "-",
                f"{t.start_cpu:.2f}",
                f"{per_file:.2f}",
                f"{per_file / fast_file:.2f}x" if fast_file else "-",
            ]
        )
    wall, cpu = _analysis_only(root)
    per_file = cpu * 1000 / files
    versus = f"{per_file / fast_file:.2f}x" if fast_file else "-"
    label = "bastion analysis only, in process"
    rows.append([label, f"{wall:.2f}", f"{files / wall:.1f}", "", f"{cpu:.2f}", ""])
    rows[-1] += ["0.00", f"{per_file:.2f}", versus]
    print(f"corpus: {files} files; median of {args.repeat} run(s) per tool (one if over a minute)")
    print(
        "start-up = the same command on an empty directory; per file = (cpu - start-up) / files\n"
    )
    header = ["tool", "wall s", "files/s", "wall vs fastest peer", "cpu s", "cpu vs fastest peer"]
    header += ["start-up cpu s", "cpu ms/file", "ms/file vs fastest peer"]
    print(_table(header, rows))


def big_speed(args: argparse.Namespace, work: Path) -> None:
    """Part 2: bastion on sparse 1 GiB and 4 GiB checkpoints, peers on the 1 GiB one."""
    from bastion.core import Severity
    from bastion.scan.engine import scan

    rows = []
    big_dir = work / "big"
    for gib in (1, 4):
        target = big_dir / f"{gib}gib" / f"llama_{gib}gib.pt"
        target.parent.mkdir(parents=True, exist_ok=True)
        # Same 16 tensors either way: only their size changes.
        total = gib * 1024**3
        tensor_bytes = big_checkpoint.write(target, total, tensor_bytes=total // 16)
        scan(target)  # warm-up: imports and registry
        times, reads = [], []
        for _ in range(args.repeat):
            before, start = _rchar(), time.perf_counter()
            result = scan(target)
            times.append(time.perf_counter() - start)
            reads.append(_rchar() - before)
        blocking = [f for f in result.findings if f.severity >= Severity.HIGH]
        rows.append(
            [
                target.name,
                f"{tensor_bytes / 1024**3:.0f} GiB",
                f"{statistics.median(times) * 1000:.1f}",
                f"{statistics.median(reads) / 1024:.0f} KiB",
                str(len(result.findings)),
                str(len(blocking)),
                str(len(result.skipped)),
            ]
        )
    print("\nbastion on sparse checkpoints (in-process scan(), median):\n")
    header = ["file", "tensors", "scan ms", "bytes read", "findings", "blocking", "skipped"]
    print(_table(header, rows))

    one = big_dir / "1gib"
    out = work / "out-big"
    out.mkdir(exist_ok=True)
    rows = []
    for runner in [
        lambda: run_bastion(one, out),
        *(
            lambda p=p: p.run(one, out)
            for p in select(args.peers.split(",") if args.peers else None)
        ),
    ]:
        run = runner()
        verdict = next(iter(run.verdicts.values()), None)
        state = (
            "error"
            if verdict and verdict.error
            else ("flagged" if verdict and verdict.flagged else "clean")
        )
        rows.append([f"{run.tool} {run.version}", f"{run.wall:.2f}", f"{run.cpu:.2f}", state])
    print("\nevery tool on the 1 GiB checkpoint (one process each, wall time incl. start-up):\n")
    print(_table(["tool", "wall s", "cpu s", "verdict"], rows))


def main(argv: list[str] | None = None) -> int:
    """Run both parts and print their tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool (median is shown)")
    parser.add_argument("--peers", help="comma-separated peers (default: all)")
    parser.add_argument("--no-big", action="store_true", help="skip the multi-GiB checkpoints")
    parser.add_argument("--no-corpus", action="store_true", help="skip the corpus comparison")
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it")
    args = parser.parse_args(argv)
    work = args.keep or Path(tempfile.mkdtemp(prefix="bastion-speed-"))
    work.mkdir(parents=True, exist_ok=True)
    if not args.no_corpus:
        corpus_speed(args, work)
    if not args.no_big:
        big_speed(args, work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
