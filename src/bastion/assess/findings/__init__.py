"""Turning measurements into findings: each carries its metrics and the thresholds it was judged by.

A measurement within policy (or with no threshold configured) is an ``info`` finding, so JSON
and SARIF reports always carry the numbers; one outside policy gets the rule's severity (or the
section's ``severity`` override) and the ordinary ``fail_on`` gate decides. Evidence strings are
stable (attack, norm, check), so fingerprints and baselines survive changing numbers.
"""

from __future__ import annotations

from bastion.assess.findings.common import display_path
from bastion.assess.findings.data import dropped_rows_finding, poisoning_findings
from bastion.assess.findings.privacy import privacy_findings
from bastion.assess.findings.robustness import robustness_findings

__all__ = [
    "display_path",
    "dropped_rows_finding",
    "poisoning_findings",
    "privacy_findings",
    "robustness_findings",
]
