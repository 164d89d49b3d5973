"""docker-compose files: the container checks (``BST-K8S``) on Compose's spelling of them, and
the MLflow checks on each service's command.

Compose has no pod security context, so only what a service states is judged: ``privileged``,
``cap_add``, host namespaces (``network_mode``/``pid``/``ipc: host``), ``security_opt``
unconfined profiles, ``user: root``, bind mounts of sensitive host paths, ports published on
every interface, secrets in ``environment``, image pins and the command line. Relative bind
mounts (``./data:/data``) are the project's own directories and are not reported.

>>> from bastion.scan.configs.yamlload import load_yaml
>>> root = load_yaml("services:\\n  web:\\n    image: nginx\\n    ports: ['8080:80']\\n"
...                  "    privileged: true\\n").documents[0].root
>>> sorted(i.rule.id for i in compose_issues(root, None))
['BST-K8S-001', 'BST-K8S-008', 'BST-K8S-016']
"""

from __future__ import annotations

import shlex

from bastion.core import Severity
from bastion.scan.configs import mlflow
from bastion.scan.configs import rules_k8s as R
from bastion.scan.configs.container_parts import env_issues, image
from bastion.scan.configs.issues import Issue, Subject
from bastion.scan.configs.pod import capability_severity, host_path_severity
from bastion.scan.configs.tree import Node, YMap, YScalar, YSeq

_SERVICE_KEYS = frozenset({"image", "build", "command", "entrypoint", "environment"})
_LOOPBACK = ("127.", "localhost", "[::1]", "::1")


def is_compose(root: YMap) -> bool:
    """A top-level ``services`` mapping whose entries look like Compose services."""
    services = root.map("services")
    if services is None:
        return False
    return any(isinstance(s, YMap) and _SERVICE_KEYS & set(s.keys()) for _, s in services.items())


def compose_issues(root: YMap, document: int | None) -> list[Issue]:
    """Every issue of the services of one Compose file."""
    services = root.map("services")
    issues: list[Issue] = []
    for name, service in services.items() if services is not None else ():
        if isinstance(service, YMap):
            issues.extend(_service(service, Subject(f"service '{name}'", document)))
    return issues


def _service(service: YMap, subject: Subject) -> list[Issue]:
    issues: list[Issue] = []
    if service.flag("privileged"):
        message = "privileged: true gives the container full access to the host."
        issues.append(
            Issue(R.PRIVILEGED, subject, service.line_of("privileged"), message, "privileged: true")
        )
    for key in ("network_mode", "pid", "ipc"):
        if (service.text(key) or "").lower() == "host":
            message = f"{key}: host shares the host's namespace."
            issues.append(
                Issue(R.HOST_NAMESPACE, subject, service.line_of(key), message, f"{key}: host")
            )
    user = (service.text("user") or "").split(":", 1)[0]
    if user in {"root", "0"}:
        issues.append(
            Issue(
                R.RUNS_AS_ROOT,
                subject,
                service.line_of("user"),
                f"user: {user} runs the container as root.",
                f"user: {user}",
                severity=Severity.HIGH,
            )
        )
    caps = service.seq("cap_add")
    for text, line in caps.texts() if caps is not None else ():
        name = text.upper().removeprefix("CAP_")
        severity = capability_severity(name)
        if severity is not None:
            issues.append(
                Issue(
                    R.ADDED_CAPABILITIES,
                    subject,
                    line,
                    f"cap_add {name}.",
                    f"cap_add {name}",
                    severity=severity,
                )
            )
    options = service.seq("security_opt")
    for text, line in options.texts() if options is not None else ():
        compact = text.replace("=", ":").replace(" ", "").lower()
        if compact in {"seccomp:unconfined", "apparmor:unconfined"}:
            message = f"security_opt {text} removes the profile."
            issues.append(Issue(R.UNCONFINED_PROFILE, subject, line, message, text))
    issues.extend(_volumes(service, subject))
    issues.extend(_ports(service, subject))
    issues.extend(image(subject, service))
    literal = _environment(service.get("environment"))
    issues.extend(env_issues(subject, literal))
    issues.extend(_command(service, subject, {n: v for n, v, _ in literal}))
    return issues


def _volumes(service: YMap, subject: Subject) -> list[Issue]:
    volumes = service.seq("volumes")
    issues: list[Issue] = []
    for item in volumes.items if volumes is not None else ():
        source, line = None, item.line
        if isinstance(item, YScalar):
            source = (item.as_text() or "").split(":", 1)[0]
        elif isinstance(item, YMap) and item.text("type") == "bind":
            source = item.text("source")
        if source and source.startswith("/"):
            issues.append(
                Issue(
                    R.HOST_PATH,
                    subject,
                    line,
                    f"bind mount of the host path {source}.",
                    f"bind {source}",
                    severity=host_path_severity(source),
                )
            )
    return issues


def _ports(service: YMap, subject: Subject) -> list[Issue]:
    ports = service.seq("ports")
    issues: list[Issue] = []
    for item in ports.items if ports is not None else ():
        host_ip = ""
        if isinstance(item, YScalar):
            text = item.as_text() or ""
            parts = text.rsplit(":", 2)
            host_ip = parts[0] if len(parts) == 3 else ""
            shown = text
        elif isinstance(item, YMap):
            host_ip = item.text("host_ip") or ""
            shown = f"{item.text('published') or '?'}:{item.text('target') or '?'}"
        else:
            continue
        if "$" in host_ip or host_ip.startswith(_LOOPBACK):
            continue
        issues.append(
            Issue(
                R.HOST_PORT,
                subject,
                item.line,
                f"port {shown} is published on {host_ip or 'every interface'}.",
                f"ports {shown}",
            )
        )
    return issues


def _environment(node: Node | None) -> list[tuple[str, str, int]]:
    found: list[tuple[str, str, int]] = []
    if isinstance(node, YMap):
        for name, value in node.items():
            if isinstance(value, YScalar) and value.as_text() is not None:
                found.append((name, value.as_text() or "", node.line_of(name)))
    elif isinstance(node, YSeq):
        for text, line in node.texts():
            key, eq, literal = text.partition("=")
            if eq:
                found.append((key.strip(), literal, line))
    return found


def _command(service: YMap, subject: Subject, env: dict[str, str]) -> list[Issue]:
    argv: list[tuple[str, int]] = []
    for key in ("entrypoint", "command"):
        node = service.get(key)
        if isinstance(node, YSeq):
            argv.extend(node.texts())
        elif isinstance(node, YScalar) and node.as_text():
            try:
                words = shlex.split(node.as_text() or "")
            except ValueError:
                words = (node.as_text() or "").split()
            argv.extend((word, node.line) for word in words)
    return mlflow.argv_issues(argv, env, subject) if argv else []
