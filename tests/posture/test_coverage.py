"""``bastion report --standard``: coverage derived from the rule registry, findings per item."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bastion.core import References, Severity
from bastion.registry import Registry, default_registry
from bastion.report.coverage import (
    ObservedFinding,
    Status,
    build_coverage,
    references_of,
    render_markdown,
)
from bastion.report.coverage_html import render_html
from bastion.rules import Rule
from bastion.standards import STANDARDS, load_standard
from tests.posture.conftest import Backend
from tests.posture.helpers import make_project, malicious_pickle, run

#: MITRE ATLAS technique ids of STANDARDS.md §2 (the catalog must list exactly these).
ATLAS_IDS = {
    "AML.T0010", *(f"AML.T0010.00{i}" for i in range(6)),
    "AML.T0011", *(f"AML.T0011.00{i}" for i in range(4)),
    "AML.T0018", "AML.T0018.000", "AML.T0018.001", "AML.T0018.002",
    "AML.T0076", "AML.T0020", "AML.T0019", "AML.T0058", "AML.T0104", "AML.T0059", "AML.T0031",
    "AML.T0043", *(f"AML.T0043.00{i}" for i in range(5)),
    "AML.T0015", "AML.T0042", "AML.T0005", "AML.T0005.000", "AML.T0005.001", "AML.T0005.002",
    "AML.T0040", "AML.T0044", "AML.T0024", "AML.T0024.000", "AML.T0024.001", "AML.T0024.002",
    "AML.T0025", "AML.T0029", "AML.T0046",
    "AML.T0034", "AML.T0034.000", "AML.T0034.001", "AML.T0034.002",
    "AML.T0051", "AML.T0051.000", "AML.T0051.001", "AML.T0051.002",
    "AML.T0054", "AML.T0056", "AML.T0057", "AML.T0070", "AML.T0012", "AML.T0055", "AML.T0049",
    "AML.T0007", "AML.T0035", "AML.T0048", "AML.T0048.004", "AML.T0109", "AML.T0111",
}  # fmt: skip
#: AI RMF subcategories per category (NIST AI 100-1).
RMF_SIZES = {
    "GOVERN": [7, 3, 2, 3, 2, 2],
    "MAP": [6, 3, 5, 2, 2],
    "MEASURE": [3, 13, 3, 4 - 1],
    "MANAGE": [4, 4, 2, 3],
}


def test_catalogs_are_complete() -> None:
    ml = load_standard("owasp-ml")
    assert [i.id for i in ml.items] == [f"ML{n:02d}:2023" for n in range(1, 11)]
    assert (
        ml.item("ML06:2023") is not None and ml.item("ML06:2023").name == "AI Supply Chain Attacks"
    )
    llm = load_standard("owasp-llm")
    assert [i.id for i in llm.items] == [f"LLM{n:02d}:2025" for n in range(1, 11)]
    assert llm.items[9].name == "Unbounded Consumption"
    atlas = load_standard("atlas")
    assert {i.id for i in atlas.items} == ATLAS_IDS
    assert all(i.parent == i.id.rsplit(".", 1)[0] for i in atlas.items if i.id.count(".") == 2)
    nist = load_standard("nist-ai-rmf")
    expected = [
        f"{function} {category}.{sub}"
        for function, sizes in RMF_SIZES.items()
        for category, size in enumerate(sizes, start=1)
        for sub in range(1, size + 1)
    ]
    assert [i.id for i in nist.items] == expected and len(expected) == 72


def _independent_coverage(registry: Registry, standard: str) -> set[str]:
    """Which items some rule names, computed here without the report code."""
    std = load_standard(standard)
    named = {ref for rule in registry.rules() for ref in getattr(rule.references, std.field)}
    return {
        item.id
        for item in std.items
        if item.id in named or any(ref.startswith(item.id + ".") for ref in named)
    }


@pytest.mark.parametrize("standard", STANDARDS)
def test_covered_items_are_derived_from_the_registry(standard: str) -> None:
    registry = default_registry()
    report = build_coverage(load_standard(standard), registry, (), target="x")
    covered = {e.item.id for e in report.items if e.status is not Status.GAP}
    assert covered == _independent_coverage(registry, standard)
    for entry in report.items:
        for rule_id in entry.rules:
            assert entry.item.id in references_of(
                registry.rule(rule_id).references, report.standard
            )
    for entry in report.items:  # every honest gap says why, in its own words
        if entry.status is Status.GAP:
            assert entry.item.gap and len(entry.item.gap) > 20, entry.item.id


def _registry_with(rules: list[Rule]) -> Registry:
    registry = Registry()
    registry.add_rules(rules)
    return registry


def test_adding_or_removing_a_rule_changes_the_report() -> None:
    base = list(default_registry().rules())
    llm = load_standard("owasp-llm")
    before = build_coverage(llm, _registry_with(base), (), target="x")
    assert before.item("LLM01:2025").status is Status.GAP
    extra = Rule(
        "BST-TEST-001", "Prompt injection marker", Severity.HIGH, "code",
        doc="test rule", references=References(owasp=("LLM01:2025",), atlas=("AML.T0051.001",)),
    )  # fmt: skip
    after = build_coverage(llm, _registry_with([*base, extra]), (), target="x")
    assert after.item("LLM01:2025").rules == ("BST-TEST-001",)
    assert after.item("LLM01:2025").status is Status.CLEAN
    atlas = build_coverage(load_standard("atlas"), _registry_with([*base, extra]), (), target="x")
    assert atlas.item("AML.T0051").via_subitems == ("BST-TEST-001",)
    assert atlas.item("AML.T0051.001").status is Status.CLEAN
    # AML.T0059 is named only by posture (BST-POS-007) and data assessment (BST-APD) rules.
    others = [r for r in base if not r.id.startswith(("BST-POS-", "BST-APD-"))]
    report = build_coverage(load_standard("atlas"), _registry_with(others), (), target="x")
    assert report.item("AML.T0059").status is Status.GAP
    full = build_coverage(load_standard("atlas"), _registry_with(base), (), target="x")
    assert "BST-POS-007" in full.item("AML.T0059").rules
    assert render_markdown(report) != render_markdown(full)


def test_findings_per_item_and_statuses() -> None:
    registry = default_registry()
    found = ObservedFinding(
        "BST-PKL-001", Severity.CRITICAL, "models/evil.pkl", "<script>alert(1)</script>"
    )
    report = build_coverage(load_standard("atlas"), registry, [found], target="proj")
    assert report.item("AML.T0011.000").findings == (found,)
    assert report.item("AML.T0011").status is Status.FOUND  # via its sub-technique
    assert report.item("AML.T0011.001").status is Status.CLEAN
    assert report.item("AML.T0029").status in (Status.CLEAN, Status.ELSEWHERE, Status.FOUND)
    elsewhere = report.item("AML.T0059")  # posture-only technique, not run by a scan
    assert elsewhere.status is Status.ELSEWHERE
    assert "bastion posture check" in elsewhere.commands
    posture_run = build_coverage(
        load_standard("atlas"), registry, [], target="proj", run_kind="posture"
    )
    assert posture_run.item("AML.T0059").status is Status.CLEAN
    unknown = ObservedFinding("BST-GONE-001", Severity.LOW, "x", "old rule")
    assert (
        build_coverage(load_standard("atlas"), registry, [unknown], target="p").findings_unmapped
        == 1
    )
    markdown = render_markdown(report)
    assert "## What bastion cannot check" in markdown and "AML.T0010.000 Hardware" in markdown
    assert "&lt;script&gt;" in markdown and "<script>" not in markdown
    html = render_html(report)
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert not re.search(r"""(src|href)=["']https?:""", html)  # self-contained
    assert "Compromised accelerators" in html  # a gap, with its reason


def test_cli_report_on_a_project(tmp_path: Path, marker_dir: Path) -> None:
    project = make_project(tmp_path / "proj")
    (project / "models" / "evil.pkl").write_bytes(malicious_pickle(marker_dir))
    code, output = run("report", "--standard", "owasp-ml", project)
    assert code == 0, output
    row = next(line for line in output.splitlines() if line.startswith("| ML06:2023"))
    assert "findings" in row and "critical" in row and "`BST-PKL` ×" in row
    section = output.split("### ML06:2023 AI Supply Chain Attacks", 1)[1].split("###", 1)[0]
    assert "critical `BST-PKL-001` `models/evil.pkl" in section
    assert "ML07:2023" in output and "## What bastion cannot check" in output
    out = tmp_path / "nist.html"
    code, output = run("report", "-s", "nist-ai-rmf", project, "-f", "html", "-o", out)
    assert code == 0, output
    html = out.read_text()
    assert "MANAGE 3.2" in html and "GOVERN 2.2" in html and "<svg" in html


def test_cli_report_on_a_saved_run(
    tmp_path: Path, backend: Backend, monkeypatch: pytest.MonkeyPatch, marker_dir: Path
) -> None:
    backend.use(monkeypatch)
    project = make_project(tmp_path / "proj")
    (project / "models" / "evil.pkl").write_bytes(malicious_pickle(marker_dir))
    assert run("scan", project, "-q")[0] == 1
    code, output = run("report", "--standard", "atlas", "latest")
    assert code == 0, output
    assert "scan run 1" in output
    row = next(line for line in output.splitlines() if line.startswith("| AML.T0011.000"))
    assert "findings" in row
    code, output = run("report", "--standard", "owasp-llm", "run:1", "-f", "html")
    assert code == 0 and "LLM03:2025" in output
    code, output = run("report", "--standard", "atlas", "run:7")
    assert code == 2 and "no run 7" in output


def test_cli_report_bad_input(tmp_path: Path) -> None:
    code, output = run("report", "--standard", "atlas", str(tmp_path / "nothing"))
    assert code == 2 and "no such file or directory, and not a run id" in output
    code, output = run("report", "--standard", "iso-42001", str(tmp_path))
    assert code == 2
    code, output = run("report", "--standard", "atlas", "run:yesterday")
    assert code == 2 and "expected run:ID" in output


def test_standard_choices_match_the_data() -> None:
    from bastion.cli.report import StandardChoice

    assert tuple(c.value for c in StandardChoice) == STANDARDS
