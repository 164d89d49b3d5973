"""Code-scanning speed: bastion (code rules + secrets, through the engine) against Bandit.

Both tools get the same files: every ``*.py`` under the virtualenv's ``site-packages`` (tens of
thousands of real files), listed once here. bastion scans them through ``bastion.scan.engine``
with ``only=`` that list (its Python analyzer *and* the secrets analyzer run on each file);
Bandit runs with its default plugin set on the same list. Each tool runs in its own process,
timed from outside (wall clock, interpreter start-up included, as a CI job sees it), with the
peak resident memory of the process tree (``ru_maxrss`` of the children).

Memory must stay flat as the tree grows: bastion is also run on the first quarter and half of
the list, and the peak RSS of each run is printed next to the full one.

Usage::

    .venv/bin/python bench/code_speed.py [--limit N] [--workers N] [--no-bandit] [--no-growth]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_BASTION_CHILD = r"""
import json, sys, time
from bastion.scan.engine import ScanOptions, scan
root, listing, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
only = open(listing).read().split("\n")
started = time.perf_counter()
result = scan(root, ScanOptions(workers=workers or None, default_excludes=False), only=only)
ours = [f for f in result.findings if f.rule_id.startswith(("BST-CODE", "BST-SEC"))]
print(json.dumps({
    "seconds": time.perf_counter() - started,
    "artifacts": len({a.path for a in result.artifacts}),
    "findings": len(ours),
    "skipped": len(result.skipped),
}))
"""


@dataclass(frozen=True)
class Run:
    """One tool run: what it saw and what it cost."""

    tool: str
    files: int
    wall: float
    cpu: float
    peak_rss_mib: float
    findings: int
    note: str = ""


def python_files(root: Path, limit: int | None) -> list[str]:
    """Every ``*.py`` under ``root`` (no ``__pycache__``), sorted, relative, POSIX separators."""
    found = []
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                path = Path(directory, name)
                if path.is_file() and not path.is_symlink():
                    found.append(path.relative_to(root).as_posix())
    found.sort()
    return found[:limit] if limit else found


def _timed(command: list[str]) -> tuple[subprocess.CompletedProcess[str], float, float, float]:
    """Run a command; wall seconds, CPU seconds and peak RSS (MiB) of its process tree.

    ``os.wait4`` gives that child's own resource usage, which includes its reaped (worker)
    processes: CPU time summed over them, ``ru_maxrss`` the largest resident size of any. CPU
    time is the fairer comparison on a shared machine, where wall time depends on the load.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        done = subprocess.CompletedProcess(command, process.returncode, out.read(), err.read())
    cpu = usage.ru_utime + usage.ru_stime
    return done, wall, cpu, usage.ru_maxrss / 1024


def run_bastion(root: Path, listing: Path, files: int, workers: int) -> Run:
    """bastion in a child interpreter over the listed files."""
    done, wall, cpu, rss = _timed(
        [sys.executable, "-c", _BASTION_CHILD, str(root), str(listing), str(workers)]
    )
    if done.returncode != 0:
        raise SystemExit(f"bastion run failed:\n{done.stderr[-4000:]}")
    data = json.loads(done.stdout.strip().splitlines()[-1])
    label = f"bastion (workers={workers or 'auto'})"
    note = f"{data['skipped']} skipped"
    return Run(label, data["artifacts"], wall, cpu, rss, data["findings"], note)


def run_bandit(root: Path, relative: list[str], work: Path) -> Run:
    """Bandit over the same files (given as arguments in one process)."""
    listing = work / "bandit-files.txt"
    listing.write_text("\n".join(str(root / r) for r in relative))
    report = work / "bandit.json"
    script = (
        "import sys\nfrom bandit.cli.main import main\n"
        "files = open(sys.argv[1]).read().split('\\n')\n"
        "sys.argv = ['bandit', '-q', '-f', 'json', '-o', sys.argv[2], *files]\n"
        "main()\n"
    )
    done, wall, cpu, rss = _timed([sys.executable, "-c", script, str(listing), str(report)])
    if not report.exists():
        raise SystemExit(f"bandit run failed:\n{done.stderr[-4000:]}")
    data = json.loads(report.read_text())
    files = len([k for k in data.get("metrics", {}) if k != "_totals"])
    errors = len(data.get("errors", []))
    return Run("bandit", files, wall, cpu, rss, len(data.get("results", [])), f"{errors} errors")


def _table(runs: list[Run]) -> str:
    header = ["tool", "files", "wall s", "files/s", "CPU s", "files/CPU s", "peak RSS MiB"]
    header += ["findings", "note"]
    rows = [
        [
            r.tool,
            str(r.files),
            f"{r.wall:.1f}",
            f"{r.files / r.wall:.0f}",
            f"{r.cpu:.1f}",
            f"{r.files / r.cpu:.0f}",
            f"{r.peak_rss_mib:.0f}",
            str(r.findings),
            r.note,
        ]
        for r in runs
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    head = "  ".join(c.ljust(w) for c, w in zip(header, widths, strict=True))
    return "\n".join([head, "  ".join("-" * w for w in widths), *lines])


def main() -> None:
    """Parse arguments, run the tools, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path(sysconfig.get_paths()["purelib"]))
    parser.add_argument("--limit", type=int, default=None, help="only the first N files")
    parser.add_argument("--workers", type=int, default=0, help="bastion workers (0: automatic)")
    parser.add_argument("--no-bandit", action="store_true")
    parser.add_argument("--no-growth", action="store_true", help="skip the memory-growth runs")
    args = parser.parse_args()
    root = args.root.resolve()
    relative = python_files(root, args.limit)
    total = sum((root / r).stat().st_size for r in relative)
    print(f"{len(relative)} Python files, {total / 2**20:.0f} MiB, under {root}")
    print(f"CPU cores: {os.cpu_count()}; Python {sys.version.split()[0]}\n")
    with tempfile.TemporaryDirectory(prefix="bastion-code-bench-") as tmp:
        work = Path(tmp)
        growth: list[tuple[int, Run]] = []
        if not args.no_growth:
            for fraction in (4, 2):
                part = relative[: len(relative) // fraction]
                listing = work / f"part{fraction}.txt"
                listing.write_text("\n".join(part))
                growth.append((len(part), run_bastion(root, listing, len(part), args.workers)))
        listing = work / "all.txt"
        listing.write_text("\n".join(relative))
        runs = [run_bastion(root, listing, len(relative), args.workers)]
        growth.append((len(relative), runs[0]))
        if args.workers != 1:
            runs.append(run_bastion(root, listing, len(relative), 1))
        if not args.no_bandit:
            runs.append(run_bandit(root, relative, work))
    print(_table(runs))
    bandit = next((r for r in runs if r.tool == "bandit"), None)
    if bandit is not None:
        for run in runs:
            if run.tool != "bandit":
                wall = (run.files / run.wall) / (bandit.files / bandit.wall)
                cpu = (run.files / run.cpu) / (bandit.files / bandit.cpu)
                print(f"{run.tool}: {wall:.1f}x Bandit's files/s, {cpu:.1f}x per CPU second")
    if len(growth) > 1:
        print("\nbastion peak RSS as the tree grows (flat = streaming):")
        for files, run in growth:
            print(f"  {files:>6} files: {run.peak_rss_mib:.0f} MiB, {run.wall:.1f} s wall")


if __name__ == "__main__":
    main()
