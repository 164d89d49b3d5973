"""The integrity rules (``BST-INT``): what a failed signature or attestation check means.

Verification reports every broken link as a :class:`~bastion.core.Finding` of one of these rules,
so ``bastion verify --format sarif`` lands in the same code-scanning view as ``bastion scan``
and ``bastion rules explain BST-INT-002`` documents each failure. This module imports nothing
heavy: the registry loads it for ``bastion rules``.

>>> from bastion.integrity.rules import FILE_CHANGED
>>> FILE_CHANGED.id
'BST-INT-002'
"""

from __future__ import annotations

from bastion.core import References, Severity
from bastion.rules import PATH_ESCAPE, Rule

_SUPPLY_CHAIN = References(
    cwe=("CWE-345", "CWE-347"),
    owasp=("ML06:2023", "LLM03:2025"),
    atlas=("AML.T0010.003", "AML.T0058"),
    nist=("MANAGE 3.1", "MANAGE 3.2"),
)
_TAMPER = References(
    cwe=("CWE-345", "CWE-354"),
    owasp=("ML06:2023", "LLM03:2025", "ML10:2023"),
    atlas=("AML.T0010.003", "AML.T0018"),
    nist=("MANAGE 3.1", "MANAGE 3.2"),
)
_DATA = References(
    cwe=("CWE-345",),
    owasp=("ML02:2023", "LLM04:2025"),
    atlas=("AML.T0010.002", "AML.T0020", "AML.T0019"),
    nist=("MAP 4.1", "MANAGE 3.1"),
)

SIGNATURE_INVALID = Rule(
    "BST-INT-001",
    "Signature does not verify",
    Severity.CRITICAL,
    "integrity",
    doc="""
    The signature file is not a valid signature of this model by a trusted key: the
    cryptographic check failed, the bundle names a different key, the signed statement is
    malformed, or the signature file is unreadable or corrupted. Nothing in the model can be
    trusted to be what was released.
    """,
    remediation="Obtain the model and its signature again from the publisher, and check that "
    "the public key you verify with is the publisher's release key.",
    references=_SUPPLY_CHAIN,
)
FILE_CHANGED = Rule(
    "BST-INT-002",
    "File changed since it was signed",
    Severity.CRITICAL,
    "integrity",
    doc="""
    The file's digest differs from the digest recorded in the signed manifest: its bytes were
    modified, truncated or replaced after signing. A single flipped byte in a weights file can
    plant a backdoor; a changed pickle can execute code on load.
    """,
    remediation="Do not load the model. Restore the file from the signed release and find out "
    "how it was modified.",
    references=_TAMPER,
)
FILE_ADDED = Rule(
    "BST-INT-003",
    "File added since signing",
    Severity.HIGH,
    "integrity",
    doc="""
    A file is present in the model folder that the signed manifest does not list. Loaders pick
    up extra files (an extra ``*.bin`` shard, a ``modeling_*.py`` for ``trust_remote_code``, a
    pickle named like a config), so an unsigned file is as dangerous as a changed one. A file
    renamed after signing shows as one removed and one added.
    """,
    remediation="Remove the file, or re-sign the folder if it was meant to be part of the "
    "release (and add it to --ignore only if no loader ever reads it).",
    references=_TAMPER,
)
FILE_REMOVED = Rule(
    "BST-INT-004",
    "Signed file is missing",
    Severity.HIGH,
    "integrity",
    doc="""
    A file listed in the signed manifest is no longer in the model folder (deleted or renamed).
    Loaders silently fall back to defaults or other files when one is missing (a tokenizer, a
    safetensors index), so the model that runs is not the one that was signed.
    """,
    remediation="Restore the missing file from the signed release.",
    references=_TAMPER,
)
SYMLINK = Rule(
    "BST-INT-005",
    "Symbolic link in a signed folder",
    Severity.HIGH,
    "integrity",
    doc="""
    A symbolic link stands where the signature expects a regular file, or points out of the
    folder. A link swapped in for a weights file makes the loader read whatever the link targets
    (another model, ``/dev/zero``, a file an attacker controls) while the folder still looks
    unchanged. Links are only followed when the signature was made with ``--allow-symlinks``,
    and never out of the folder.
    """,
    remediation="Replace the link with the signed file, or re-sign with --allow-symlinks if "
    "links inside the folder are intended.",
    references=PATH_ESCAPE.merged(_TAMPER),
)
UNSAFE_PATH = Rule(
    "BST-INT-006",
    "Unsafe path in a signed manifest",
    Severity.CRITICAL,
    "integrity",
    doc="""
    The signed manifest names a path with ``..``, an absolute path, or an empty component. A
    verifier that followed it would hash (or a tool that restored it would write) files outside
    the model folder. Such a manifest is rejected whoever signed it.
    """,
    remediation="Do not use this signature; ask the publisher for a well-formed one.",
    references=PATH_ESCAPE,
)
UNREADABLE = Rule(
    "BST-INT-007",
    "File could not be verified",
    Severity.HIGH,
    "integrity",
    doc="""
    A file in the model folder could not be read (permissions, I/O error), or is not a regular
    file (a FIFO, a socket, a device), so its digest could not be compared with the signed one.
    What was not checked cannot be called verified.
    """,
    remediation="Make the file readable by the verifying user, or remove special files from "
    "the folder, then verify again.",
    references=_TAMPER,
)
ATTESTATION_INVALID = Rule(
    "BST-INT-008",
    "Attestation does not verify",
    Severity.CRITICAL,
    "integrity",
    doc="""
    The attestation file is not a valid signed in-toto statement by a trusted key, or it is not a
    bastion attestation. Its claims (which data, which code, which scan) cannot be relied on.
    """,
    remediation="Re-create the attestation with 'bastion attest' and the release key.",
    references=_SUPPLY_CHAIN,
)
SUBJECT_MISMATCH = Rule(
    "BST-INT-009",
    "Model differs from the attested model",
    Severity.CRITICAL,
    "integrity",
    doc="""
    The model's current digest is not the attestation's subject digest: the attestation was made
    for another model, or the model changed after it was attested. The provenance, scan verdict
    and assessment results it records say nothing about the model at hand.
    """,
    remediation="Attest the model you deploy, or deploy the model that was attested.",
    references=_TAMPER,
)
DATASET_MISMATCH = Rule(
    "BST-INT-010",
    "Dataset differs from the attested training data",
    Severity.HIGH,
    "integrity",
    doc="""
    A dataset directory given for checking does not have the digest the attestation recorded for
    it (files added, removed or changed since training), or the attestation records no dataset of
    that name. Either the model was not trained on this data, or the data was modified since:
    poisoned samples are added exactly this way.
    """,
    remediation="Compare the dataset with the one used for training; re-attest only after the "
    "difference is explained.",
    references=_DATA,
)
SCAN_NOT_PASSED = Rule(
    "BST-INT-011",
    "Attested scan did not pass",
    Severity.HIGH,
    "integrity",
    doc="""
    The attestation records a scan of the model whose verdict failed, or records no scan at all
    while the policy requires one. A model that was never scanned, or failed its scan, must not be
    deployed however well it is signed.
    """,
    remediation="Scan the model with 'bastion scan', fix or accept the findings in the policy, "
    "and attest again.",
    references=References(
        cwe=("CWE-345", "CWE-502"),
        owasp=("ML06:2023", "LLM03:2025"),
        atlas=("AML.T0011.000", "AML.T0010.003"),
        nist=("MANAGE 3.2",),
    ),
)
MISSING_EVIDENCE = Rule(
    "BST-INT-012",
    "Required signature or attestation is missing",
    Severity.HIGH,
    "integrity",
    doc="""
    The deployment policy requires a signature (or a scan attestation) from a trusted key, and
    none was found next to the model, or no trusted key is configured. Unsigned is not trusted.
    """,
    remediation="Sign the model ('bastion sign') and attest it ('bastion attest') with a key "
    "listed in [deploy] trusted_keys.",
    references=_SUPPLY_CHAIN,
)
PROVENANCE_MISMATCH = Rule(
    "BST-INT-013",
    "Source or dependencies differ from the attested ones",
    Severity.MEDIUM,
    "integrity",
    doc="""
    The lockfile's digest or the source commit given for checking differs from what the
    attestation recorded: the model is being shipped with other code or other dependencies than
    the ones it was built and evaluated with.
    """,
    remediation="Build and deploy from the attested commit and lockfile, or attest again.",
    references=References(
        cwe=("CWE-345", "CWE-1357"),
        owasp=("ML06:2023", "LLM03:2025"),
        atlas=("AML.T0010.001",),
        nist=("MAP 4.1",),
    ),
)

#: Every integrity rule; the registry adds them (``BUILTIN_RULE_MODULES``).
RULES: tuple[Rule, ...] = (
    SIGNATURE_INVALID,
    FILE_CHANGED,
    FILE_ADDED,
    FILE_REMOVED,
    SYMLINK,
    UNSAFE_PATH,
    UNREADABLE,
    ATTESTATION_INVALID,
    SUBJECT_MISMATCH,
    DATASET_MISMATCH,
    SCAN_NOT_PASSED,
    MISSING_EVIDENCE,
    PROVENANCE_MISMATCH,
)
