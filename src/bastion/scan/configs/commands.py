"""What shell commands do, as the checks need to know: ``pip install`` and its pins, ``chmod``
modes, downloads, remote scripts piped into interpreters, package caches.

Shared by the Dockerfile checks (``RUN``), the pipeline checks (component commands) and the
MLflow checks (artifact directories made world-writable).

>>> from bastion.scan.configs.shell import invocation, parse_script
>>> inv = invocation(parse_script("pip install torch==2.3.0 'transformers>=4' ./pkg")[0])
>>> [spec for spec, _ in pip_install(inv).unpinned]
['transformers>=4']
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from bastion.scan.configs.shell import Command, Invocation, Word, invocation

_PIP_PROGRAMS = re.compile(r"^pip(?:3(?:\.\d+)?)?$")
_PYTHON = re.compile(r"^python(?:\d(?:\.\d+)?)?$")
_PIP_VALUE_OPTIONS = frozenset(
    {"-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-i", "--index-url"}
    | {"--extra-index-url", "-f", "--find-links", "--trusted-host", "-t", "--target"}
    | {"--prefix", "--root", "--src", "--upgrade-strategy", "--platform", "--python-version"}
    | {"--implementation", "--abi", "--progress-bar", "--cache-dir", "--log", "--log-file"}
    | {"--proxy", "--retries", "--timeout", "--exists-action", "--cert", "--client-cert"}
    | {"--global-option", "--install-option", "--config-settings", "-C", "--only-binary"}
    | {"--no-binary", "--report", "--python", "-p", "--root-user-action", "--use-feature"}
    | {"--keyring-provider", "--index", "--default-index", "--override", "--index-strategy"}
)
_EXACT_PIN = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9._-]*(?:\[[^\]]*\])?\s*===?\s*[A-Za-z0-9._+!-]+\s*(?:;.*)?$"
)
_VCS_COMMIT = re.compile(r"@[0-9a-fA-F]{40}(?:[#&].*)?$")
_LOCAL_ARCHIVE = (".whl", ".tar.gz", ".zip", ".tgz", ".tar.bz2")
BUILD_TOOLS = frozenset({"pip", "setuptools", "wheel", "uv", "pip-tools", "build"})
SHELLS = frozenset(
    {"sh", "bash", "zsh", "dash", "ksh", "ash", "fish", "python", "python3", "perl", "ruby"}
    | {"node", "pwsh", "source", ".", "eval"}
)
_FETCHERS = frozenset({"curl", "wget", "fetch", "aria2c"})
_FETCH_IN_EXPANSION = re.compile(r"(?:\$\(|<\(|`)\s*(?:\S*/)?(?:curl|wget)\b")
_URL = re.compile(r"\b(https?)://([^/\s'\"]+)")
_LOOPBACK_HOSTS = ("localhost", "127.", "[::1]", "0.0.0.0")


@dataclass(frozen=True)
class PipInstall:
    """One ``pip install`` (or ``uv pip install``) and what it asks for."""

    #: (requirement, offset) of each requirement named on the command line without a pin.
    unpinned: tuple[tuple[str, int], ...]
    #: Every requirement named on the command line (pinned or not).
    requirements: tuple[str, ...]
    no_cache: bool
    extra_index_urls: tuple[str, ...]
    trusted_hosts: tuple[str, ...]
    #: ``--index-url``/``--extra-index-url`` values over plain http://.
    http_indexes: tuple[str, ...]
    start: int


def pip_install(inv: Invocation) -> PipInstall | None:
    """The ``pip install`` an invocation runs, if it is one."""
    args = _pip_args(inv)
    if args is None:
        return None
    unpinned: list[tuple[str, int]] = []
    requirements: list[str] = []
    extra: list[str] = []
    trusted: list[str] = []
    http: list[str] = []
    no_cache = hashes = False
    i = 0
    while i < len(args):
        word = args[i]
        text = word.text
        if text.startswith("-"):
            name, eq, value = text.partition("=")
            if not eq and name in _PIP_VALUE_OPTIONS and i + 1 < len(args):
                i += 1
                value = args[i].text
            if name == "--extra-index-url":
                extra.append(value)
            if name == "--trusted-host":
                trusted.append(value)
            if name in {"-i", "--index-url", "--extra-index-url", "--index", "--default-index"}:
                if value.startswith("http://") and not _loopback(value):
                    http.append(value)
            no_cache = no_cache or name in {"--no-cache-dir", "--no-cache"}
            hashes = hashes or name == "--require-hashes"
        elif not word.dynamic:
            requirements.append(text)
            if not hashes and not is_pinned(text):
                unpinned.append((text, word.start))
        i += 1
    if hashes:
        unpinned = []
    return PipInstall(
        tuple(unpinned),
        tuple(requirements),
        no_cache,
        tuple(extra),
        tuple(trusted),
        tuple(http),
        inv.argv[0].start,
    )


def _pip_args(inv: Invocation) -> list[Word] | None:
    texts = inv.texts()
    program = inv.program
    if _PIP_PROGRAMS.match(program):
        rest = 1
    elif _PYTHON.match(program):
        if "-m" not in texts[1:4]:
            return None
        at = texts.index("-m", 1)
        if at + 1 >= len(texts) or not _PIP_PROGRAMS.match(texts[at + 1]):
            return None
        rest = at + 2
    elif program == "uv" and texts[1:2] == ["pip"]:
        rest = 2
    else:
        return None
    if texts[rest : rest + 1] != ["install"]:
        return None
    return list(inv.argv[rest + 1 :])


def is_pinned(spec: str) -> bool:
    """Whether a requirement names one exact artifact (or is a local path, not judged here)."""
    text = spec.strip()
    if not text or text.startswith((".", "/", "~", "file:")) or "$" in text:
        return True
    if text.endswith(_LOCAL_ARCHIVE) and "://" not in text:
        return True
    if "://" in text:
        return "#sha256=" in text or bool(_VCS_COMMIT.search(text.split("#", 1)[0]))
    if "*" in text:
        return False
    return bool(_EXACT_PIN.match(text))


def requirement_name(spec: str) -> str:
    """The project name of a requirement (lower case), best effort."""
    match = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec)
    return match.group(1).lower().replace("_", "-") if match else spec.lower()


def chmod_world_writable(inv: Invocation) -> tuple[str, list[str]] | None:
    """``(mode, paths)`` when ``inv`` is a chmod that grants write to others."""
    if inv.program != "chmod":
        return None
    operands = [w.text for w in inv.argv[1:] if not w.text.startswith("-") or _octal(w.text)]
    if not operands:
        return None
    mode, paths = operands[0], operands[1:]
    return (mode, paths) if mode_world_writable(mode) else None


def mode_world_writable(mode: str) -> bool:
    """Whether a chmod mode (octal or symbolic) gives write permission to others."""
    if _octal(mode):
        return bool(int(mode[-1]) & 2)
    for clause in mode.split(","):
        match = re.fullmatch(r"([ugoa]*)([+=])([rwxXst]*)", clause)
        if match and "w" in match.group(3) and any(c in match.group(1) for c in "oa"):
            return True
    return False


def _octal(text: str) -> bool:
    return bool(re.fullmatch(r"[0-7]{3,4}", text))


def fetched_urls(inv: Invocation) -> list[str]:
    """The URLs a curl/wget invocation fetches."""
    if inv.program not in _FETCHERS:
        return []
    return [w.text for w in inv.argv[1:] if _URL.match(w.text)]


def plain_http_urls(urls: Sequence[str]) -> list[str]:
    """The URLs that use http:// to a host other than loopback."""
    return [u for u in urls if u.startswith("http://") and not _loopback(u)]


def _loopback(url: str) -> bool:
    host = url.split("://", 1)[-1]
    return host.startswith(_LOOPBACK_HOSTS)


def piped_to_shell(commands: Sequence[Command]) -> Iterator[tuple[Command, str]]:
    """Commands that download and execute in one step, with a short description."""
    fetch_in_pipeline: dict[int, Command] = {}
    for command in commands:
        inv = invocation(command)
        program = inv.program
        if program in _FETCHERS:
            fetch_in_pipeline.setdefault(command.pipeline, command)
            continue
        fetcher = fetch_in_pipeline.get(command.pipeline)
        if command.piped and fetcher is not None and program in SHELLS:
            yield command, f"{invocation(fetcher).program} … | {program}"
        elif program in SHELLS and any(
            _FETCH_IN_EXPANSION.search(w.text) for w in inv.argv[1:] if w.dynamic
        ):
            yield command, f"{program} with a downloaded script"


def runs(commands: Sequence[Command]) -> Iterator[Invocation]:
    """The invocations of a parsed script."""
    return (invocation(c) for c in commands)
