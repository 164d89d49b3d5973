"""Integrity and provenance: sign, verify and attest models and datasets; the AI bill of materials.

>>> from pathlib import Path
>>> from bastion.integrity.deploy import DeploymentPolicy, verify_for_deployment
>>> policy = DeploymentPolicy(trusted_keys=(Path("release.pub"),))
>>> decision = verify_for_deployment(Path("models/bert"), policy)    # doctest: +SKIP
>>> decision.allowed                                                  # doctest: +SKIP
True

Public modules: ``keys`` (keygen, loading, fingerprints), ``manifest`` (the signed manifest),
``hashing`` and ``cache`` (parallel, incremental hashing), ``signing`` and ``verify`` (model-signing
compatible signatures), ``attestation`` and ``chain`` (in-toto release attestations and their
checks), ``bom`` (CycloneDX 1.6 AI-BOM), ``deploy`` (the deployment gate), ``rules`` (``BST-INT``)
and ``errors``. Modules starting with ``_`` are internal. Nothing here imports ``cryptography``,
``model_signing`` or ``cyclonedx`` until it is needed; a missing one names the ``sign`` extra.
"""

from __future__ import annotations

from bastion.integrity.errors import (
    IntegrityError,
    KeyFileError,
    ModelPathError,
    ReportFormatError,
    SignatureFormatError,
    UnsafePathError,
)

__all__ = [
    "IntegrityError",
    "KeyFileError",
    "ModelPathError",
    "ReportFormatError",
    "SignatureFormatError",
    "UnsafePathError",
]
