"""Finding secrets in a text: token patterns, credentials in URLs, secret-named assignments.

:func:`find_secrets` is the one entry point; code, notebook and config analyzers all call it on
text they already decoded, so a file is read once. What it returns carries offsets and a redacted
evidence string only: the raw value of a secret never leaves this module.

>>> hits = find_secrets('HF_TOKEN = "hf_' + 'Q8mZ2rT5vN1kP7wX3yB6cD9fG4hJ0lS2aE"\\n')
>>> [(h.rule.id, h.label) for h in hits]
[('BST-SEC-013', 'Hugging Face token')]
>>> "Q8mZ" in hits[0].evidence
False
"""

from __future__ import annotations

import bisect
import dataclasses
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from urllib.parse import urlsplit

from detect_secrets.plugins.high_entropy_strings import (
    Base64HighEntropyString,
    HexHighEntropyString,
)

from bastion.rules import Rule
from bastion.scan.secrets import rules as R
from bastion.scan.secrets.detectors import PATTERNS, URL_CREDENTIALS_RE, TokenPattern
from bastion.scan.secrets.filters import char_classes, is_placeholder, is_reference
from bastion.scan.secrets.redact import redact


class TextKind(str, Enum):
    """How values are written in the text, which decides what counts as an assignment."""

    #: Source code: values must be quoted string literals.
    CODE = "code"
    #: ``.env``, YAML, TOML, INI, properties: unquoted ``KEY=value`` / ``key: value`` too.
    CONFIG = "config"
    #: Prose, logs and notebook outputs: like config, but only token formats and URLs.
    PROSE = "prose"


@dataclass(frozen=True)
class SecretHit:
    """One secret found: where (offsets in the scanned text), what kind, and redacted evidence."""

    rule: Rule
    label: str
    start: int
    end: int
    evidence: str
    name: str | None = None


_BASE64 = Base64HighEntropyString()
_HEX = HexHighEntropyString()
_HEX_CHARS = frozenset("0123456789abcdefABCDEF")

_KEYWORDS = (
    "secret",
    "token",
    "passw",
    "passwd",
    "pwd",
    "apikey",
    "api_key",
    "api-key",
    "access_key",
    "accesskey",
    "private_key",
    "auth_key",
    "credential",
)
_NAME_RE = (
    r"(?P<name>[A-Za-z0-9_.\-]*(?:secret|token|passw(?:or)?d|passwd|pwd|api[_-]?key"
    r"|access[_-]?key|private[_-]?key|auth[_-]?key|credential)[A-Za-z0-9_.\-]*)"
)
_CODE_ASSIGN = re.compile(
    _NAME_RE
    + r"""["']?\]?\s*(?::\s*[A-Za-z_][\w\[\], .|]{0,40})?\s*(?:=|:|:=|=>)\s*[rbuRBU]?"""
    + r"""(?P<q>["'])(?P<value>[^"'\n\\]{6,256})(?P=q)""",
    re.IGNORECASE,
)
_CONFIG_ASSIGN = re.compile(
    r"^\s*(?:export\s+|set\s+|ENV\s+|ARG\s+|-\s+)?[\"']?"
    + _NAME_RE
    + r"""["']?\s*[:=]\s*["']?(?P<value>[^\s"'#,;]{6,256})["']?\s*(?:[#;].*)?$""",
    re.IGNORECASE | re.MULTILINE,
)
_NOT_SECRET_NAMES = re.compile(
    r"tokens|tokeniz|token_?type|token_?id|_?(?:url|uri|path|file|dir|name|env|var|header|field"
    r"|prefix|suffix|pattern|regex|len|length|count|size|limit|format|kind|mode|policy|ttl"
    r"|expir\w*|timeout|hash|salt|endpoint|host|port|user(?:name)?|id)$|^(?:max|min|num|n)_",
    re.IGNORECASE,
)
_MAX_WINDOW = 2048
_NEWLINE = re.compile("\n")
#: Lines longer than this are checked at their ends only (``LONG_LINE_KEEP`` characters each).
MAX_LINE = 1 << 20
LONG_LINE_KEEP = 1 << 16
_TRACKING_URI_HINT = ("mlflow", "tracking_uri", "tracking-uri")


def find_secrets(
    text: str, *, kind: TextKind = TextKind.CODE, check: Callable[[], None] | None = None
) -> list[SecretHit]:
    """Every secret in ``text``, in text order, overlapping matches reported once.

    ``check`` is called between detectors (a deadline); it may raise to stop the scan. Lines
    longer than :data:`MAX_LINE` are checked at their two ends only (see :func:`long_lines`).
    """
    text, segments = _compact(text) if len(text) > MAX_LINE else (text, [(0, 0)])
    lowered = text.lower()
    present: dict[str, bool] = {}
    hits: list[SecretHit] = []
    for pattern in PATTERNS:
        haystack = lowered if pattern.anchors_lower else text
        if not any(_present(anchor, haystack, present) for anchor in pattern.anchors):
            continue
        hits.extend(_token_hits(pattern, text))
        if check is not None:
            check()
    if "://" in text:
        hits.extend(_url_credentials(text, lowered))
    if kind is not TextKind.PROSE and any(k in lowered for k in _KEYWORDS):
        hits.extend(_assignments(text, lowered, kind))
    return _remap(_dedupe(hits), segments)


def _present(anchor: str, haystack: str, memo: dict[str, bool]) -> bool:
    """``anchor in haystack``, each distinct anchor searched once per text."""
    found = memo.get(anchor)
    if found is None:
        found = memo[anchor] = anchor in haystack
    return found


def long_lines(text: str) -> list[tuple[int, int]]:
    """(1-based line number, length) of every line longer than :data:`MAX_LINE` characters."""
    return [(number, end - start) for number, start, end in _long_line_spans(text)]


def _long_line_spans(text: str) -> list[tuple[int, int, int]]:
    if len(text) <= MAX_LINE:
        return []
    found = []
    start = 0
    for number, match in enumerate(_NEWLINE.finditer(text), start=1):
        if match.start() - start > MAX_LINE:
            found.append((number, start, match.start()))
        start = match.end()
    if len(text) - start > MAX_LINE:
        found.append((text.count("\n") + 1, start, len(text)))
    return found


def _compact(text: str) -> tuple[str, list[tuple[int, int]]]:
    """The text without the middle of enormous lines, and how to map offsets back.

    Such lines are minified code or embedded data: a search through them costs seconds per
    megabyte, and the analyzers report them as only partly checked. The kept pieces are joined
    with a newline so no token can straddle a cut. Returns ``(text, [(new_start, old_start)])``.
    """
    spans = _long_line_spans(text)
    if not spans:
        return text, [(0, 0)]
    parts: list[str] = []
    segments: list[tuple[int, int]] = []
    cursor = new = 0
    for _, start, end in spans:
        for lo, hi in ((cursor, start + LONG_LINE_KEEP), (end - LONG_LINE_KEEP, end)):
            segments.append((new, lo))
            parts.append(text[lo:hi])
            parts.append("\n")
            new += hi - lo + 1
        cursor = end
    segments.append((new, cursor))
    parts.append(text[cursor:])
    return "".join(parts), segments


def _remap(hits: list[SecretHit], segments: list[tuple[int, int]]) -> list[SecretHit]:
    if len(segments) == 1:
        return hits
    starts = [new for new, _ in segments]
    moved = []
    for hit in hits:
        new, old = segments[bisect.bisect_right(starts, hit.start) - 1]
        shift = old - new
        moved.append(dataclasses.replace(hit, start=hit.start + shift, end=hit.end + shift))
    return moved


def _token_hits(pattern: TokenPattern, text: str) -> Iterator[SecretHit]:
    for match in pattern.regex.finditer(text):
        start, end = match.span(pattern.group)
        if start < 0:
            continue
        value = text[start:end]
        if pattern.validate is not None and not pattern.validate(text, start, end):
            continue
        if pattern.placeholder_check and is_placeholder(value):
            continue
        if pattern.rule is R.PRIVATE_KEY:
            evidence = value.strip("- ")
        else:
            evidence = redact(value)
        yield SecretHit(pattern.rule, pattern.label, start, end, evidence)


def _url_credentials(text: str, lowered: str) -> Iterator[SecretHit]:
    for match in URL_CREDENTIALS_RE.finditer(text):
        start, end = match.span(1)
        password = text[start:end]
        if (
            is_placeholder(password)
            or is_reference(password)
            or password.lower()
            in {
                "password",
                "pass",
                "passwd",
                "pwd",
                "secret",
                "token",
            }
        ):
            continue
        line_start = text.rfind("\n", 0, start) + 1
        line_end = text.find("\n", end)
        line = lowered[line_start : line_end if line_end >= 0 else len(text)]
        scheme_at = text.rfind("://", line_start, start)
        url_start = scheme_at
        while url_start > line_start and (
            text[url_start - 1].isalnum() or text[url_start - 1] in "+.-"
        ):
            url_start -= 1
        host = _host_of(text[url_start : end + 1 + 200].split()[0] if url_start >= 0 else "")
        mlflow = any(hint in line for hint in _TRACKING_URI_HINT)
        rule = R.MLFLOW_CREDENTIALS if mlflow else R.URL_CREDENTIALS
        label = "MLflow tracking URI with credentials" if mlflow else "password in URL"
        evidence = f"{host or 'URL'} password {redact(password)}"
        yield SecretHit(rule, label, start, end, evidence)


def _host_of(url: str) -> str:
    try:
        return urlsplit(url.strip("\"'`()<>[],;")).hostname or ""
    except ValueError:
        return ""


def _assignments(text: str, lowered: str, kind: TextKind) -> Iterator[SecretHit]:
    """Secret-named settings with credential-like values, found line by line near keywords."""
    seen_lines: set[int] = set()
    for keyword in _KEYWORDS:
        pos = lowered.find(keyword)
        while pos >= 0:
            line_start = lowered.rfind("\n", 0, pos) + 1
            if line_start not in seen_lines:
                seen_lines.add(line_start)
                line_end = lowered.find("\n", pos)
                if line_end < 0:
                    line_end = len(text)
                lo = max(line_start, pos - _MAX_WINDOW)
                hi = min(line_end, pos + _MAX_WINDOW)
                yield from _assignments_in(text, lo, hi, kind)
            pos = lowered.find(keyword, pos + len(keyword))


def _assignments_in(text: str, lo: int, hi: int, kind: TextKind) -> Iterator[SecretHit]:
    regexes = (_CODE_ASSIGN,) if kind is TextKind.CODE else (_CODE_ASSIGN, _CONFIG_ASSIGN)
    for regex in regexes:
        for match in regex.finditer(text, lo, hi):
            name, value = match.group("name"), match.group("value")
            if _credential_like(name, value):
                start, end = match.span("value")
                yield SecretHit(
                    R.GENERIC_SECRET,
                    f"secret assigned to {name}",
                    start,
                    end,
                    redact(value),
                    name=name,
                )


def _credential_like(name: str, value: str) -> bool:
    """Whether a value assigned to a secret-named setting is plausibly the secret itself."""
    if _NOT_SECRET_NAMES.search(name):
        return False
    if is_placeholder(value) or is_reference(value) or " " in value:
        return False
    lowered_value, lowered_name = value.lower(), name.lower()
    if lowered_value in lowered_name or lowered_name.strip("_-.") in lowered_value:
        return False
    if "://" in value or (value.count(".") >= 2 and "/" in value):
        return False
    if any(word in lowered_name for word in ("passw", "pwd")):
        return len(value) >= 6 and char_classes(value) >= 2
    if any(word in lowered_value for word in ("token", "secret", "key", "password")):
        return False  # a label such as "RpcGroupManagementToken", not the secret itself
    if not any(c.isdigit() for c in value):
        return False  # generated keys and tokens have digits (a 16-char one lacks them ~3%)
    if len(value) >= 32 and all(c in _HEX_CHARS for c in value):
        return _HEX.calculate_shannon_entropy(value) > 3.0
    return len(value) >= 16 and _BASE64.calculate_shannon_entropy(value) > 3.7


def _dedupe(hits: list[SecretHit]) -> list[SecretHit]:
    """Keep, among overlapping hits, the one listed first (the more specific detector).

    Hits arrive in detector order; the result is in text order. Clusters of overlapping hits
    are resolved by priority, so the cost stays ``O(n log n)`` however many hits a text has.
    """
    ordered = sorted(enumerate(hits), key=lambda item: (item[1].start, item[0]))
    kept: list[SecretHit] = []
    cluster: list[tuple[int, SecretHit]] = []
    cluster_end = -1
    for priority, hit in ordered:
        if cluster and hit.start >= cluster_end:
            kept.extend(_resolve(cluster))
            cluster = []
        cluster.append((priority, hit))
        cluster_end = max(cluster_end, hit.end) if len(cluster) > 1 else hit.end
    kept.extend(_resolve(cluster))
    kept.sort(key=lambda h: (h.start, h.rule.id))
    return kept


def _resolve(cluster: list[tuple[int, SecretHit]]) -> list[SecretHit]:
    chosen: list[SecretHit] = []
    for _, hit in sorted(cluster, key=lambda item: item[0]):
        if not any(hit.start < k.end and k.start < hit.end for k in chosen):
            chosen.append(hit)
    return chosen
