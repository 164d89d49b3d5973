"""JUnit XML, for CI systems that show test reports (GitLab, Jenkins, Azure DevOps).

One test suite per finding category, one test case per file with findings in it (a failure when
any of them blocks the gate), and a ``bastion.coverage`` suite where every scanned file is a test
case: passed when clean, skipped when it could not be fully checked.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict

from bastion.core import Finding
from bastion.report.interface import Reporter, ReportInput


def _describe(finding: Finding) -> str:
    lines = [
        f"{finding.rule_id} [{finding.severity.label}] {finding.title}",
        f"  at {finding.location.display()}",
        f"  {finding.message}",
    ]
    if finding.evidence:
        lines.append(f"  evidence: {finding.evidence}")
    if finding.remediation:
        lines.append(f"  fix: {finding.remediation}")
    return "\n".join(lines)


def junit_tree(report: ReportInput) -> ET.Element:
    """The ``testsuites`` element."""
    verdict, result = report.verdict, report.result
    blocking = {id(f) for f in verdict.blocking}
    by_category: dict[str, dict[str, list[Finding]]] = defaultdict(lambda: defaultdict(list))
    for finding in verdict.findings:
        by_category[finding.category][finding.location.path].append(finding)
    root = ET.Element("testsuites", name="bastion")
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    for category in sorted(by_category):
        files = by_category[category]
        suite = ET.SubElement(root, "testsuite", name=f"bastion.{category}")
        failures = 0
        for path in sorted(files):
            case = ET.SubElement(
                suite, "testcase", classname=f"bastion.{category}", name=path, file=path
            )
            findings = files[path]
            blockers = [f for f in findings if id(f) in blocking]
            if blockers:
                failures += 1
                first = blockers[0]
                failure = ET.SubElement(
                    case,
                    "failure",
                    type=first.rule_id,
                    message=f"{len(blockers)} blocking finding(s): {first.title}",
                )
                failure.text = "\n\n".join(_describe(f) for f in blockers)
            others = [f for f in findings if id(f) not in blocking]
            if others:
                ET.SubElement(case, "system-out").text = "\n\n".join(_describe(f) for f in others)
        suite.set("tests", str(len(files)))
        suite.set("failures", str(failures))
        suite.set("errors", "0")
        suite.set("skipped", "0")
        totals["tests"] += len(files)
        totals["failures"] += failures
    coverage = ET.SubElement(root, "testsuite", name="bastion.coverage")
    skipped_paths: dict[str, list[str]] = defaultdict(list)
    for skip in result.skipped:
        skipped_paths[skip.path].append(f"{skip.display}: {skip.reason.value}: {skip.detail}")
    scanned = sorted({a.path for a in result.artifacts if a.member is None} | set(skipped_paths))
    for path in scanned:
        case = ET.SubElement(
            coverage, "testcase", classname="bastion.coverage", name=path, file=path
        )
        if path in skipped_paths:
            skipped = ET.SubElement(case, "skipped", message="not fully checked")
            skipped.text = "\n".join(skipped_paths[path])
    coverage.set("tests", str(len(scanned)))
    coverage.set("failures", "0")
    coverage.set("errors", "0")
    coverage.set("skipped", str(len(skipped_paths)))
    totals["tests"] += len(scanned)
    totals["skipped"] += len(skipped_paths)
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("errors", "0")
    root.set("time", f"{result.duration:.3f}")
    return root


class JunitReporter(Reporter):
    """JUnit XML document."""

    name = "junit"

    def render(self, report: ReportInput) -> str:
        """The XML text with a declaration."""
        tree = junit_tree(report)
        ET.indent(tree)
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(tree, "unicode") + "\n"
