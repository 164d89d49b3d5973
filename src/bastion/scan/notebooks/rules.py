"""Rules specific to Jupyter notebooks (``BST-NB-NNN``): installs in magics, and what saved
outputs leak (secrets, credentials in tracebacks, personal data).

Code cells are checked with the ``BST-CODE`` rules and their source with the ``BST-SEC`` rules;
these cover what only a notebook has.
"""

from __future__ import annotations

from bastion.core import Confidence, References, Severity
from bastion.rules import Rule

_DEPENDENCY = References(
    cwe=("CWE-1104", "CWE-829"),
    owasp=("ML06:2023", "LLM03:2025"),
    atlas=("AML.T0010.001", "AML.T0011.001"),
    nist=("MAP 4.1", "NISTAML.05"),
)
_LEAK = References(
    cwe=("CWE-532", "CWE-798"),
    owasp=("LLM02:2025",),
    atlas=("AML.T0055",),
    nist=("MEASURE 2.7", "MANAGE 4.1"),
)
_PRIVACY = References(
    cwe=("CWE-359", "CWE-532"),
    owasp=("LLM02:2025",),
    atlas=("AML.T0035", "AML.T0057"),
    nist=("MEASURE 2.10",),
)
_CLEAR = (
    "Clear outputs before committing (jupyter nbconvert --clear-output, or nbstripout as a "
    "pre-commit hook); "
)


def _rule(
    number: int,
    title: str,
    severity: Severity,
    doc: str,
    remediation: str,
    references: References,
    *,
    category: str = "code",
    confidence: Confidence = Confidence.HIGH,
) -> Rule:
    return Rule(
        f"BST-NB-{number:03d}",
        title,
        severity,
        category,
        doc=doc,
        remediation=remediation,
        references=references,
        confidence=confidence,
    )


UNPINNED_INSTALL = _rule(
    1,
    "Notebook installs an unpinned package",
    Severity.MEDIUM,
    """
    ``!pip install``, ``%pip install`` or ``%conda install`` of a package without an exact
    version (``==``; a commit for VCS URLs). Every run of the notebook installs whatever the
    index serves that day, including a hijacked or typosquatted release, into the kernel that
    holds your data and credentials. Requirement files (``-r``) are checked by the dependency
    analyzer.
    """,
    "Pin exact versions (pkg==1.2.3), better with hashes from a lock file, or install from a "
    "reviewed requirements file.",
    _DEPENDENCY,
    category="dependencies",
)
OUTPUT_SECRET = _rule(
    2,
    "Secret printed in a saved notebook output",
    Severity.HIGH,
    """
    A credential (an API token, a key, a password in a URL) appears in a cell's saved output:
    ``print(os.environ)``, a ``!cat ~/.netrc``, a logged request. Outputs are committed with the
    notebook and rendered by every viewer (GitHub, nbviewer), so the value is public even when the
    code never mentions it. The value is redacted in this report.
    """,
    _CLEAR + "then revoke and rotate the credential.",
    _LEAK,
    category="secrets",
)
TRACEBACK_CREDENTIALS = _rule(
    3,
    "Credentials in a saved traceback",
    Severity.HIGH,
    """
    An error output (a Python traceback) shows a credential: a connection string with a
    password, a token in a request URL, a ``password=``/``api_key=`` argument in a frame. Stack
    traces print the arguments and source lines that failed, which is how credentials that the
    code keeps out of sight still end up committed.
    """,
    _CLEAR + "then rotate the credential and keep it out of call arguments that fail loudly.",
    _LEAK,
    category="secrets",
)
OUTPUT_EMAIL = _rule(
    4,
    "E-mail address in a saved notebook output",
    Severity.LOW,
    """
    A saved output shows an e-mail address (placeholder domains such as ``example.com`` are
    ignored). Printing records of a dataset commits personal data with the notebook.
    """,
    _CLEAR + "or print aggregates and masked samples instead of raw records.",
    _PRIVACY,
    category="data",
    confidence=Confidence.MEDIUM,
)
OUTPUT_PHONE = _rule(
    5,
    "Phone number in a saved notebook output",
    Severity.LOW,
    """
    A saved output shows a phone number (international ``+CC …`` or North American formats,
    10 to 15 digits).
    """,
    _CLEAR + "or mask personal fields before displaying data.",
    _PRIVACY,
    category="data",
    confidence=Confidence.MEDIUM,
)
OUTPUT_CARD = _rule(
    6,
    "Payment card number in a saved notebook output",
    Severity.HIGH,
    """
    A saved output shows a payment card number: a known issuer prefix and length and a valid
    Luhn checksum (processors' published test numbers are ignored). Card data in a repository
    is a PCI DSS incident.
    """,
    _CLEAR + "and remove card numbers from the data the notebook reads.",
    _PRIVACY,
    category="data",
)
OUTPUT_IBAN = _rule(
    7,
    "IBAN in a saved notebook output",
    Severity.MEDIUM,
    """
    A saved output shows an International Bank Account Number with its country's length and a
    valid ISO 7064 mod-97 checksum.
    """,
    _CLEAR + "and mask account numbers before displaying data.",
    _PRIVACY,
    category="data",
)

NOTEBOOK_RULES: tuple[Rule, ...] = (
    UNPINNED_INSTALL,
    OUTPUT_SECRET,
    TRACEBACK_CREDENTIALS,
    OUTPUT_EMAIL,
    OUTPUT_PHONE,
    OUTPUT_CARD,
    OUTPUT_IBAN,
)
PII_RULES: dict[str, Rule] = {
    "email": OUTPUT_EMAIL,
    "phone": OUTPUT_PHONE,
    "card": OUTPUT_CARD,
    "iban": OUTPUT_IBAN,
}
