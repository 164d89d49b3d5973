"""Run fickling's safety check over a directory, one JSON line per file.

Runs inside fickling's virtualenv (``bench/.venv-fickling``). fickling has no directory mode;
this applies the routing of its own repository scan (``fickling --huggingface``): zip archives
and ``.pt``/``.pth`` files go through ``scan_zip_archive`` (members ending in .pkl/.pickle/.bin),
files that parse as pickles or end in .bin/.pkl/.pickle through ``scan_file``; the rest are
not scanned. A file is unsafe when its severity is above ``LIKELY_SAFE``, which is when
``fickling --check-safety`` exits 1. Usage: ``driver.py ROOT OUT.jsonl``.
"""

from __future__ import annotations

import io
import json
import os
import sys
import zipfile

from fickling.analysis import Severity
from fickling.fickle import Pickled
from fickling.loader import scan_file, scan_zip_archive

_RAW = {".bin", ".pkl", ".pickle"}
_ZIP = {".pt", ".pth"}


def _parses_as_pickle(path: str) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(1 << 20)
    try:
        return len(Pickled.load(io.BytesIO(head))) > 2
    except Exception:  # NOTE: any failure means "not a pickle" to this routing
        return False


def _scan(path: str) -> dict[str, object]:
    ext = os.path.splitext(path)[1].lower()
    if zipfile.is_zipfile(path) or ext in _ZIP:
        results = list(scan_zip_archive(path, graceful=True).values())
    elif ext in _RAW or _parses_as_pickle(path):
        results = [scan_file(path, graceful=True)]
    else:
        return {"scanned": False}
    worst = max((r.severity for r in results), default=Severity.LIKELY_SAFE)
    errors = [e for r in results for e in r.errors]
    return {
        "scanned": True,
        "members": len(results),
        "severity": worst.name,
        "unsafe": worst > Severity.LIKELY_SAFE,
        "errors": errors[:3],
    }


def main() -> int:
    root, out = sys.argv[1], sys.argv[2]
    with open(out, "w") as sink:
        for base, dirs, files in os.walk(root):
            dirs.sort()
            for name in sorted(files):
                path = os.path.join(base, name)
                record: dict[str, object] = {"path": os.path.relpath(path, root)}
                try:
                    record.update(_scan(path))
                except Exception as exc:  # NOTE: one file must not end the run
                    record.update(scanned=True, error=f"{type(exc).__name__}: {exc}"[:300])
                sink.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
