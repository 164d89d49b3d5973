"""The gateway's rules (``BST-GW-NNN``): every denial and detection becomes a ``Finding``.

Findings are in the ``runtime`` category; their location is ``gateway://<instance>/<route or
model>`` and their properties carry the identity, client address and request id, so reports and
the history store read gateway decisions like any other finding.
"""

from __future__ import annotations

import inspect

from bastion.core import Confidence, References, Severity
from bastion.rules import Rule

_AUTH = References(
    cwe=("CWE-306", "CWE-287"),
    atlas=("AML.T0040", "AML.T0012"),
    nist=("MANAGE 4.1",),
)
_FLOOD = References(
    cwe=("CWE-770", "CWE-799", "CWE-400"),
    owasp=("LLM10:2025",),
    atlas=("AML.T0029", "AML.T0034.000"),
    nist=("MANAGE 4.1", "NISTAML.014"),
)
_EXTRACTION = References(
    cwe=("CWE-200", "CWE-799"),
    owasp=("ML05:2023", "LLM10:2025"),
    atlas=("AML.T0024.002", "AML.T0005", "AML.T0034.000"),
    nist=("MEASURE 2.4", "NISTAML.031"),
)
_EVASION = References(
    cwe=("CWE-1039", "CWE-20"),
    owasp=("ML01:2023",),
    atlas=("AML.T0043", "AML.T0015"),
    nist=("MEASURE 2.4", "NISTAML.022"),
)
_MISUSE = References(
    cwe=("CWE-863",),
    atlas=("AML.T0012", "AML.T0040"),
    nist=("MEASURE 2.4", "MANAGE 4.1"),
)


def _rule(
    num: int,
    title: str,
    severity: Severity,
    doc: str,
    remediation: str,
    refs: References,
    confidence: Confidence = Confidence.HIGH,
) -> Rule:
    return Rule(
        f"BST-GW-{num:03d}",
        title,
        severity,
        "runtime",
        doc=inspect.cleandoc(doc),
        remediation=remediation,
        references=refs,
        confidence=confidence,
    )


UNAUTHENTICATED = _rule(
    1,
    "Request without credentials",
    Severity.LOW,
    """A request reached a protected route without an API key or bearer token. The gateway
    answered 401 and made no model call.""",
    "Clients must send 'Authorization: Bearer <key or JWT>'. Repeated attempts from one address "
    "are throttled (BST-GW-019).",
    _AUTH,
)
INVALID_CREDENTIAL = _rule(
    2,
    "Invalid credential",
    Severity.MEDIUM,
    """An API key or JWT was presented but failed verification: unknown key, wrong secret, bad
    signature, tampered token, 'none' or a disallowed algorithm, wrong issuer or audience.""",
    "Check the client's credential; a stream of these is credential stuffing or token forgery.",
    References(cwe=("CWE-287", "CWE-347"), atlas=("AML.T0012", "AML.T0055"), nist=("MANAGE 4.1",)),
)
STALE_CREDENTIAL = _rule(
    3,
    "Expired, revoked or suspended credential",
    Severity.MEDIUM,
    """A credential that was valid once was used after it expired, was revoked, or while it was
    suspended by a playbook.""",
    "Rotate the client to a fresh key; if the key was revoked for cause, investigate its use.",
    References(cwe=("CWE-287", "CWE-613"), atlas=("AML.T0012", "AML.T0055"), nist=("MANAGE 4.1",)),
)
FORBIDDEN = _rule(
    4,
    "Permission denied",
    Severity.MEDIUM,
    """An authenticated identity asked for a route or model its roles do not grant. Roles are
    least-privilege: a new key has none.""",
    "Grant the role the permission and model scope it needs, and nothing more.",
    References(cwe=("CWE-862", "CWE-863"), atlas=("AML.T0040",), nist=("MANAGE 4.1",)),
)
RATE_LIMITED = _rule(
    5,
    "Rate limit exceeded",
    Severity.LOW,
    """The identity, its role, or its client address went over a request-rate limit; the
    gateway answered 429 with Retry-After and RateLimit headers.""",
    "Slow the client down or raise its role's limit if the traffic is legitimate.",
    _FLOOD,
)
BUDGET_EXHAUSTED = _rule(
    6,
    "Daily query budget exhausted",
    Severity.MEDIUM,
    """The identity used up its daily budget of inference rows. Budgets bound how much of a
    model's behaviour one identity can sample, the main cost of black-box extraction.""",
    "Review the identity's traffic before raising its budget.",
    _EXTRACTION,
)
INPUT_REJECTED = _rule(
    7,
    "Input rejected by the model schema",
    Severity.LOW,
    """The request body did not match the model's declared input: wrong shape or dtype, values
    out of range, NaN or infinity, or too large a batch.""",
    "Send inputs that match GET /v2/models/{model}; repeated probing is adversarial search.",
    References(cwe=("CWE-20",), owasp=("ML01:2023",), atlas=("AML.T0043",), nist=("MEASURE 2.4",)),
)
MALFORMED_REQUEST = _rule(
    8,
    "Malformed or abusive request",
    Severity.LOW,
    """The request broke a transport limit: body too large, wrong content type, malformed or
    too deeply nested JSON, header injection, or a client too slow to send its body.""",
    "Fix the client; floods of these are denial-of-service attempts.",
    References(cwe=("CWE-20", "CWE-400"), atlas=("AML.T0029", "AML.T0049"), nist=("MANAGE 4.1",)),
)
OUT_OF_DISTRIBUTION = _rule(
    9,
    "Input far from the training data",
    Severity.MEDIUM,
    """An input's robust distance from the training-data profile stored with the model is above
    the model's threshold: typical of adversarial examples and of extraction queries that
    explore the input space.""",
    "Inspect the identity's inputs; set reject_ood = true to refuse such inputs.",
    _EVASION,
    Confidence.MEDIUM,
)
PROBING = _rule(
    10,
    "Near-duplicate probing",
    Severity.HIGH,
    """One identity sent many inputs that differ from each other by tiny perturbations:
    black-box adversarial search or decision-boundary extraction.""",
    "Throttle or suspend the identity and review its queries.",
    References(
        cwe=("CWE-1039", "CWE-799"),
        owasp=("ML01:2023", "ML05:2023"),
        atlas=("AML.T0043.001", "AML.T0024.002", "AML.T0042"),
        nist=("MEASURE 2.4", "NISTAML.025"),
    ),
    Confidence.MEDIUM,
)
BURST = _rule(
    11,
    "Request burst",
    Severity.HIGH,
    """An identity's request rate in the last interval is far above its own learned baseline
    (robust z-score on the median and MAD of past intervals).""",
    "Check whether the client misbehaves or the credential is abused.",
    _FLOOD,
    Confidence.MEDIUM,
)
CREDENTIAL_SHARING = _rule(
    12,
    "Credential used from many addresses",
    Severity.HIGH,
    """One credential was used from more client addresses within the window than allowed:
    a leaked or shared key.""",
    "Rotate the key and give each client its own.",
    References(cwe=("CWE-522", "CWE-798"), atlas=("AML.T0012", "AML.T0055"), nist=("MANAGE 4.1",)),
    Confidence.MEDIUM,
)
INSIDER = _rule(
    13,
    "Unusual model or hour for this identity",
    Severity.MEDIUM,
    """An identity with an established history reached a model it never used, or was active at
    an hour of the day it never was: possible insider misuse or a stolen credential.""",
    "Confirm the new use with the owner of the identity.",
    _MISUSE,
    Confidence.LOW,
)
EXTRACTION = _rule(
    14,
    "Model extraction pattern",
    Severity.HIGH,
    """High query volume spread over the input space (many out-of-distribution or systematically
    varied inputs) from one identity: the shape of a model-stealing campaign.""",
    "Suspend the identity, lower its budget and harden outputs (top-1 labels only).",
    _EXTRACTION,
    Confidence.MEDIUM,
)
ERROR_RATE = _rule(
    15,
    "Error-rate anomaly",
    Severity.MEDIUM,
    """An identity's share of rejected requests is far above its baseline: enumeration, schema
    probing or fuzzing.""",
    "Review the rejected requests in the audit log.",
    _MISUSE,
    Confidence.MEDIUM,
)
BEHAVIOUR_OUTLIER = _rule(
    16,
    "Behavioural outlier",
    Severity.MEDIUM,
    """An isolation forest trained on the identity's own history (rate, errors, input scores,
    models, addresses per interval) scored the last interval as an outlier.""",
    "Correlate with other detections before acting.",
    _MISUSE,
    Confidence.LOW,
)
MODEL_REFUSED = _rule(
    17,
    "Model refused at load",
    Severity.CRITICAL,
    """A configured model failed its signature, attestation or scan check and was not loaded;
    it is never served until it passes.""",
    "Re-sign the model after review, or fix what the scan found.",
    References(
        cwe=("CWE-494", "CWE-345", "CWE-502"),
        owasp=("ML06:2023", "LLM03:2025"),
        atlas=("AML.T0010.003", "AML.T0011.000"),
        nist=("MANAGE 3.1", "MANAGE 3.2"),
    ),
)
AUDIT_BROKEN = _rule(
    18,
    "Audit chain broken",
    Severity.CRITICAL,
    """Verification of the hash-chained audit log found an edited, deleted, inserted or reordered
    record, or a checkpoint whose signature does not verify.""",
    "Treat the log as tampered: compare with the SIEM copy and the signed checkpoints.",
    References(cwe=("CWE-353", "CWE-345"), atlas=("AML.T0031",), nist=("MANAGE 4.1",)),
)
AUTH_FLOOD = _rule(
    19,
    "Repeated authentication failures",
    Severity.HIGH,
    """A client address failed authentication more often than allowed and is throttled:
    brute force or credential stuffing.""",
    "Block the address upstream if it persists.",
    References(cwe=("CWE-307",), atlas=("AML.T0012",), nist=("MANAGE 4.1",)),
)

RULES: tuple[Rule, ...] = (
    UNAUTHENTICATED,
    INVALID_CREDENTIAL,
    STALE_CREDENTIAL,
    FORBIDDEN,
    RATE_LIMITED,
    BUDGET_EXHAUSTED,
    INPUT_REJECTED,
    MALFORMED_REQUEST,
    OUT_OF_DISTRIBUTION,
    PROBING,
    BURST,
    CREDENTIAL_SHARING,
    INSIDER,
    EXTRACTION,
    ERROR_RATE,
    BEHAVIOUR_OUTLIER,
    MODEL_REFUSED,
    AUDIT_BROKEN,
    AUTH_FLOOD,
)

#: Detection kinds (used by playbooks) and the rule each raises.
DETECTION_RULES: dict[str, Rule] = {
    "ood-input": OUT_OF_DISTRIBUTION,
    "probing": PROBING,
    "burst": BURST,
    "credential-sharing": CREDENTIAL_SHARING,
    "insider": INSIDER,
    "extraction": EXTRACTION,
    "error-rate": ERROR_RATE,
    "behaviour-outlier": BEHAVIOUR_OUTLIER,
    "auth-flood": AUTH_FLOOD,
    "model-refused": MODEL_REFUSED,
}
