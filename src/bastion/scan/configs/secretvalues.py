"""Is this setting a hard-coded secret? Names and values of environment variables, build
arguments and pipeline parameters.

A *name* is secret-like when one of its parts says so (``HF_TOKEN``, ``DB_PASSWORD``,
``WANDB_API_KEY``, ``client-secret``) and it does not name something about a secret
(``TOKEN_FILE``, ``SECRET_NAME``, ``AWS_ACCESS_KEY_ID``). A *value* is a literal secret when it is
not a reference (``$VAR``, ``$(VAR)``, ``{{ … }}``, a path, a placeholder). Strength follows
the value: a known token format (the ``BST-SEC`` detectors) or a long random string is
:attr:`Strength.STRONG`; any other literal under a password/token/secret name is
:attr:`Strength.WEAK`; a bare ``*_KEY`` name needs a strong value (``CACHE_KEY=model-v1`` is
not a secret).

>>> secret_strength("HF_TOKEN", "hf_" + "Q8mZ2rT5vN1kP7wX3yB6cD9fG4hJ0lS2aE")
<Strength.STRONG: 'strong'>
>>> secret_strength("POSTGRES_PASSWORD", "mlflow"), secret_strength("TOKEN_FILE", "/run/t")
(<Strength.WEAK: 'weak'>, None)
>>> secret_strength("API_KEY", "${API_KEY}"), secret_strength("SORT_KEY", "created_at")
(None, None)
"""

from __future__ import annotations

import re
from enum import Enum

from bastion.scan.configs.helm import PLACEHOLDER
from bastion.scan.secrets.filters import char_classes, is_placeholder
from bastion.scan.secrets.redact import shannon_entropy
from bastion.scan.secrets.scanner import TextKind, find_secrets


class Strength(str, Enum):
    """How sure the value is a real credential."""

    WEAK = "weak"
    STRONG = "strong"


class NameKind(str, Enum):
    """What a secret-like name says about its value."""

    #: password, token, secret, credentials, API/access/private keys: any literal counts.
    SECRET = "secret"
    #: a bare ``*_KEY``: only a random-looking value counts.
    KEY = "key"


_SPLIT = re.compile(r"[_\-.\s]+|(?<=[a-z0-9])(?=[A-Z])")
_SECRET_PARTS = frozenset(
    {"PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "SECRETS", "TOKEN", "CREDENTIAL"}
    | {"CREDENTIALS", "APIKEY", "PRIVATEKEY", "ACCESSKEY", "SECRETKEY"}
)
_KEY_PREFIXES = frozenset(
    {"API", "ACCESS", "PRIVATE", "AUTH", "SECRET", "ACCOUNT", "MASTER", "SIGNING"}
    | {"ENCRYPTION", "LICENSE", "SERVICE", "CLIENT", "APP", "SESSION", "STORAGE"}
)
_NOT_SECRET_SUFFIXES = frozenset(
    {"FILE", "PATH", "DIR", "URL", "URI", "NAME", "ID", "TYPE", "HEADER", "FIELD", "LENGTH"}
    | {"LEN", "SIZE", "REF", "ENV", "VAR", "ARN", "REGION", "HOST", "PORT", "USER", "USERNAME"}
    | {"EXPIRY", "EXPIRES", "TTL", "VERSION", "MODE", "ENABLED", "PREFIX", "SUFFIX", "LIMIT"}
    | {"COUNT", "LOCATION", "ENDPOINT", "TIMEOUT", "SECONDS", "PROVIDER", "POLICY", "FORMAT"}
    | {"KEY", "MOUNT", "ROLE", "SCOPE", "ISSUER", "AUDIENCE", "ALGORITHM", "LIFETIME", "DAYS"}
)
_SHORT_SECRET_PARTS = frozenset({"PWD", "PASS", "PW"})
_NON_VALUES = frozenset(
    {"true", "false", "yes", "no", "on", "off", "none", "null", "nil", "empty", "required"}
)


def name_kind(name: str) -> NameKind | None:
    """Whether ``name`` names a secret, and of which kind."""
    parts = [p.upper() for p in _SPLIT.split(name.strip()) if p]
    if not parts:
        return None
    last = parts[-1]
    if last in _NOT_SECRET_SUFFIXES and last != "KEY":
        return None
    if last == "KEY" and len(parts) > 1 and parts[-2] in {"PUBLIC", "SSH_PUBLIC", "PUB"}:
        return None
    if any(p in _SECRET_PARTS for p in parts):
        return NameKind.SECRET
    if len(parts) > 1 and any(p in _SHORT_SECRET_PARTS for p in parts):
        return NameKind.SECRET
    if last == "KEY" and len(parts) > 1:
        return NameKind.SECRET if parts[-2] in _KEY_PREFIXES else NameKind.KEY
    return None


def is_literal(value: str) -> bool:
    """Whether a value is written out rather than referenced or left to fill in."""
    text = value.strip()
    if not text or text.lower() in _NON_VALUES:
        return False
    if text[0] in "$%<@&*~/." or text.startswith(("file:", "vault:", "env:", "secret:", "arn:")):
        return False
    if any(mark in text for mark in ("${", "$(", "{{", "}}", PLACEHOLDER)):
        return False
    return not is_placeholder(text)


def random_looking(value: str) -> bool:
    """A long string with the character mix and entropy of generated credentials."""
    return len(value) >= 16 and shannon_entropy(value) >= 3.5 and char_classes(value) >= 2


def secret_strength(name: str, value: str) -> Strength | None:
    """How strongly ``name=value`` looks like a hard-coded secret (``None``: it does not).

    Any name counts when the value has a known token format; a random-looking value counts
    under a secret-like name only (``MODEL_ID=org/Model-8B-Instruct`` is not a secret).
    """
    if not is_literal(value) or "://" in value:
        return None  # credentials inside URLs are the secrets analyzer's (BST-SEC) finding
    # NOTE: every token format the detectors know is at least 16 characters long.
    if len(value) >= 16 and find_secrets(value, kind=TextKind.PROSE):
        return Strength.STRONG
    kind = name_kind(name)
    if kind is None:
        return None
    if random_looking(value):
        return Strength.STRONG
    if kind is NameKind.SECRET and len(value.strip()) >= 3:
        return Strength.WEAK
    return None
