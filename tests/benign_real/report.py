"""Print the benign-artifact table: every group generated, scanned, and summed up per library.

    .venv/bin/python -m tests.benign_real.report [GROUP ...]

For each library and format: files, files with no finding at all, files with findings below
HIGH, blocked files (a finding at or above HIGH), and skips; then every finding and skip.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import tempfile
import time
import warnings
from collections import defaultdict
from pathlib import Path

from tests.benign_real.base import GroupResult, Recorder, describe, scan_group
from tests.benign_real.groups import GROUPS, group


def _build(name: str, root: Path) -> GroupResult | None:
    spec = group(name)
    missing = [m for m in spec.requires if importlib.util.find_spec(m) is None]
    if missing:
        print(f"# {name}: skipped, needs {', '.join(missing)}", file=sys.stderr)
        return None
    recorder = Recorder(root / name / "artifacts")
    recorder.root.mkdir(parents=True)
    recorder.expected.extend(spec.expected)
    started = time.monotonic()
    with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
        warnings.simplefilter("ignore")
        spec.generate(recorder)
    built = time.monotonic()
    result = scan_group(name, recorder)
    print(
        f"# {name}: {len(result.files)} files, generated in {built - started:.1f} s, "
        f"scanned in {time.monotonic() - built:.1f} s",
        file=sys.stderr,
    )
    return result


def table(results: list[GroupResult]) -> str:
    """The Markdown table by library and format."""
    rows: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for result in results:
        for item in result.files:
            row = rows[(item.entry.library, item.entry.fmt)]
            row[0] += 1
            row[1] += not item.findings
            row[2] += bool(item.findings) and not item.blocking
            row[3] += bool(item.blocking)
            row[4] += len(item.skipped)
    lines = [
        "| library | format | files | clean | below HIGH | blocked | skips |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    totals = [0] * 5
    for (library, fmt), row in sorted(rows.items()):
        lines.append(f"| {library} | {fmt} | " + " | ".join(map(str, row)) + " |")
        totals = [a + b for a, b in zip(totals, row, strict=True)]
    lines.append("| **total** | | " + " | ".join(f"**{n}**" for n in totals) + " |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Build the named groups (all by default) and print the table and the details."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    names = argv or [g.name for g in GROUPS]
    with tempfile.TemporaryDirectory(prefix="bastion-benign-") as tmp:
        results = [r for n in names if (r := _build(n, Path(tmp))) is not None]
        print(table(results))
        for result in results:
            for rel, finding in result.blocking() + [
                (f.rel, x) for f in result.files for x in f.findings if x not in f.blocking
            ]:
                print(f"- {result.name}: {describe(rel, finding)}")
            for skip in result.skips():
                member = f"!{skip.member}" if skip.member else ""
                print(f"- {result.name}: skip {skip.path}{member}: {skip.detail}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
