"""The posture rules (``BST-POS``): each way a project can drift from its accepted baseline.

``bastion posture check`` reports every deviation as a finding of one of these rules, so the
JSON, SARIF and Markdown reports, ``bastion rules explain`` and the gate work as for a scan. A
new finding keeps the severity (and category) of the finding it reports; the others have the
severity given here. This module imports nothing heavy: the registry loads it for
``bastion rules``.

>>> from bastion.posture.rules import MODEL_UNSIGNED_CHANGE
>>> MODEL_UNSIGNED_CHANGE.id
'BST-POS-003'
"""

from __future__ import annotations

from bastion.core import References, Severity
from bastion.rules import Rule

_TRACKING = References(nist=("MEASURE 3.1", "MANAGE 4.1"))
_MODEL = References(
    cwe=("CWE-345", "CWE-494"),
    owasp=("ML06:2023", "ML10:2023", "LLM03:2025", "LLM04:2025"),
    atlas=("AML.T0010.003", "AML.T0018", "AML.T0031"),
    nist=("MANAGE 3.2", "MEASURE 3.1"),
)
_DATA = References(
    cwe=("CWE-345",),
    owasp=("ML02:2023", "LLM04:2025"),
    atlas=("AML.T0010.002", "AML.T0020", "AML.T0059"),
    nist=("MAP 4.1", "MEASURE 3.1"),
)
_DEPS = References(
    cwe=("CWE-1395", "CWE-829"),
    owasp=("ML06:2023", "LLM03:2025"),
    atlas=("AML.T0010.001", "AML.T0011.001"),
    nist=("MAP 4.1", "MANAGE 3.1", "MEASURE 3.1"),
)
_METRIC = References(
    owasp=("ML01:2023", "ML03:2023", "ML04:2023"),
    atlas=("AML.T0015", "AML.T0024"),
    nist=("MEASURE 2.7", "MEASURE 2.10", "MEASURE 3.1"),
)
_GATEWAY = References(
    cwe=("CWE-16",),
    owasp=("LLM10:2025",),
    atlas=("AML.T0040", "AML.T0029"),
    nist=("MANAGE 4.1", "MEASURE 2.4"),
)

NEW_FINDING = Rule(
    "BST-POS-001",
    "New finding since the posture baseline",
    Severity.MEDIUM,
    "configs",
    doc="""
    The scan of the project reports a finding whose fingerprint (rule, path, archive member,
    normalized evidence; never the line) is not in the accepted posture. The deviation has the
    severity and category of the finding itself, and its message names the original rule, so
    a malicious model added after the baseline is reported as such.
    """,
    remediation="Fix the new finding; if it is accepted, record the new posture with "
    "`bastion baseline set` (and review that change like code).",
    references=_TRACKING,
)
FINDING_WORSE = Rule(
    "BST-POS-002",
    "Finding got more severe since the posture baseline",
    Severity.MEDIUM,
    "configs",
    doc="""
    A finding that was accepted in the baseline is still present but now has a higher
    severity (a rule or the policy changed, or the evidence got worse). Acceptance was given
    for the old severity only.
    """,
    remediation="Review the finding at its new severity; fix it or set the baseline again.",
    references=_TRACKING,
)
MODEL_UNSIGNED_CHANGE = Rule(
    "BST-POS-003",
    "Model changed without a new valid signature",
    Severity.CRITICAL,
    "integrity",
    doc="""
    The model's digest (model-signing manifest root, the same digest `bastion sign` signs)
    differs from the accepted one, and no signature next to it verifies the new content with
    a trusted key. An unsigned change of weights or of a pickle is how a backdoored or
    malicious model replaces a reviewed one.
    """,
    remediation="Do not deploy it. Restore the accepted model, or have the release key sign "
    "the new one (`bastion sign`) and set the baseline again.",
    references=_MODEL,
)
MODEL_UNSIGNED_NEW = Rule(
    "BST-POS-004",
    "New model without a valid signature",
    Severity.HIGH,
    "integrity",
    doc="""
    A model file or folder that was not in the accepted posture appeared, and no signature by
    a trusted key covers it. New models are where supply-chain payloads arrive.
    """,
    remediation="Scan and review the model, sign it with the release key, and set the "
    "baseline again; remove it if nobody can say where it came from.",
    references=_MODEL,
)
MODEL_RESIGNED = Rule(
    "BST-POS-005",
    "Model or dataset changed, with a valid new signature",
    Severity.INFO,
    "integrity",
    doc="""
    A model or dataset differs from the accepted posture (or is new), but a signature by a
    trusted key verifies the new content. This is the expected way to ship a new model; it is
    reported so the baseline can be brought up to date.
    """,
    remediation="Set the baseline again (`bastion baseline set`) to accept the new model.",
    references=_MODEL,
)
MODEL_REMOVED = Rule(
    "BST-POS-006",
    "Model removed since the posture baseline",
    Severity.LOW,
    "integrity",
    doc="""
    A model recorded in the accepted posture is gone (or is no longer recognized as a model,
    which can mean its format changed).
    """,
    remediation="Confirm the removal was intended and set the baseline again.",
    references=_MODEL,
)
DATASET_CHANGED = Rule(
    "BST-POS-007",
    "Dataset changed without a new valid signature",
    Severity.HIGH,
    "data",
    doc="""
    A dataset recorded in the accepted posture (by its manifest digest) has different content,
    appeared or disappeared, and no trusted signature covers the new content. Poisoning
    happens in the data before it happens in the model.
    """,
    remediation="Find out who changed the data and why; re-run the data and poisoning "
    "assessments, sign the dataset folder, and set the baseline again.",
    references=_DATA,
)
DEPENDENCY_NEW = Rule(
    "BST-POS-008",
    "New dependency since the posture baseline",
    Severity.MEDIUM,
    "dependencies",
    doc="""
    A package that the accepted posture did not contain is now declared or locked. New
    packages bring new code into training and serving (typosquats, compromised releases,
    known-vulnerable versions).
    """,
    remediation="Review the package (maintainers, advisories, why it is needed), then set "
    "the baseline again.",
    references=_DEPS,
)
DEPENDENCY_CHANGED = Rule(
    "BST-POS-009",
    "Dependency version changed since the posture baseline",
    Severity.MEDIUM,
    "dependencies",
    doc="""
    A package of the accepted posture is now pinned to another version or constraint. A
    downgrade can bring back a fixed vulnerability; an upgrade brings unreviewed code.
    """,
    remediation="Check the release notes and advisories of the new version, then set the "
    "baseline again.",
    references=_DEPS,
)
DEPENDENCY_REMOVED = Rule(
    "BST-POS-010",
    "Dependency removed since the posture baseline",
    Severity.INFO,
    "dependencies",
    doc="A package of the accepted posture is no longer declared. Usually harmless; reported "
    "so the baseline stays true.",
    remediation="Set the baseline again.",
    references=_DEPS,
)
METRIC_WORSE = Rule(
    "BST-POS-011",
    "Assessment metric worse than the baseline beyond tolerance",
    Severity.HIGH,
    "assessment",
    doc="""
    A robustness, privacy or data metric of the latest assessment is worse than the accepted
    value by more than the tolerance (`[posture] tolerance`, per metric in
    `[posture.tolerances]`). Whether higher or lower is better is known for bastion's metric
    names (accuracy up, attack success/AUC/advantage/leakage down) and configurable.
    """,
    remediation="Find the change that degraded the model (data, training, hardening) and "
    "re-assess; accept the new value only with a justification.",
    references=_METRIC,
)
METRIC_MISSING = Rule(
    "BST-POS-012",
    "Assessment metric not measured",
    Severity.LOW,
    "assessment",
    doc="""
    The accepted posture holds a metric that the latest assessment did not measure (or there
    is no assessment to compare). What was not measured cannot be called unchanged.
    """,
    remediation="Run `bastion assess` with --save (or pass --metrics FILE) before the check.",
    references=_METRIC,
)
GATEWAY_CHANGED = Rule(
    "BST-POS-013",
    "Gateway configuration changed since the posture baseline",
    Severity.HIGH,
    "runtime",
    doc="""
    The digest of the policy's `[gateway]` table (canonical JSON) differs from the accepted
    one: authentication, rate limits, model routes, detectors or playbooks of the serving
    endpoint were changed, added or removed.
    """,
    remediation="Review the gateway change like code; set the baseline again once approved.",
    references=_GATEWAY,
)
UNCHECKED = Rule(
    "BST-POS-014",
    "Part of the posture could not be checked",
    Severity.MEDIUM,
    "configs",
    doc="""
    Something the baseline covers could not be measured now: a model or dataset could not be
    hashed, a lockfile could not be parsed, a signature could not be read. Unknown is not
    unchanged.
    """,
    remediation="Fix the cause named in the message and run the check again.",
    references=_TRACKING,
)

RULES: tuple[Rule, ...] = (
    NEW_FINDING,
    FINDING_WORSE,
    MODEL_UNSIGNED_CHANGE,
    MODEL_UNSIGNED_NEW,
    MODEL_RESIGNED,
    MODEL_REMOVED,
    DATASET_CHANGED,
    DEPENDENCY_NEW,
    DEPENDENCY_CHANGED,
    DEPENDENCY_REMOVED,
    METRIC_WORSE,
    METRIC_MISSING,
    GATEWAY_CHANGED,
    UNCHECKED,
)
