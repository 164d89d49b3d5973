"""Engine-level rules: files that cannot be recognized, disguise their format, or escape the root.

These rules are raised by the scan engine itself, not by a format analyzer; the ``GeneralRules``
class only carries them into the registry so ``bastion rules`` lists them.
"""

from __future__ import annotations

from bastion.core import Confidence, References, Severity
from bastion.rules import MALFORMED_ARTIFACT, PATH_ESCAPE, UNSAFE_ARTIFACT, Rule
from bastion.scan.blob import Blob
from bastion.scan.interface import AnalysisContext, Analyzer

UNRECOGNIZED_MODEL = Rule(
    "BST-SCN-001",
    "Model file in an unrecognized format",
    Severity.MEDIUM,
    "models",
    doc="""
    The file has a model or serialized-object extension (``.bin``, ``.pt``, ``.pkl``, …) but its
    bytes match no format bastion can analyze, so nothing about it could be verified. Unknown is
    not safe: it is reported, and listed as skipped, instead of being passed as clean.
    """,
    remediation="Find out what wrote the file; convert it to a format that can be verified.",
    references=MALFORMED_ARTIFACT,
    confidence=Confidence.MEDIUM,
)

DISGUISED_FORMAT = Rule(
    "BST-SCN-002",
    "File content does not match its extension",
    Severity.HIGH,
    "models",
    doc="""
    The file's extension promises a format that cannot run code (``.safetensors``, ``.onnx``,
    ``.gguf``, ``.json``, ``.npy``…) but its content is a pickle or an archive holding one.
    Tools that trust the extension load it with the wrong expectations, and scanners that pick
    analyzers by extension skip it. bastion detects formats by content and analyzes it as what
    it really is.
    """,
    remediation="Do not trust the file's name; treat it as the format its content shows.",
    references=UNSAFE_ARTIFACT,
)

SYMLINK_ESCAPE = Rule(
    "BST-SCN-003",
    "Symbolic link points outside the scanned directory",
    Severity.MEDIUM,
    "models",
    doc="""
    A link inside the scanned tree points outside it. bastion does not follow it (the target was
    not scanned), and whoever loads the directory reads whatever the link points to, for example
    a file swapped in after the scan. A link to a system or credential location (``/etc``,
    ``/proc``, ``/dev``, ``/run/secrets``, ``.ssh``, ``.aws``, ``.netrc``, …) is reported as
    ``high``: loaders follow links, so loading the model reads that file into a tensor.
    """,
    remediation="Replace the link with the file it should contain.",
    references=PATH_ESCAPE,
)

UNREADABLE_FILE = Rule(
    "BST-SCN-004",
    "File could not be read",
    Severity.LOW,
    "models",
    doc="""
    The file exists but could not be opened or read (permissions, I/O error). It was not checked.
    """,
    remediation="Fix the file's permissions and scan again.",
    references=References(cwe=("CWE-20",)),
    confidence=Confidence.HIGH,
)

GENERAL_RULES = (UNRECOGNIZED_MODEL, DISGUISED_FORMAT, SYMLINK_ESCAPE, UNREADABLE_FILE)

#: Absolute locations no model file lives in: a link there reads system state or secrets.
_SENSITIVE_ROOTS = (
    "/etc",
    "/proc",
    "/sys",
    "/boot",
    "/dev",
    "/run/secrets",
    "/var/run/secrets",
)
#: Under a sensitive root, but where people do keep models (shared memory).
_ORDINARY_ROOTS = ("/dev/shm",)
#: Path parts that name credentials or shell state wherever they are (home directories; not
#: ``/root`` itself, the home of most container images, where models and caches live too).
_SENSITIVE_PARTS = frozenset(
    {
        ".ssh",
        ".aws",
        ".azure",
        ".gnupg",
        ".kube",
        ".docker",
        ".netrc",
        ".git-credentials",
        ".pgpass",
        ".bash_history",
        ".zsh_history",
        ".npmrc",
        ".pypirc",
        ".env",
    }
)


def sensitive_link_target(target: str, resolved: str) -> bool:
    """Whether a link's target (as written or resolved) is a system or credential location.

    Loaders follow links, so a model folder whose ``weights.bin`` links to ``/etc/shadow`` or
    ``~/.ssh/id_rsa`` makes whoever loads it read that file into a tensor. Relative links into a
    blob store (Hugging Face cache snapshots) and links to other data folders are not this.
    """
    for path in (target, resolved):
        norm = path.replace("\\", "/")
        if _under(norm, _SENSITIVE_ROOTS) and not _under(norm, _ORDINARY_ROOTS):
            return True
        parts = [part for part in norm.split("/") if part]
        if any(part in _SENSITIVE_PARTS for part in parts):
            return True
    return False


def _under(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == root or path.startswith(root + "/") for root in roots)


#: Extensions of formats that cannot carry code, mapped to the formats their content may have.
SAFE_FORMAT_EXTENSIONS: dict[str, frozenset[str]] = {
    ".safetensors": frozenset({"safetensors"}),
    ".onnx": frozenset({"onnx"}),
    ".gguf": frozenset({"gguf"}),
    ".json": frozenset({"text"}),
    ".npy": frozenset({"numpy"}),
    ".txt": frozenset({"text"}),
    ".csv": frozenset({"text"}),
    ".parquet": frozenset({"unknown", "parquet"}),
    ".h5": frozenset({"hdf5"}),
    ".hdf5": frozenset({"hdf5"}),
    ".png": frozenset({"image"}),
    ".jpg": frozenset({"image"}),
    ".jpeg": frozenset({"image"}),
    ".yaml": frozenset({"text"}),
    ".yml": frozenset({"text"}),
    ".msgpack": frozenset({"unknown"}),
    ".tflite": frozenset({"tflite"}),
}

#: Formats that run code when loaded (what a disguise would hide).
CODE_CARRYING_FORMATS = frozenset({"pickle", "pytorch-legacy", "pytorch-zip", "joblib-zfile"})


class GeneralRules(Analyzer):
    """Carries the engine-level rules into the registry; analyzes nothing itself."""

    name = "general"
    formats = ()
    rules = GENERAL_RULES

    def analyze(self, blob: Blob, ctx: AnalysisContext) -> None:  # pragma: no cover - no formats
        """Never called: the class registers no format."""
        return None
