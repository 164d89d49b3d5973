"""Hostile and broken text inputs: each is reported (a skip with a reason) and the scan goes on.

Every tree here also holds a file with a known finding (``canary.py``), so each test checks
that one bad file does not stop the others from being analyzed, and a payload that would
write a marker file if anything executed the scanned code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bastion.core import ScanResult, SkipReason
from bastion.scan.blob import FileBlob
from tests.code.conftest import scan_tree
from tests.conftest import inert_command

CANARY = "import pickle\n\ndef load(blob):\n    return pickle.loads(blob)\n"


@pytest.fixture
def tree(tmp_path: Path, marker_dir: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "canary.py").write_text(
        CANARY + f"import os\nos.system({inert_command(marker_dir)!r})\n"
    )
    return root


def _canary_seen(result: ScanResult) -> bool:
    return any(
        f.location.path == "canary.py" and f.rule_id == "BST-CODE-003" for f in result.findings
    )


def _skips(result: ScanResult, path: str) -> list[tuple[SkipReason, str]]:
    return [(s.reason, s.detail) for s in result.skipped if s.path == path]


def test_binary_file_named_py(tree: Path) -> None:
    (tree / "model.py").write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4)
    result = scan_tree(tree)
    assert _canary_seen(result)
    [(reason, detail)] = _skips(result, "model.py")
    assert reason is SkipReason.MALFORMED and "binary content" in detail


def test_binary_notebook(tree: Path) -> None:
    (tree / "nb.ipynb").write_bytes(b"\x00\x01\x02\x03" * 64)
    result = scan_tree(tree)
    assert _canary_seen(result)
    assert any("binary content" in d for _, d in _skips(result, "nb.ipynb"))


def test_undecodable_bytes_are_replaced_and_reported(tree: Path) -> None:
    (tree / "legacy.py").write_bytes(
        b"# caf\xe9 au lait\nimport yaml\ncfg = yaml.load(s, Loader=yaml.Loader)\n"
    )
    result = scan_tree(tree)
    assert _canary_seen(result)
    assert [
        (f.rule_id, f.location.line) for f in result.findings if f.location.path == "legacy.py"
    ] == [("BST-CODE-005", 3)]
    assert any("not valid utf-8" in d for _, d in _skips(result, "legacy.py"))


def test_pep263_encoding_is_honoured(tree: Path) -> None:
    (tree / "latin.py").write_bytes(
        b"# -*- coding: latin-1 -*-\n# caf\xe9\nimport yaml\nyaml.load(s, Loader=yaml.Loader)\n"
    )
    result = scan_tree(tree)
    assert _skips(result, "latin.py") == []
    assert [f.rule_id for f in result.findings if f.location.path == "latin.py"] == ["BST-CODE-005"]


def test_invalid_notebook_json(tree: Path) -> None:
    (tree / "broken.ipynb").write_text('{"cells": [{"cell_type": "code", "source": [')
    (tree / "deep.ipynb").write_text('{"cells": ' + "[" * 100_000 + "]" * 100_000 + "}")
    result = scan_tree(tree)
    assert _canary_seen(result)
    assert any("invalid notebook JSON" in d for _, d in _skips(result, "broken.ipynb"))
    assert _skips(result, "deep.ipynb"), "a nesting bomb is reported, not a crash"


def test_deeply_nested_python(tree: Path) -> None:
    (tree / "nested.py").write_text("import pickle\nx = " + "(" * 5000 + "1" + ")" * 5000 + "\n")
    (tree / "chain.py").write_text("import pickle\nx = " + " + ".join(["a"] * 100_000) + "\n")
    result = scan_tree(tree)
    assert _canary_seen(result)
    assert _skips(result, "nested.py"), "too deep to parse: reported"
    for skip in result.skipped:
        assert skip.reason is not SkipReason.ERROR, skip


def test_unreadable_file_is_reported(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tree / "secret.py").write_text("import pickle\npickle.loads(x)\n")
    original = FileBlob.read_at

    def failing(self: FileBlob, offset: int, length: int) -> bytes:
        if self.path.endswith("secret.py") and offset + length > 4096:
            raise OSError(5, "Input/output error")
        return original(self, offset, length)

    monkeypatch.setattr(FileBlob, "read_at", failing)
    result = scan_tree(tree)
    assert _canary_seen(result)
    skips = _skips(result, "secret.py")
    assert skips and all(reason is SkipReason.UNREADABLE for reason, _ in skips), skips


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_permission_denied(tree: Path) -> None:
    target = tree / "locked.py"
    target.write_text("import pickle\npickle.loads(x)\n")
    target.chmod(0)
    try:
        result = scan_tree(tree)
    finally:
        target.chmod(0o644)
    assert _canary_seen(result)
    assert any(s.path == "locked.py" for s in result.skipped)


@pytest.mark.slow
def test_fifty_megabyte_line(tree: Path) -> None:
    token = "ghp_" + "q7Rk2Lm9Xz4Wb8Nc5Vd1Tf6Gh3Jp0Ys7Ua2E"[:36]
    with open(tree / "blob.py", "w") as handle:
        handle.write('DATA = "')
        handle.write("QUFB" * 12_500_000)
        handle.write('"\nimport yaml\ncfg = yaml.load(s, Loader=yaml.Loader)\n')
        handle.write(f'TOKEN = "{token}"\n')
    result = scan_tree(tree)
    assert _canary_seen(result)
    found = sorted(
        (f.rule_id, f.location.line) for f in result.findings if f.location.path == "blob.py"
    )
    assert found == [("BST-CODE-005", 3), ("BST-SEC-005", 4)]
    assert any("characters long" in d for _, d in _skips(result, "blob.py"))


def test_huge_text_is_bounded_by_the_limit(tree: Path) -> None:
    from bastion.scan.engine import ScanOptions, scan
    from bastion.scan.interface import ScanSettings
    from bastion.scan.limits import Limits

    (tree / "big.py").write_text("import pickle\n" + "x = 1\n" * 50_000 + "pickle.loads(y)\n")
    settings = ScanSettings(limits=Limits(max_text_bytes=64 * 1024))
    result = scan(tree, ScanOptions(settings=settings, workers=1))
    reasons = {reason for reason, _ in _skips(result, "big.py")}
    assert SkipReason.TOO_LARGE in reasons
    assert _canary_seen(result)


def test_notebook_with_huge_output_is_bounded(tree: Path) -> None:
    cell = {
        "cell_type": "code",
        "source": "print(x)\n",
        "outputs": [{"output_type": "stream", "text": "9" * (2 << 20)}],
    }
    (tree / "out.ipynb").write_text(json.dumps({"nbformat": 4, "cells": [cell]}))
    result = scan_tree(tree)
    assert any("only the first characters" in d for _, d in _skips(result, "out.ipynb"))


@pytest.mark.parametrize(
    "source",
    [
        "import pickle\nx = pickle\n" + 'x = getattr(x, "a")\n' * 60 + "x.loads(b)\n",
        "import pickle\n" + "d = d + d\n" * 60 + "pickle.loads(d)\n",
        "import pickle\n"
        + "".join(f"v{i} = v{i + 1} or v{i + 2}\n" for i in range(200))
        + "pickle.loads(v0)\n",
        "x = x\nexec(x)\ny = compile(y, 'f', 'exec')\nexec(y)\n",
    ],
)
def test_pathological_bindings_resolve_fast(source: str) -> None:
    import time

    from bastion.scan.code.analyzer import check_python

    started = time.perf_counter()
    check_python(source)
    assert time.perf_counter() - started < 2.0
