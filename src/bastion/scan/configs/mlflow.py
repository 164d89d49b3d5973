"""MLflow server settings wherever they are written: command lines, environment, basic_auth.ini.

:func:`argv_issues` reads an exec-form command (Kubernetes ``command``/``args``, Dockerfile
``CMD ["mlflow", …]``), :func:`script_issues` a shell script or shell-form command; both find
``mlflow server``/``mlflow ui``/``mlflow models serve`` (also ``python -m mlflow``) and judge its
options together with the environment the same file defines (``MLFLOW_HOST``,
``MLFLOW_GUNICORN_OPTS``…). An option whose value is a variable, or a bare ``$VAR`` word that
could carry ``--app-name``, makes the setting unknown: nothing is reported on a guess.

>>> issues = argv_issues([("mlflow", 3), ("server", 3), ("--host", 3), ("0.0.0.0", 3)], {},
...                      Subject("Dockerfile"))
>>> [(i.rule.id, i.line) for i in issues]
[('BST-MLF-001', 3)]
"""

from __future__ import annotations

import configparser
import posixpath
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from bastion.core import Severity
from bastion.scan.configs import rules_mlflow as R
from bastion.scan.configs.commands import chmod_world_writable
from bastion.scan.configs.issues import Issue, Subject
from bastion.scan.configs.secretvalues import is_literal
from bastion.scan.configs.shell import Invocation, invocation, parse_script
from bastion.scan.secrets.redact import redact

DEFAULT_ADMIN_USERNAME = "admin"
DEFAULT_ADMIN_PASSWORD = "password1234"  # MLflow's documented default, detected
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]", "ip6-localhost"})
_FLAGS = frozenset(
    {"--serve-artifacts", "--no-serve-artifacts", "--artifacts-only", "--dev", "--no-conda"}
    | {"--disable-security-middleware", "--enable-mlserver", "--install-mlflow"}
)
_SHORT = {"-h": "--host", "-p": "--port", "-w": "--workers", "-m": "--model-uri"}
_SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "ksh"})
_WORLD_WRITABLE_DIRS = ("/tmp", "/var/tmp", "/dev/shm")
_CREDENTIAL_VARS = ("MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")


@dataclass(frozen=True)
class _Call:
    """One MLflow invocation: the subcommand, its options, and whether words are unknown."""

    command: str
    options: dict[str, str]
    dynamic: bool
    text: str


def argv_issues(
    argv: Sequence[tuple[str, int]],
    env: Mapping[str, str],
    subject: Subject,
    world_writable: Collection[str] = (),
) -> list[Issue]:
    """Issues of an exec-form command: ``[(word, line), …]`` (``sh -c SCRIPT`` is followed)."""
    words = [w for w, _ in argv]
    if not words:
        return []
    if posixpath.basename(words[0]) in _SHELLS and "-c" in words[1:3]:
        at = words.index("-c", 1)
        if at + 1 < len(argv):
            script, line = argv[at + 1]
            return script_issues(script, lambda _offset: line, env, subject, world_writable)
    if "mlflow" not in " ".join(words):
        return []
    call = _parse([(w, "$" in w) for w in words])
    return _call_issues(call, env, subject, argv[0][1], world_writable) if call else []


def script_issues(
    script: str,
    line_of: Callable[[int], int],
    env: Mapping[str, str],
    subject: Subject,
    world_writable: Collection[str] = (),
) -> list[Issue]:
    """Issues of every MLflow invocation in a shell script (``line_of`` maps offsets)."""
    if "mlflow" not in script:
        return []
    issues: list[Issue] = []
    for command in parse_script(script):
        inv = invocation(command)
        call = _parse([(w.text, w.dynamic) for w in inv.argv])
        if call is not None:
            scope = {**env, **inv.env}
            issues.extend(
                _call_issues(call, scope, subject, line_of(command.start), world_writable)
            )
    return issues


def world_writable_paths(invocations: Sequence[Invocation]) -> set[str]:
    """Paths made world-writable by ``chmod`` in a script."""
    paths: set[str] = set()
    for inv in invocations:
        found = chmod_world_writable(inv)
        if found is not None:
            paths.update(p.rstrip("/") or "/" for p in found[1])
    return paths


def env_issues(
    env: Sequence[tuple[str, str, int]], subject: Subject
) -> tuple[list[Issue], set[str]]:
    """Issues for MLflow credentials among ``(name, value, line)``; and the names reported."""
    values = {name: (value, line) for name, value, line in env}
    issues: list[Issue] = []
    handled: set[str] = set()
    user = values.get("MLFLOW_TRACKING_USERNAME", ("", 0))[0]
    for name in _CREDENTIAL_VARS:
        if name not in values:
            continue
        value, line = values[name]
        if not is_literal(value):
            continue
        handled.add(name)
        if value == DEFAULT_ADMIN_PASSWORD and user == DEFAULT_ADMIN_USERNAME:
            issues.append(
                Issue(
                    R.DEFAULT_ADMIN,
                    subject,
                    line,
                    "uses MLflow's default admin credentials (admin / password1234).",
                    f"{name}=[MLflow default]",
                )
            )
        else:
            issues.append(
                Issue(
                    R.TRACKING_PASSWORD,
                    subject,
                    line,
                    f"{name} is set to a literal value (redacted).",
                    f"{name}={redact(value)}",
                )
            )
    return issues, handled


def ini_issues(text: str, subject: Subject) -> list[Issue]:
    """MLflow ``basic_auth.ini`` (``[mlflow]`` section) that keeps the default admin password."""
    if "[mlflow]" not in text or "admin_password" not in text:
        return []
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return []
    if not parser.has_section("mlflow"):
        return []
    section = parser["mlflow"]
    user = section.get("admin_username", "").strip()
    password = section.get("admin_password", "").strip()
    if user != DEFAULT_ADMIN_USERNAME or password != DEFAULT_ADMIN_PASSWORD:
        return []
    match = re.search(r"^[ \t]*admin_password[ \t]*[=:]", text, re.MULTILINE)
    line = text.count("\n", 0, match.start()) + 1 if match else None
    return [
        Issue(
            R.DEFAULT_ADMIN,
            subject,
            line,
            "basic-auth keeps MLflow's default admin credentials (admin / password1234).",
            "admin_username = admin, admin_password = [MLflow default]",
        )
    ]


def _parse(words: Sequence[tuple[str, bool]]) -> _Call | None:
    if not words:
        return None
    texts = [w for w, _ in words]
    program = posixpath.basename(texts[0])
    rest = list(words[1:])
    if re.match(r"^python(\d(\.\d+)?)?$", program):
        if texts[1:3] != ["-m", "mlflow"]:
            return None
        rest = list(words[3:])
    elif program != "mlflow":
        return None
    while rest and rest[0][0].startswith("-"):  # group options: --env-file FILE
        flag = rest.pop(0)[0]
        if flag == "--env-file" and rest:
            rest.pop(0)
    names = [w for w, _ in rest]
    if names[:1] in (["server"], ["ui"]):
        command, args = names[0], rest[1:]
    elif names[:2] == ["models", "serve"]:
        command, args = "models serve", rest[2:]
    else:
        return None
    options: dict[str, str] = {}
    dynamic = False
    i = 0
    while i < len(args):
        text, dyn = args[i]
        name, eq, value = text.partition("=")
        name = _SHORT.get(name, name)
        if name.startswith("--"):
            if not eq and name not in _FLAGS and i + 1 < len(args):
                i += 1
                value = args[i][0]
            options[name] = value
        elif dyn:
            dynamic = True  # "$OPTS": may hold any option, --app-name included
        i += 1
    shown = " ".join(["mlflow", command, *(w for w, _ in args)])
    return _Call(command, options, dynamic, shown[:160])


def _call_issues(
    call: _Call,
    env: Mapping[str, str],
    subject: Subject,
    line: int,
    world_writable: Collection[str],
) -> list[Issue]:
    issues: list[Issue] = []
    opts = call.options
    host = opts.get("--host", env.get("MLFLOW_HOST", "127.0.0.1"))
    exposed = "$" not in host and host not in _LOOPBACK
    if call.command == "models serve":
        if exposed:
            issues.append(
                Issue(
                    R.EXPOSED_WITHOUT_AUTH,
                    subject,
                    line,
                    f"`mlflow models serve` listens on {host}; the scoring server has no "
                    "authentication.",
                    call.text,
                )
            )
        return issues
    if exposed and "--app-name" not in opts and not call.dynamic:
        issues.append(
            Issue(
                R.EXPOSED_WITHOUT_AUTH,
                subject,
                line,
                f"`mlflow {call.command}` listens on {host} without --app-name basic-auth: "
                "anyone who reaches it can read experiments and replace registered models.",
                call.text,
            )
        )
    issues.extend(_middleware(call, env, subject, line))
    issues.extend(_artifacts(call, env, subject, line, world_writable))
    issues.extend(_timeouts(call, env, subject, line))
    return issues


def _middleware(call: _Call, env: Mapping[str, str], subject: Subject, line: int) -> list[Issue]:
    opts = call.options
    found: list[str] = []
    if "--disable-security-middleware" in opts or env.get(
        "MLFLOW_SERVER_DISABLE_SECURITY_MIDDLEWARE", ""
    ).lower() in {"true", "1"}:
        found.append("security middleware disabled")
    for option, variable in (
        ("--allowed-hosts", "MLFLOW_SERVER_ALLOWED_HOSTS"),
        ("--cors-allowed-origins", "MLFLOW_SERVER_CORS_ALLOWED_ORIGINS"),
    ):
        value = opts.get(option, env.get(variable, ""))
        if "*" in (v.strip() for v in value.split(",")):
            found.append(f"{option} *")
    if not found:
        return []
    return [Issue(R.SECURITY_MIDDLEWARE_OFF, subject, line, "; ".join(found) + ".", call.text)]


def _artifacts(
    call: _Call, env: Mapping[str, str], subject: Subject, line: int, world: Collection[str]
) -> list[Issue]:
    opts = call.options
    if "--no-serve-artifacts" in opts:
        return []
    for option, variable in (
        ("--artifacts-destination", "MLFLOW_ARTIFACTS_DESTINATION"),
        ("--default-artifact-root", "MLFLOW_DEFAULT_ARTIFACT_ROOT"),
    ):
        location = opts.get(option, env.get(variable, ""))
        path = re.sub(r"^file:(//)?", "", location)
        if not path or "$" in path or re.match(r"^[a-z][a-z0-9+.-]*:", path):
            continue
        path = posixpath.normpath(path)
        why = _world_writable(path, world)
        if why:
            return [
                Issue(
                    R.WORLD_WRITABLE_ARTIFACTS,
                    subject,
                    line,
                    f"serves artifacts from {path}, {why}.",
                    f"{option} {path}",
                )
            ]
    return []


def _world_writable(path: str, world: Collection[str]) -> str:
    for tmp in _WORLD_WRITABLE_DIRS:
        if path == tmp or path.startswith(tmp + "/"):
            return f"under the world-writable {tmp}"
    for made in world:
        if path == made or path.startswith(made.rstrip("/") + "/") or made.startswith(path + "/"):
            return f"made world-writable by chmod ({made})"
    return ""


def _timeouts(call: _Call, env: Mapping[str, str], subject: Subject, line: int) -> list[Issue]:
    issues: list[Issue] = []
    gunicorn = call.options.get("--gunicorn-opts", env.get("MLFLOW_GUNICORN_OPTS", ""))
    timeout = _option_value(gunicorn, ("--timeout", "-t"))
    if timeout is not None and (timeout == 0 or timeout >= 3600):
        what = "disables the worker timeout" if timeout == 0 else f"sets a {timeout} s timeout"
        issues.append(
            Issue(R.TIMEOUTS_DISABLED, subject, line, f"gunicorn {what}.", f"gunicorn {gunicorn}")
        )
    uvicorn = call.options.get("--uvicorn-opts", env.get("MLFLOW_UVICORN_OPTS", ""))
    keep_alive = _option_value(uvicorn, ("--timeout-keep-alive",))
    if keep_alive is not None and keep_alive >= 600:
        issues.append(
            Issue(
                R.TIMEOUTS_DISABLED,
                subject,
                line,
                f"uvicorn keeps idle connections for {keep_alive} s.",
                f"uvicorn {uvicorn}",
                severity=Severity.LOW,
            )
        )
    return issues


def _option_value(options: str, names: tuple[str, ...]) -> int | None:
    """The integer value of one of ``names`` in an options string (``--timeout=0``, ``-t 0``)."""
    if not options or "$" in options:
        return None
    words = [w.text for c in parse_script(options) for w in c.words]
    for i, word in enumerate(words):
        name, eq, value = word.partition("=")
        if name in names:
            if not eq:
                value = words[i + 1] if i + 1 < len(words) else ""
            if value.isdigit():
                return int(value)
    return None
