"""JUnit, Markdown and HTML reports: well-formed, complete, and inert."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from typer.testing import CliRunner

from bastion.cli.app import app
from tests.formats.pickle import asm

runner = CliRunner()


def _project(root: Path) -> Path:
    root.mkdir()
    (root / "bad.pkl").write_bytes(asm.call("os", "system", "<script>alert(1)</script>"))
    (root / "helper.pkl").write_bytes(
        asm.proto(2) + asm.glob("mypkg", "Thing") + asm.EMPTY_TUPLE + asm.NEWOBJ + asm.STOP
    )
    (root / "weights.bin").write_bytes(bytes(range(256)))
    (root / "ok.pkl").write_bytes(asm.proto(2) + asm.NONE + asm.STOP)
    return root


def _render(tmp_path: Path, fmt: str) -> str:
    out = tmp_path / f"report.{fmt}"
    result = runner.invoke(app, ["scan", str(_project(tmp_path / fmt)), "-f", fmt, "-o", str(out)])
    assert result.exit_code == 1, result.output
    return out.read_text()


def test_junit(tmp_path: Path) -> None:
    root = ET.fromstring(_render(tmp_path, "junit"))
    assert root.tag == "testsuites" and root.get("failures") == "1"
    suites = {s.get("name"): s for s in root}
    models = suites["bastion.models"]
    failing = [c for c in models if c.find("failure") is not None]
    assert [c.get("name") for c in failing] == ["bad.pkl"]
    assert "os.system" in (failing[0].find("failure").text or "")  # type: ignore[union-attr]
    coverage = suites["bastion.coverage"]
    assert coverage.get("skipped") == "1"
    assert {c.get("name") for c in coverage} == {"bad.pkl", "helper.pkl", "weights.bin", "ok.pkl"}


def test_markdown(tmp_path: Path) -> None:
    text = _render(tmp_path, "markdown")
    assert text.startswith("### bastion ❌ failed")
    assert "`BST-PKL-001`" in text and "`BST-PKL-003`" in text
    assert "<script>" not in text  # escaped for the comment renderer
    assert "Not fully checked (1)" in text


def test_html_is_self_contained_and_escaped(tmp_path: Path) -> None:
    text = _render(tmp_path, "html")
    assert "<script>alert(1)</script>" not in text and "&lt;script&gt;" in text
    assert not re.search(r"""(src|href)=["']https?://""", text)
    assert "<svg" in text and 'data-sev="critical"' in text and 'data-cat="models"' in text
    assert "FAILED" in text and "weights.bin" in text
