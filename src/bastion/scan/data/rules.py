"""``BST-DATA`` rules: personal data columns, spreadsheet formula injection, and pickles hidden in
the metadata of Parquet and Arrow files.

Secrets in data cells are reported with the secrets rules (``BST-SEC``), and pickled objects
found in metadata are also analyzed by the pickle rules (``BST-PKL``), which say what they run.
"""

from __future__ import annotations

from bastion.core import Confidence, References, Severity
from bastion.rules import Rule

_PRIVACY = References(
    cwe=("CWE-359",),
    owasp=("LLM02:2025",),
    atlas=("AML.T0057", "AML.T0024.000"),
    nist=("MEASURE 2.10", "MAP 4.1"),
)
_DATA_SUPPLY_CHAIN = References(
    cwe=("CWE-502",),
    owasp=("ML06:2023", "LLM03:2025", "LLM04:2025"),
    atlas=("AML.T0010.002", "AML.T0011.000", "AML.T0019"),
    nist=("MANAGE 3.2", "NISTAML.051"),
)

PERSONAL_DATA_COLUMN = Rule(
    "BST-DATA-001",
    "Personal data column in a data file",
    Severity.MEDIUM,
    "data",
    doc="""
    A column of a CSV/TSV, JSON Lines, Parquet or Arrow file holds personal data in most of the
    sampled cells: e-mail addresses or phone numbers (medium), payment card numbers (valid issuer
    prefix, length and Luhn checksum) or IBANs (country length and ISO 7064 mod-97 checksum)
    (high). Data committed to a repository is copied to every clone and CI runner, and a model
    trained on it can memorize and leak it (membership inference, extraction). The detectors are
    the notebook-output ones, so test card numbers and placeholder domains are not reported;
    evidence is masked. A column is reported when at least 30% of its sampled non-empty cells
    match (or any cell when its header names the kind, e.g. ``email``).
    """,
    remediation=(
        "Remove or pseudonymize the column (hash with a secret salt, tokenize, or drop it), keep "
        "raw personal data out of the repository, and document the dataset's lawful basis."
    ),
    references=_PRIVACY,
)
FORMULA_INJECTION = Rule(
    "BST-DATA-002",
    "Spreadsheet formula in a CSV cell",
    Severity.LOW,
    "data",
    confidence=Confidence.MEDIUM,
    doc="""
    CSV cells that start with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage return before
    them) and call a function are evaluated as formulas when the file is opened in a
    spreadsheet (CSV injection). Functions that reach the network or run commands
    (``HYPERLINK``, ``WEBSERVICE``, ``IMPORTXML``…, DDE ``cmd|…!``) are medium: opening the
    exported dataset can exfiltrate its other cells or run a program; other formulas are low.
    Plain negative numbers, phone numbers and ``===`` separators are not formulas.
    """,
    remediation=(
        "Escape cells that start with = + - @ (prefix a single quote) when writing CSV, and "
        "find out where these values came from: a dataset should not contain formulas."
    ),
    references=References(
        cwe=("CWE-1236",),
        owasp=("ML06:2023",),
        atlas=("AML.T0010.002",),
        nist=("MAP 4.1",),
    ),
)
METADATA_PICKLE = Rule(
    "BST-DATA-003",
    "Pickle hidden in data file metadata",
    Severity.HIGH,
    "data",
    doc="""
    A key-value metadata entry of a Parquet or Arrow file (file, schema or column metadata) holds
    a pickle (raw, or base64-encoded), where pandas, pyarrow and Hugging Face datasets keep JSON.
    Whatever reads that entry with ``pickle.loads`` runs the code in it, so the data file carries
    code. The pickle is analyzed as well (``BST-PKL`` findings on
    ``<parquet-metadata:KEY>``) and never loaded.
    """,
    remediation=(
        "Rewrite the file without the entry (read the columns, write a new file) and do not "
        "unpickle metadata; find out who produced the file."
    ),
    references=_DATA_SUPPLY_CHAIN,
)
PY_EXTENSION_TYPE = Rule(
    "BST-DATA-004",
    "Arrow Python extension type (pickled, CVE-2023-47248)",
    Severity.HIGH,
    "data",
    doc="""
    A column declares the ``arrow.py_extension_type`` extension, whose type description is a
    pickle: pyarrow 0.14.0 to 14.0.0 unpickled it when the file was read (CVE-2023-47248,
    GHSA-5wvp-7f3h-6wmm), so opening the dataset ran its code. bastion reads the schema with a
    pyarrow that does not, and never unpickles; the pickle itself is analyzed by the pickle rules.
    """,
    remediation=(
        "Upgrade pyarrow to 14.0.1 or later everywhere the file may be read (or install "
        "pyarrow-hotfix), and re-create the file without the Python extension type."
    ),
    references=_DATA_SUPPLY_CHAIN.merged(References(cwe=("CWE-1395",))),
)

DATA_RULES: tuple[Rule, ...] = (
    PERSONAL_DATA_COLUMN,
    FORMULA_INJECTION,
    METADATA_PICKLE,
    PY_EXTENSION_TYPE,
)
