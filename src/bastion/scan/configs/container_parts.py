"""Container-level checks that need no security context: limits, GPUs, images, environment,
host ports, and the MLflow settings a container's command carries (part of :mod:`.pod`).
"""

from __future__ import annotations

from bastion.core import Severity
from bastion.scan.configs import mlflow
from bastion.scan.configs import rules_k8s as R
from bastion.scan.configs.images import Pin, pin_of, short
from bastion.scan.configs.issues import Issue, Subject
from bastion.scan.configs.secretvalues import Strength, secret_strength
from bastion.scan.configs.tree import YMap
from bastion.scan.secrets.redact import redact


def limits(subject: Subject, container: YMap) -> list[Issue]:
    """A container without memory or CPU limits (CPU alone missing is low)."""
    resources = container.map("resources")
    limits = resources.map("limits") if resources is not None else None
    missing = [r for r in ("memory", "cpu") if limits is None or r not in limits]
    if not missing:
        return []
    return [
        Issue(
            R.NO_LIMITS,
            subject,
            container.line_of("resources"),
            f"no {' or '.join(missing)} limit.",
            f"resources.limits without {', '.join(missing)}",
            severity=Severity.LOW if missing == ["cpu"] else None,
        )
    ]


def gpus(subject: Subject, container: YMap) -> list[Issue]:
    """GPU requests whose limit is missing or different."""
    resources = container.map("resources")
    limits = resources.map("limits") if resources is not None else None
    requests = resources.map("requests") if resources is not None else None
    issues: list[Issue] = []
    if requests is not None:
        for key in requests.keys():
            if "gpu" not in key.lower():
                continue
            wanted = requests.text(key)
            have = limits.text(key) if limits is not None else None
            if have != wanted:
                issues.append(
                    Issue(
                        R.GPU_NO_LIMIT,
                        subject,
                        requests.line_of(key),
                        f"requests {key}: {wanted} but limits {key}: {have or 'unset'}.",
                        f"requests {key}={wanted}, limits {have or 'unset'}",
                    )
                )
    return issues


def image(subject: Subject, container: YMap) -> list[Issue]:
    """A mutable or tag-only image reference (and a mutable tag pulled IfNotPresent)."""
    image = container.text("image")
    if not image:
        return []
    pin = pin_of(image)
    line = container.line_of("image")
    issues: list[Issue] = []
    if pin is Pin.LATEST:
        issues.append(
            Issue(R.IMAGE_LATEST, subject, line, f"image {short(image)} is mutable.", short(image))
        )
        policy = container.text("imagePullPolicy")
        if policy in {"IfNotPresent", "Never"}:
            issues.append(
                Issue(
                    R.MUTABLE_PULL,
                    subject,
                    container.line_of("imagePullPolicy"),
                    f"image {short(image)} with imagePullPolicy: {policy}.",
                    f"{short(image)} imagePullPolicy {policy}",
                )
            )
    elif pin is Pin.TAG:
        issues.append(
            Issue(
                R.IMAGE_NOT_DIGEST,
                subject,
                line,
                f"image {short(image)} is not pinned by digest.",
                short(image),
            )
        )
    return issues


def environment(subject: Subject, container: YMap) -> list[Issue]:
    """Literal secrets in ``env``, and MLflow settings in the command and environment."""
    literal: list[tuple[str, str, int]] = []
    for entry in container.maps("env"):
        name = entry.text("name")
        value = entry.text("value")
        if name and value is not None and "valueFrom" not in entry:
            literal.append((name, value, entry.line_of("value")))
    return env_issues(subject, literal) + command_issues(subject, container, literal)


def env_issues(subject: Subject, literal: list[tuple[str, str, int]]) -> list[Issue]:
    """Secrets (and MLflow credentials) among literal environment values."""
    issues, handled = mlflow.env_issues(literal, subject)
    for name, value, line in literal:
        if name in handled:
            continue
        strength = secret_strength(name, value)
        if strength is not None:
            issues.append(
                Issue(
                    R.SECRET_IN_ENV,
                    subject,
                    line,
                    f"environment variable {name} holds a literal secret (redacted).",
                    f"{name}={redact(value)}",
                    severity=Severity.MEDIUM if strength is Strength.WEAK else None,
                )
            )
    return issues


def command_issues(
    subject: Subject, container: YMap, literal: list[tuple[str, str, int]]
) -> list[Issue]:
    """MLflow settings in the container's command and args."""
    argv: list[tuple[str, int]] = []
    for key in ("command", "args"):
        seq = container.seq(key)
        if seq is not None:
            argv.extend(seq.texts())
    if not argv:
        return []
    env = {name: value for name, value, _ in literal}
    return mlflow.argv_issues(argv, env, subject)


def host_ports(subject: Subject, container: YMap) -> list[Issue]:
    """Ports bound on the node with ``hostPort``."""
    issues: list[Issue] = []
    for port in container.maps("ports"):
        number = port.number("hostPort")
        if number:
            issues.append(
                Issue(
                    R.HOST_PORT,
                    subject,
                    port.line_of("hostPort"),
                    f"hostPort {number} binds the port on the node.",
                    f"hostPort: {number}",
                )
            )
    return issues
