"""The model-file scanners bastion is compared with: install, run, and read each one per file.

Every peer lives in its own virtualenv under ``bench/.venv-<tool>`` (created on first use from
PyPI, reused while its requirement list is unchanged). Each runner scans one directory and
returns a :class:`Run`: the wall time and one :class:`Verdict` per file, read from the tool's
own output. How each tool's verdict is read:

* **bastion** — ``bastion scan DIR --format json``; a file is flagged when it has a finding at or
  above ``high`` (the default ``fail_on``: exactly when ``bastion scan FILE`` exits 1). Errors
  are ``analyzer-error`` skips.
* **picklescan** — its ``scan_file_path`` on every file its directory mode would pick (same
  extension filter), exceptions isolated per file (``peer_drivers/picklescan_driver.py``).
  Two readings: *dangerous* (what makes the CLI exit 1) and *+suspicious* (non-allowlisted
  globals too, as ``--strict`` would).
* **fickling** — its repository-scan routing applied per file; flagged when the severity is
  above ``LIKELY_SAFE`` (``--check-safety`` exits 1); parse errors count as fickling reports them
  (graceful mode raises the severity to ``SUSPICIOUS``).
* **modelscan** — ``modelscan -p DIR -r json``; flagged on any issue (the CLI exits 1 on any),
  errors from its ``errors`` list.
* **modelaudit** — ``modelaudit scan DIR --format json --no-cache`` with telemetry off; flagged
  on a ``critical`` or ``warning`` issue or a failed check of that severity (its exit-1 rule).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import venv
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
DRIVERS = BENCH / "peer_drivers"


@dataclass(frozen=True)
class Verdict:
    """What one tool said about one file."""

    flagged: bool
    error: bool = False
    scanned: bool = True
    also: bool = False  # the tool's looser reading (picklescan's suspicious globals)
    detail: str = ""


@dataclass
class Run:
    """One tool over one directory."""

    tool: str
    version: str
    wall: float
    cpu: float
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class Peer:
    """A peer tool: its virtualenv requirements and how to run it."""

    name: str
    requirements: tuple[tuple[str, ...], ...]  # pip install groups, in order
    runner: Callable[[Peer, Path, Path], Run]

    @property
    def venv(self) -> Path:
        """``bench/.venv-<name>``."""
        return BENCH / f".venv-{self.name}"

    def bin(self, program: str) -> Path:
        """A program installed in the peer's virtualenv."""
        return self.venv / "bin" / program

    def ensure(self, log: Callable[[str], None] = print) -> None:
        """Create the virtualenv and install the requirements unless already done."""
        stamp = self.venv / ".bench-requirements"
        wanted = json.dumps(self.requirements)
        if stamp.exists() and stamp.read_text() == wanted:
            return
        log(f"installing {self.name} into {self.venv} (first run only) …")
        if self.venv.exists():
            shutil.rmtree(self.venv)
        venv.EnvBuilder(with_pip=True).create(self.venv)
        for group in self.requirements:
            done = subprocess.run(
                [str(self.bin("python")), "-m", "pip", "install", "--quiet", *group],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise RuntimeError(f"pip install {' '.join(group)} failed:\n{done.stderr[-3000:]}")
        stamp.write_text(wanted)

    def version(self) -> str:
        """The installed version of the tool's distribution."""
        done = subprocess.run(
            [str(self.bin("python")), "-m", "pip", "show", self.name],
            capture_output=True,
            text=True,
            check=False,
        )
        for line in done.stdout.splitlines():
            if line.startswith("Version:"):
                return line.split(":", 1)[1].strip()
        return "?"

    def run(self, root: Path, out: Path) -> Run:
        """Scan ``root``; tool output files go to ``out``."""
        return self.runner(self, root, out)


def _timed(
    cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Run ``cmd``; wall seconds, CPU seconds (user + system, all its processes), result."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done


def _jsonl(path: Path) -> Iterable[dict[str, object]]:
    with path.open() as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def _owner(location: str, paths: list[str]) -> str | None:
    """The corpus file a tool's location string refers to (longest path it starts with)."""
    best = None
    for path in paths:
        if location == path or (location.startswith(path) and location[len(path)] in " :!/#|("):
            if best is None or len(path) > len(best):
                best = path
    return best


def all_files(root: Path) -> list[str]:
    """Every file under ``root``, relative, sorted."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


# -- runners ---------------------------------------------------------------------------------


def run_bastion(root: Path, out: Path, *, workers: int | None = None) -> Run:
    """``bastion scan ROOT --format json`` with the repository's own virtualenv."""
    report = out / "bastion.json"
    program = Path(sys.executable).with_name("bastion")
    cmd = (
        [str(program)]
        if program.exists()
        else [sys.executable, "-c", "from bastion.cli.app import main; main()"]
    )
    cmd += ["scan", str(root), "--format", "json", "--output", str(report)]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    wall, cpu, done = _timed(cmd, cwd=out)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"bastion failed ({done.returncode}): {done.stderr[-2000:]}")
    data = json.loads(report.read_text())
    from bastion import __version__

    flagged: dict[str, list[str]] = {}
    for finding in data["findings"]:
        if finding["severity"] in ("high", "critical"):
            flagged.setdefault(finding["location"]["path"], []).append(finding["rule_id"])
    errors = {s["path"] for s in data["skipped"] if s["reason"] == "analyzer-error"}
    verdicts = {
        path: Verdict(
            path in flagged, path in errors, detail=",".join(sorted(set(flagged.get(path, []))))
        )
        for path in all_files(root)
    }
    label = "bastion" if workers is None else f"bastion (--workers {workers})"
    return Run(label, __version__, wall, cpu, verdicts)


def _run_picklescan(peer: Peer, root: Path, out: Path) -> Run:
    records = out / "picklescan.jsonl"
    wall, cpu, done = _timed(
        [str(peer.bin("python")), str(DRIVERS / "picklescan_driver.py"), str(root), str(records)]
    )
    if done.returncode != 0:
        raise RuntimeError(f"picklescan driver failed: {done.stderr[-2000:]}")
    verdicts = {}
    for r in _jsonl(records):
        error = "error" in r
        verdicts[str(r["path"])] = Verdict(
            flagged=bool(r.get("dangerous")),
            error=error or bool(r.get("scan_err")),
            scanned=bool(r["scanned"]),
            also=bool(r.get("dangerous")) or bool(r.get("suspicious")),
            detail=str(r.get("error") or ""),
        )
    return Run("picklescan", peer.version(), wall, cpu, verdicts)


def _run_fickling(peer: Peer, root: Path, out: Path) -> Run:
    records = out / "fickling.jsonl"
    wall, cpu, done = _timed(
        [str(peer.bin("python")), str(DRIVERS / "fickling_driver.py"), str(root), str(records)]
    )
    if done.returncode != 0:
        raise RuntimeError(f"fickling driver failed: {done.stderr[-2000:]}")
    verdicts = {}
    for r in _jsonl(records):
        error = bool(r.get("error")) or bool(r.get("errors"))
        verdicts[str(r["path"])] = Verdict(
            flagged=bool(r.get("unsafe")),
            error=error,
            scanned=bool(r.get("scanned")),
            detail=str(r.get("severity") or r.get("error") or ""),
        )
    return Run("fickling", peer.version(), wall, cpu, verdicts)


def _run_modelscan(peer: Peer, root: Path, out: Path) -> Run:
    report = out / "modelscan.json"
    cmd = [
        str(peer.bin("modelscan")),
        "-p",
        str(root),
        "-r",
        "json",
        "-o",
        str(report),
        "--show-skipped",
    ]
    wall, cpu, done = _timed(cmd, cwd=out)
    if not report.exists():
        raise RuntimeError(f"modelscan wrote no report ({done.returncode}): {done.stderr[-2000:]}")
    data = json.loads(report.read_text())
    paths = all_files(root)
    flagged: dict[str, str] = {}
    for issue in data.get("issues", []):
        owner = _owner(str(issue.get("source", "")), paths)
        if owner:
            flagged[owner] = f"{issue.get('module')}.{issue.get('operator')}"
    errors = {o for e in data.get("errors", []) if (o := _owner(str(e.get("source", "")), paths))}
    scanned = {
        o for s in data["summary"]["scanned"].get("scanned_files", []) if (o := _owner(s, paths))
    }
    verdicts = {
        p: Verdict(
            p in flagged,
            p in errors,
            p in scanned or p in flagged or p in errors,
            detail=flagged.get(p, ""),
        )
        for p in paths
    }
    return Run("modelscan", peer.version(), wall, cpu, verdicts)


def _run_modelaudit(peer: Peer, root: Path, out: Path) -> Run:
    report = out / "modelaudit.json"
    home = Path(tempfile.mkdtemp(prefix="modelaudit-home-", dir=out))
    env = dict(
        os.environ, PROMPTFOO_DISABLE_TELEMETRY="1", NO_ANALYTICS="1", HOME=str(home), NO_COLOR="1"
    )
    cmd = [
        str(peer.bin("modelaudit")),
        "scan",
        str(root),
        "--format",
        "json",
        "--output",
        str(report),
        "--no-cache",
        "--quiet",
    ]
    wall, cpu, done = _timed(cmd, env=env, cwd=out)
    if not report.exists():
        raise RuntimeError(f"modelaudit wrote no report ({done.returncode}): {done.stderr[-2000:]}")
    data = json.loads(report.read_text())
    paths = all_files(root)
    absolute = {str(root / p): p for p in paths}
    abs_paths = list(absolute)

    def owner(record: dict[str, object]) -> str | None:
        details = record.get("details") if isinstance(record.get("details"), dict) else {}
        for candidate in (
            record.get("location"),
            details.get("path"),
            details.get("pickle_source"),
            details.get("file_path"),
        ):  # type: ignore[union-attr]
            if isinstance(candidate, str) and (hit := _owner(candidate, abs_paths)):
                return absolute[hit]
        return None

    flagged: dict[str, str] = {}
    errors: set[str] = set()
    for issue in data.get("issues", []):
        path = owner(issue)
        if path is None:
            continue
        if str(issue.get("severity", "")).lower() in ("critical", "warning"):
            flagged.setdefault(path, str(issue.get("rule_code") or issue.get("message", ""))[:60])
    for check in data.get("checks", []):
        path = owner(check)
        if path is None:
            continue
        status = str(check.get("status", "")).lower()
        if status == "failed" and str(check.get("severity", "")).lower() in ("critical", "warning"):
            flagged.setdefault(path, str(check.get("name", ""))[:60])
        elif status == "error":
            errors.add(path)
    for file_path, meta in (data.get("file_metadata") or {}).items():
        if (
            isinstance(meta, dict)
            and meta.get("operational_error")
            and (hit := _owner(file_path, abs_paths))
        ):
            errors.add(absolute[hit])
    scanned = {
        absolute[h]
        for a in data.get("assets", [])
        if (h := _owner(str(a.get("path", "")), abs_paths))
    }
    verdicts = {
        p: Verdict(
            p in flagged, p in errors, p in scanned or p in flagged, detail=flagged.get(p, "")
        )
        for p in paths
    }
    return Run("modelaudit", peer.version(), wall, cpu, verdicts)


PEERS: tuple[Peer, ...] = (
    Peer("picklescan", (("picklescan[7z]",),), _run_picklescan),
    Peer("modelscan", (("modelscan[h5py]", "numpy<2"),), _run_modelscan),
    Peer("fickling", (("fickling", "typing_extensions"),), _run_fickling),
    Peer(
        "modelaudit",
        (
            ("torch==2.13.0",),
            ("torch==2.13.0", "modelaudit[h5,onnx,safetensors,sevenzip,joblib,dill,pytorch]"),
        ),
        _run_modelaudit,
    ),
)


def select(names: Iterable[str] | None) -> list[Peer]:
    """The peers named (all when ``None``), in table order."""
    if names is None:
        return list(PEERS)
    wanted = set(names)
    unknown = wanted - {p.name for p in PEERS}
    if unknown:
        raise SystemExit(f"unknown peer(s): {sorted(unknown)}; known: {[p.name for p in PEERS]}")
    return [p for p in PEERS if p.name in wanted]
