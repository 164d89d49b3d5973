"""The registry's lazy built-in table stays true to the analyzer classes it names."""

from __future__ import annotations

import subprocess
import sys

from bastion.registry import BUILTIN_ANALYZERS, _load
from bastion.scan.interface import Analyzer


def test_builtin_specs_match_their_classes() -> None:
    for spec in BUILTIN_ANALYZERS:
        cls = _load(spec.target)
        assert issubclass(cls, Analyzer), spec.target
        assert tuple(cls.formats) == spec.formats, spec.target
        overrides_sniff = cls.sniff.__func__ is not Analyzer.sniff.__func__  # type: ignore[attr-defined]
        assert overrides_sniff == spec.sniffs, spec.target


def test_a_model_scan_imports_only_what_it_needs(tmp_path: object) -> None:
    """Scanning a pickle must not import the code, secrets, manifest or template analyzers."""
    code = (
        "import pickle, sys, tempfile, pathlib\n"
        "d = pathlib.Path(tempfile.mkdtemp()); (d / 'm.pkl').write_bytes(pickle.dumps([1]))\n"
        "from bastion.scan.engine import scan\n"
        "scan(d)\n"
        "heavy = [m for m in ('bastion.scan.secrets.analyzer', 'bastion.scan.code.analyzer',\n"
        "         'bastion.scan.configs.analyzer', 'bastion.scan.formats.chat_template',\n"
        "         'detect_secrets', 'h5py') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
