"""Run picklescan's own per-file scan over a directory, one JSON line per file.

Runs inside picklescan's virtualenv (``bench/.venv-picklescan``). It walks the tree the way
``picklescan --path DIR`` does (same extension filter) and calls ``scan_file_path`` on each
file, but isolates exceptions per file: the CLI's directory mode stops at the first unhandled
exception, which would leave every later file unscanned. Usage: ``driver.py ROOT OUT.jsonl``.
"""

from __future__ import annotations

import json
import logging
import os
import sys

from picklescan import scanner


def main() -> int:
    root, out = sys.argv[1], sys.argv[2]
    logging.getLogger("picklescan").setLevel(logging.CRITICAL)
    wanted = (
        set(scanner._zip_file_extensions)
        | set(scanner._pickle_file_extensions)
        | set(scanner._pytorch_file_extensions)
    )
    with open(out, "w") as sink:
        for base, dirs, files in os.walk(root):
            dirs.sort()
            for name in sorted(files):
                path = os.path.join(base, name)
                record = {"path": os.path.relpath(path, root), "scanned": False}
                if os.path.splitext(name)[1] in wanted:
                    record["scanned"] = True
                    try:
                        result = scanner.scan_file_path(path)
                    except Exception as exc:  # NOTE: the CLI would abort here
                        record["error"] = f"{type(exc).__name__}: {exc}"[:300]
                    else:
                        record["dangerous"] = result.issues_count
                        record["suspicious"] = getattr(result, "suspicious_count", 0)
                        record["scan_err"] = bool(result.scan_err)
                        record["globals"] = sorted(
                            f"{g.module}.{g.name}:{g.safety.value}" for g in result.globals
                        )[:20]
                sink.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
