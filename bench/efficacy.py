"""Efficacy of bastion and its peers on the labelled corpus: detection and false positives.

Builds the corpus (``tests/corpus``) in a temporary directory, installs each peer into its own
virtualenv under ``bench/.venv-<tool>`` on first use, scans the corpus with bastion and every
peer, reads each tool's verdict per file (see ``model_peers.py`` for how), and prints:

* one row per tool: attacks detected, benign files flagged, files with errors, files the tool
  did not look at, wall time;
* the same per family (the container format of the sample);
* every attack bastion missed and every benign file it flagged.

Usage::

    .venv/bin/python bench/efficacy.py [--peers picklescan,modelscan] [--keep DIR] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from model_peers import Run, Verdict, run_bastion, select  # noqa: E402
from tests.corpus import FAMILIES, Sample, build_corpus  # noqa: E402

_MISSING = Verdict(flagged=False, scanned=False)


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:5.1f}%" if whole else "    - "


def _rows(run: Run, samples: list[Sample]) -> list[tuple[str, list[str]]]:
    """The summary row(s) of one run: picklescan also gets its looser reading."""
    readings = [(run.tool, lambda v: v.flagged)]
    if run.tool == "picklescan":
        readings.append(("picklescan +suspicious", lambda v: v.also))
    malicious = [s for s in samples if s.malicious]
    benign = [s for s in samples if not s.malicious]
    rows = []
    for label, flagged in readings:
        verdicts = [run.verdicts.get(s.path, _MISSING) for s in samples]
        detected = sum(flagged(run.verdicts.get(s.path, _MISSING)) for s in malicious)
        false_pos = sum(flagged(run.verdicts.get(s.path, _MISSING)) for s in benign)
        rows.append(
            (
                label,
                [
                    f"{detected}/{len(malicious)} {_pct(detected, len(malicious))}",
                    f"{false_pos}/{len(benign)} {_pct(false_pos, len(benign))}",
                    str(sum(v.error for v in verdicts)),
                    str(sum(not v.scanned for v in verdicts)),
                    f"{run.wall:.1f}",
                    f"{run.cpu:.1f}",
                ],
            )
        )
    return rows


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def fmt(row: list[str]) -> str:
        cells = zip(row, widths, strict=True)
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(cells))

    return "\n".join([fmt(header), "  ".join("-" * w for w in widths), *(fmt(r) for r in rows)])


def _family_table(runs: list[Run], samples: list[Sample]) -> str:
    header = ["family", "attacks", "benign", *(r.tool for r in runs)]
    rows = []
    for family in FAMILIES:
        members = [s for s in samples if s.family == family]
        if not members:
            continue
        mal = [s for s in members if s.malicious]
        ben = [s for s in members if not s.malicious]
        cells = []
        for run in runs:
            det = sum(run.verdicts.get(s.path, _MISSING).flagged for s in mal)
            fp = sum(run.verdicts.get(s.path, _MISSING).flagged for s in ben)
            cells.append(f"{det}/{len(mal)} fp {fp}")
        rows.append([family, str(len(mal)), str(len(ben)), *cells])
    return _table(header, rows)


def main(argv: list[str] | None = None) -> int:
    """Build, scan, compare, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peers", help="comma-separated peers (default: all)")
    parser.add_argument("--keep", type=Path, help="build the corpus and outputs here, keep them")
    parser.add_argument("--json", type=Path, help="also write the per-file verdicts as JSON")
    args = parser.parse_args(argv)
    peers = select(args.peers.split(",") if args.peers else None)
    for peer in peers:
        peer.ensure()

    work = args.keep or Path(tempfile.mkdtemp(prefix="bastion-efficacy-"))
    root, markers, out = work / "corpus", work / "markers", work / "out"
    out.mkdir(parents=True, exist_ok=True)
    samples = build_corpus(root, marker_dir=markers)
    mal = sum(s.malicious for s in samples)
    print(
        f"corpus: {len(samples)} files ({mal} malicious, {len(samples) - mal} benign) in {root}\n"
    )

    runs = [run_bastion(root, out)]
    for peer in peers:
        try:
            runs.append(peer.run(root, out))
        except RuntimeError as exc:
            print(f"{peer.name}: run failed: {exc}", file=sys.stderr)

    header = [
        "tool",
        "attacks detected",
        "benign flagged",
        "errors",
        "not scanned",
        "wall s",
        "cpu s",
    ]
    rows = [[label, *cells] for run in runs for label, cells in _rows(run, samples)]
    print(_table(header, rows))
    print("\nversions: " + ", ".join(f"{r.tool} {r.version}" for r in runs))
    print("\nper family (attacks detected / attacks, benign files flagged):")
    print(_family_table(runs, samples))

    bastion = runs[0]
    missed = [
        s for s in samples if s.malicious and not bastion.verdicts.get(s.path, _MISSING).flagged
    ]
    noisy = [
        s for s in samples if not s.malicious and bastion.verdicts.get(s.path, _MISSING).flagged
    ]
    print(f"\nbastion missed {len(missed)} attack(s):")
    for s in missed:
        print(f"  {s.path}  [{s.technique}]")
    print(f"bastion flagged {len(noisy)} benign file(s):")
    for s in noisy:
        print(f"  {s.path}  [{s.technique}] {bastion.verdicts[s.path].detail}")
    leaked = sorted(p.name for p in markers.iterdir())
    print(f"\nmarker directory: {'EMPTY (no payload ran)' if not leaked else leaked}")

    if args.json:
        payload = {
            "samples": [asdict(s) for s in samples],
            "runs": [
                {
                    "tool": r.tool,
                    "version": r.version,
                    "wall": r.wall,
                    "verdicts": {p: asdict(v) for p, v in r.verdicts.items()},
                }
                for r in runs
            ],
        }
        args.json.write_text(json.dumps(payload, indent=1))
    return 1 if leaked else 0


if __name__ == "__main__":
    sys.exit(main())
