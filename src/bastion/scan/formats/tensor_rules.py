"""Reference sets shared by the tensor-container rules (safetensors, GGUF).

Tensor containers cannot run code on load; what goes wrong with them is integrity (loaders that
disagree about what the file holds, bytes no tensor accounts for) and denial of service
(declared sizes that make a loader allocate or read far more than the file contains).
"""

from __future__ import annotations

from bastion.core import References

#: Structure a loader rejects or reads differently from another loader (parser differential).
INTERPRETATION_CONFLICT = References(
    cwe=("CWE-20", "CWE-436"),
    owasp=("ML06:2023", "LLM03:2025"),
    atlas=("AML.T0010.003", "AML.T0076"),
    nist=("MANAGE 3.2",),
)

#: Declared sizes or offsets that drive allocations or reads past what the file holds.
EXCESSIVE_ALLOCATION = References(
    cwe=("CWE-789", "CWE-1284", "CWE-125", "CWE-400"),
    owasp=("ML06:2023", "LLM10:2025"),
    atlas=("AML.T0029", "AML.T0010.003"),
    nist=("MANAGE 3.2",),
)

#: Bytes inside a model file that no declared tensor or field accounts for.
UNACCOUNTED_BYTES = References(
    cwe=("CWE-20", "CWE-436", "CWE-506"),
    owasp=("ML06:2023", "LLM03:2025"),
    atlas=("AML.T0010.003", "AML.T0018.002"),
    nist=("MANAGE 3.2",),
)
