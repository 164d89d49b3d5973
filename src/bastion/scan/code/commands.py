"""Reading shell command lines found in code and notebooks: installs, servers, downloads.

Command lines appear as notebook ``!`` / ``%pip`` magics, ``%%bash`` cells and literal
``subprocess``/``os.system`` arguments. They are split like a POSIX shell would (``shlex``), never
run, and checked for three things: ``pip``/``conda`` installs of unpinned packages, servers
exposed on every interface without authentication (Jupyter, MLflow, Streamlit, ``http.server``,
uvicorn), and downloads over plain ``http://``.

>>> [i.kind for i in analyze_command("pip install torch transformers==4.44.0")]
['unpinned-install']
>>> [i.detail for i in analyze_command("mlflow server --host 0.0.0.0")][0][:32]
'mlflow server on 0.0.0.0 without'
"""

from __future__ import annotations

import itertools
import re
import shlex
from dataclasses import dataclass
from urllib.parse import urlsplit

_SEPARATORS = re.compile(r"\s*(?:&&|\|\||;|\||\n)\s*")
_ALL_INTERFACES = frozenset({"0.0.0.0", "::", "*", "[::]", ""})
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})
_PIP_OPTIONS_WITH_VALUE = frozenset(
    {
        "-r",
        "--requirement",
        "-c",
        "--constraint",
        "-e",
        "--editable",
        "-i",
        "--index-url",
        "--extra-index-url",
        "-f",
        "--find-links",
        "-t",
        "--target",
        "--prefix",
        "--root",
        "--src",
        "--upgrade-strategy",
        "--trusted-host",
        "--platform",
        "--python-version",
        "--implementation",
        "--abi",
        "--cache-dir",
        "--log",
        "--proxy",
        "--cert",
        "--client-cert",
        "--timeout",
        "--retries",
        "--exists-action",
        "--progress-bar",
        "--only-binary",
        "--no-binary",
        "--global-option",
        "--config-settings",
        "-C",
        "--python",
        "-p",
        "-n",
        "--name",
        "--channel",
    }
)
_MAX_COMMAND = 16_384


@dataclass(frozen=True)
class CommandIssue:
    """Something wrong with one command line."""

    kind: str  # "unpinned-install" | "exposed-server" | "http-download" | "http-index"
    detail: str
    subject: str


def split_command(command: str) -> list[list[str]]:
    """The simple commands of a command line, each as its words."""
    segments = []
    for part in _SEPARATORS.split(command[:_MAX_COMMAND]):
        if not part.strip():
            continue
        try:
            words = shlex.split(part, comments=True)
        except ValueError:
            words = part.split()
        if words:
            segments.append(words)
    return segments


def analyze_command(command: str) -> list[CommandIssue]:
    """Every issue in a command line (possibly several commands joined by ``&&``, ``|``…)."""
    issues: list[CommandIssue] = []
    for words in split_command(command):
        words = _strip_prefixes(words)
        if not words:
            continue
        issues.extend(_installs(words))
        exposed = _exposed_server(words)
        if exposed:
            issues.append(CommandIssue("exposed-server", exposed, words[0]))
        issues.extend(_downloads(words))
    return issues


def _strip_prefixes(words: list[str]) -> list[str]:
    """Drop ``sudo``, ``env X=1``, ``python -m`` so the tool name comes first."""
    i = 0
    while i < len(words):
        word = words[i]
        if word in {"sudo", "env", "nohup", "exec", "time", "!", "%", "%%bash", "%%sh"}:
            i += 1
        elif "=" in word and not word.startswith("-") and i + 1 < len(words):
            i += 1
        elif word.rsplit("/", 1)[-1].startswith("python") and words[i + 1 : i + 2] == ["-m"]:
            i += 2
        else:
            break
    rest = words[i:]
    if rest and rest[0].startswith("%"):
        rest = [rest[0][1:], *rest[1:]]
    return rest


def _installs(words: list[str]) -> list[CommandIssue]:
    tool = words[0].rsplit("/", 1)[-1]
    if tool in {"uv"} and words[1:2] == ["pip"]:
        words = words[1:]
        tool = "pip"
    if tool not in {"pip", "pip3", "conda", "mamba", "micromamba"} or "install" not in words[1:3]:
        return []
    issues = []
    args = words[words.index("install") + 1 :]
    skip_next = False
    for arg in args:
        if skip_next:
            skip_next = False
            continue
        if arg in _PIP_OPTIONS_WITH_VALUE:
            skip_next = True
            continue
        if arg.startswith("-"):
            if arg.startswith(("--index-url=", "--extra-index-url=", "-i=")):
                issues.extend(_insecure_index(arg.split("=", 1)[1]))
            continue
        if not _pinned(arg, conda=tool != "pip" and tool != "pip3"):
            issues.append(CommandIssue("unpinned-install", f"{tool} install {arg}", arg))
    for flag, value in itertools.pairwise(args):
        if flag in {"-i", "--index-url", "--extra-index-url"}:
            issues.extend(_insecure_index(value))
    return issues


def _pinned(spec: str, *, conda: bool) -> bool:
    lowered = spec.lower()
    if lowered.startswith((".", "/", "~")) or lowered.endswith((".whl", ".tar.gz", ".zip")):
        return True
    if "://" in lowered or lowered.startswith("git+"):
        ref = spec.rsplit("@", 1)[-1] if "@" in spec.split("://", 1)[-1] else ""
        return bool(re.fullmatch(r"[0-9a-f]{40}(#.*)?", ref))
    if "==" in spec:
        return "*" not in spec.split("==", 1)[1]
    return conda and re.search(r"[^<>!~]=\d", spec) is not None


def _insecure_index(url: str) -> list[CommandIssue]:
    if url.lower().startswith("http://") and not _is_local(url):
        return [CommandIssue("http-index", f"package index over plain HTTP: {_safe(url)}", url)]
    return []


def _flag(words: list[str], *names: str) -> str | None:
    """The value of ``--name value`` or ``--name=value`` (last one wins)."""
    found = None
    for i, word in enumerate(words):
        for name in names:
            if word == name and i + 1 < len(words):
                found = words[i + 1]
            elif word.startswith(name + "="):
                found = word.split("=", 1)[1]
    return found


def _exposed_server(words: list[str]) -> str | None:
    tool = words[0].rsplit("/", 1)[-1]
    sub = words[1] if len(words) > 1 else ""
    if tool.startswith("jupyter") and (tool != "jupyter" or sub in {"notebook", "lab", "server"}):
        ip = _flag(words, "--ip", "--NotebookApp.ip", "--ServerApp.ip")
        token = _flag(words, "--NotebookApp.token", "--ServerApp.token", "--IdentityProvider.token")
        if ip in _ALL_INTERFACES and ip is not None and token is not None and not token.strip():
            return f"jupyter on {ip or 'all interfaces'} with an empty token"
    elif tool == "mlflow" and sub in {"server", "ui"}:
        host = _flag(words, "--host", "-h")
        if host in _ALL_INTERFACES and host and _flag(words, "--app-name") != "basic-auth":
            return f"mlflow {sub} on {host} without --app-name basic-auth"
    elif tool == "streamlit" and sub == "run":
        address = _flag(words, "--server.address")
        if address in _ALL_INTERFACES and address:
            return f"streamlit on {address} (no authentication)"
    elif tool == "http.server":
        bind = _flag(words, "--bind", "-b")
        if bind is None or bind in _ALL_INTERFACES:
            return "python -m http.server serves the directory on all interfaces"
    elif tool == "uvicorn":
        host = _flag(words, "--host")
        if host in _ALL_INTERFACES and host:
            return f"uvicorn on {host} (no authentication in the command)"
    return None


def _downloads(words: list[str]) -> list[CommandIssue]:
    tool = words[0].rsplit("/", 1)[-1]
    if tool not in {"wget", "curl", "aria2c", "gdown"}:
        return []
    return [
        CommandIssue("http-download", f"{tool} downloads {_safe(word)} over plain HTTP", word)
        for word in words[1:]
        if word.lower().startswith("http://") and not _is_local(word)
    ]


def _is_local(url: str) -> bool:
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return False
    return host in _LOCAL_HOSTS or host.endswith(".localhost")


def _safe(url: str) -> str:
    """A URL without its user-info part (which may hold a password)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<url>"
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{parts.path}"[:200]
