"""Errors of the integrity package: each names the file and the problem.

Bad *input* to verification (a tampered model, a corrupted signature) is not an error: it is a
failed check, reported with the rest. These errors are for what stops a command from running at
all: a key that cannot be used, a signature file that is not a signature, an unsafe path.

>>> from bastion.integrity.errors import KeyFileError
>>> str(KeyFileError("release.pub", "not a PEM public key"))
'release.pub: not a PEM public key'
"""

from __future__ import annotations

from bastion.errors import BastionError


class IntegrityError(BastionError):
    """Root of the integrity errors: ``<file>: <problem>``."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class KeyFileError(IntegrityError):
    """A key file is missing, unreadable, of the wrong kind or of an unsupported type."""


class SignatureFormatError(IntegrityError):
    """A signature or attestation file is not a well-formed bundle, envelope or statement."""


class UnsafePathError(IntegrityError):
    """A path leaves the signed folder (``..``, absolute, a symlink pointing outside)."""


class ModelPathError(IntegrityError):
    """The model or dataset to hash is missing, unreadable, or not a file or folder."""


class ReportFormatError(IntegrityError):
    """A scan or assessment report given to ``bastion attest`` cannot be used."""
