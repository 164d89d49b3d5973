"""Heuristics that keep obvious non-secrets out of the report: placeholders, references, paths.

They judge the *value*, never the file name: a real-looking key in ``tests/fixtures.py`` is still a
real-looking key (it may well be live), so nothing here looks at where the text came from.

>>> is_placeholder("AKIAIOSFODNN7EXAMPLE")
True
>>> is_placeholder("hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")
True
>>> is_placeholder("hf_Q8mZ2rT5vN1kP7wX3yB6cD9fG4hJ0lS2aE")
False
"""

from __future__ import annotations

import re

_PLACEHOLDER_WORDS = (
    "example",
    "xxxx",
    "****",
    "....",
    "your",
    "changeme",
    "change_me",
    "change-me",
    "placeholder",
    "dummy",
    "redacted",
    "fake",
    "sample",
    "insert",
    "replace",
    "notreal",
    "not-a-real",
    "not_a_real",
    "secret_here",
    "token_here",
    "key_here",
    "<",
    ">",
    "${",
    "{{",
    "%(",
    "%s",
)
_SEQUENCES = ("0123456789", "123456789", "abcdefghij", "abcdef123456", "1234abcd")
_REFERENCE_PREFIXES = ("/", "./", "../", "~/", "file:", "env:", "vault:", "arn:", "projects/")
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
_IDENTIFIER = re.compile(r"^[a-z][a-z_.\-]*$")


def is_placeholder(value: str) -> bool:
    """Whether a value is a documented example, a template or a filler rather than a secret."""
    lowered = value.lower()
    if any(word in lowered for word in _PLACEHOLDER_WORDS):
        return True
    if any(seq in lowered for seq in _SEQUENCES):
        return True
    return _low_variety(value)


def _low_variety(value: str) -> bool:
    """``aaaaaaaa…``, ``00000000…``, ``abababab…``: fillers, not random output."""
    core = value.split("_", 1)[-1] if len(value) > 12 else value
    return len(core) >= 8 and len(set(core)) <= max(3, len(core) // 8)


def is_reference(value: str) -> bool:
    """A value that names where a secret comes from instead of containing it."""
    if not value:
        return True
    if value[0] in "$%{<@&*" or value.endswith(")"):
        return True
    if _ENV_NAME.match(value) or _IDENTIFIER.match(value):
        return True
    return value.startswith(_REFERENCE_PREFIXES)


def char_classes(value: str) -> int:
    """How many of lower case, upper case, digits and symbols a value uses."""
    return sum(
        (
            any(c.islower() for c in value),
            any(c.isupper() for c in value),
            any(c.isdigit() for c in value),
            any(not c.isalnum() for c in value),
        )
    )


def looks_random_token(value: str) -> bool:
    """Mixed case and digits, as base62 tokens are (a 34-character one lacks them rarely)."""
    return (
        any(c.islower() for c in value)
        and any(c.isupper() for c in value)
        and any(c.isdigit() for c in value)
    )
