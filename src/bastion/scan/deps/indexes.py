"""Package-index settings: extra indexes (dependency confusion), plain-HTTP indexes, trusted hosts.

>>> settings = requirements_settings("--extra-index-url https://pkgs.example/simple\\nnumpy\\n")
>>> [(s.option, s.line) for s in settings]
[('extra-index-url', 1)]

Settings are read from requirements files (``--index-url``, ``--extra-index-url``,
``--trusted-host``, ``--find-links``, ``--require-hashes``), pip configuration files
(``pip.conf``/``pip.ini``, any section) and ``pyproject.toml`` (``[tool.uv]`` index settings,
``[[tool.uv.index]]``, ``[[tool.poetry.source]]``). uv's extra indexes are only a dependency-
confusion risk under the ``unsafe-*`` index strategies: its default stops at the first index that
has a name.
"""

from __future__ import annotations

import configparser
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bastion.core import Severity
from bastion.scan.deps.issues import DepIssue
from bastion.scan.deps.lockfiles._requirements import _logical_lines
from bastion.scan.deps.rules import EXTRA_INDEX, PLAIN_HTTP_INDEX, TRUSTED_HOST

_OPTIONS = {
    "-i": "index-url",
    "--index-url": "index-url",
    "--extra-index-url": "extra-index-url",
    "--trusted-host": "trusted-host",
    "-f": "find-links",
    "--find-links": "find-links",
    "--require-hashes": "require-hashes",
}
_PIP_KEYS = ("index-url", "extra-index-url", "trusted-host", "find-links", "require-hashes")


@dataclass(frozen=True)
class IndexSetting:
    """One index-related setting: which option, its value, and its line."""

    option: str
    value: str
    line: int | None
    #: Extra indexes only confuse resolution under pip-like "best version anywhere" rules.
    confusable: bool = True


def requirements_settings(text: str) -> list[IndexSetting]:
    """Index options of one requirements file (its own lines; includes are separate files)."""
    found = []
    for number, content, _ in _logical_lines(text):
        if not content.startswith("-"):
            continue
        try:
            parts = shlex.split(content, comments=False)
        except ValueError:
            continue
        index = 0
        while index < len(parts):
            flag, _, inline = parts[index].partition("=")
            option = _OPTIONS.get(flag)
            if option == "require-hashes":
                found.append(IndexSetting(option, "", number))
            elif option is not None:
                value = inline or (parts[index + 1] if index + 1 < len(parts) else "")
                if not inline:
                    index += 1
                found.append(IndexSetting(option, value, number))
            index += 1
    return found


def _line_of(text: str, needle: str, start: int = 0) -> int | None:
    position = text.find(needle, start)
    return text.count("\n", 0, position) + 1 if position >= 0 else None


def pip_config_settings(text: str) -> list[IndexSetting]:
    """Index settings of a ``pip.conf``/``pip.ini`` (every section: global, install…)."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return []
    found: list[IndexSetting] = []
    for section in parser.sections():
        header = _line_of(text, f"[{section}]") or 1
        for key in _PIP_KEYS:
            if not parser.has_option(section, key):
                continue
            raw = parser.get(section, key)
            values = raw.split() if key != "require-hashes" else [raw]
            start = sum(len(line) + 1 for line in text.splitlines()[: header - 1])
            match = re.compile(rf"^[ \t]*{re.escape(key)}[ \t]*[=:]", re.M).search(text, start)
            line = text.count("\n", 0, match.start()) + 1 if match else header
            found.extend(IndexSetting(key, value, line) for value in values)
    return found


def pyproject_settings(data: dict[str, Any], text: str) -> list[IndexSetting]:
    """Index settings in ``[tool.uv]`` and ``[[tool.poetry.source]]``."""
    tool = data.get("tool")
    if not isinstance(tool, dict):
        return []
    found: list[IndexSetting] = []
    uv = tool.get("uv")
    if isinstance(uv, dict):
        unsafe = str(uv.get("index-strategy", "")).startswith("unsafe")
        for key, option in (
            ("index-url", "index-url"),
            ("extra-index-url", "extra-index-url"),
            ("find-links", "find-links"),
            ("allow-insecure-host", "trusted-host"),
        ):
            value = uv.get(key)
            items = value if isinstance(value, list) else [value] if value else []
            found.extend(
                IndexSetting(option, str(item), _line_of(text, str(item)), confusable=unsafe)
                for item in items
            )
        for entry in uv.get("index", []) if isinstance(uv.get("index"), list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("url"), str):
                option = "index-url" if entry.get("default") else "extra-index-url"
                found.append(
                    IndexSetting(option, entry["url"], _line_of(text, entry["url"]), unsafe)
                )
    poetry = tool.get("poetry")
    sources = poetry.get("source") if isinstance(poetry, dict) else None
    # NOTE: Poetry looks names up per source priority, not "best version anywhere".
    found.extend(
        IndexSetting("index-url", entry["url"], _line_of(text, entry["url"]), False)
        for entry in (sources if isinstance(sources, list) else [])
        if isinstance(entry, dict) and isinstance(entry.get("url"), str)
    )
    return found


def _host(url: str) -> str:
    return re.sub(r"^[^@]*@", "", urlsplit(url).netloc) or url


def setting_issues(
    settings: Iterable[IndexSetting], source: str, *, hashes_everywhere: bool
) -> list[DepIssue]:
    """Issues for extra indexes, plain-HTTP locations and trusted hosts."""
    issues = []
    for setting in settings:
        value = setting.value
        shown = re.sub(r"(?<=://)[^/@\s]+@", "***@", value)
        if setting.option in ("index-url", "extra-index-url", "find-links"):
            if urlsplit(value).scheme.lower() == "http":
                issues.append(
                    DepIssue(
                        PLAIN_HTTP_INDEX,
                        source,
                        setting.line,
                        f"{setting.option} {shown} is plain HTTP: every package installed from "
                        "it can be replaced in transit.",
                        evidence=f"{setting.option} {shown}",
                    )
                )
            if setting.option == "extra-index-url" and setting.confusable:
                mitigated = " (every requirement here is pinned with hashes)"
                issues.append(
                    DepIssue(
                        EXTRA_INDEX,
                        source,
                        setting.line,
                        f"extra index {_host(value)}: the installer takes the highest version of "
                        "a name from any index, so a package published on PyPI under one of "
                        "your private names replaces it"
                        + (mitigated if hashes_everywhere else "")
                        + ".",
                        evidence=f"extra-index-url {shown}",
                        severity=Severity.LOW if hashes_everywhere else None,
                    )
                )
        elif setting.option == "trusted-host":
            issues.append(
                DepIssue(
                    TRUSTED_HOST,
                    source,
                    setting.line,
                    f"trusted-host {value}: packages from this host are accepted without a valid "
                    "TLS certificate.",
                    evidence=f"trusted-host {value}",
                )
            )
    return issues
