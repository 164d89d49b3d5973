"""Redaction of secret values: what a report may show about a credential it found.

A finding must let a person find and recognise the credential without handing it to whoever reads
the report (a CI log, a SARIF upload, a pull-request comment). Long random tokens keep their first
four characters (usually the public provider prefix), their length and a 32-bit hash prefix, so two
different keys in one file stay distinguishable and a baseline survives line moves; short or
guessable values (passwords) show only their length, because a prefix or an unsalted hash of a
weak password helps guess it.

>>> redact("hf_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7").startswith("hf_a…[37 chars, sha256:")
True
>>> redact("hunter2!")
'[redacted, 8 chars]'
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter

#: Values shorter than this never show a prefix or a hash.
_MIN_REVEAL_LENGTH = 16
#: Bits of Shannon entropy per character below which a value is treated as guessable.
_MIN_REVEAL_ENTROPY = 3.0


def shannon_entropy(value: str) -> float:
    """Shannon entropy in bits per character of ``value`` (0 for the empty string)."""
    if not value:
        return 0.0
    total = len(value)
    return -sum((n / total) * math.log2(n / total) for n in Counter(value).values())


def redact(secret: str) -> str:
    """The only form of a secret that leaves the scanner."""
    length = len(secret)
    if length >= _MIN_REVEAL_LENGTH and shannon_entropy(secret) >= _MIN_REVEAL_ENTROPY:
        digest = hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        return f"{secret[:4]}…[{length} chars, sha256:{digest}]"
    return f"[redacted, {length} chars]"
