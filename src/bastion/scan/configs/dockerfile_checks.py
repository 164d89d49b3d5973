"""The ``BST-DKR`` checks of a parsed Dockerfile: base images, user, health check, secrets in
``ENV``/``ARG``, ``ADD`` of URLs, exposed SSH, package caches, and MLflow in ``CMD``.

Stages are judged by where they end up. The *final image* is the last stage plus the stages it
is built ``FROM`` (its chain); the user, health check, caches, exposed ports and the command
are read there. Base images, downloads and ``pip install`` are read in every stage.

>>> from bastion.scan.configs.dockerfile import parse_dockerfile
>>> df = parse_dockerfile("FROM python:latest\\nCMD python app.py\\n")
>>> sorted({i.rule.id for i in check_dockerfile(df)})
['BST-DKR-001', 'BST-DKR-002', 'BST-DKR-007']
"""

from __future__ import annotations

import re

from bastion.core import Confidence, Severity
from bastion.scan.configs import mlflow
from bastion.scan.configs import rules_docker as R
from bastion.scan.configs.commands import mode_world_writable
from bastion.scan.configs.dockerfile import (
    Dockerfile,
    Instruction,
    Stage,
    arg_pairs,
    env_pairs,
    substitute,
)
from bastion.scan.configs.dockerfile_run import cache_issues, run_issues, scripts
from bastion.scan.configs.images import Pin, pin_of, short
from bastion.scan.configs.issues import Issue, Subject
from bastion.scan.configs.secretvalues import NameKind, Strength, name_kind, secret_strength
from bastion.scan.secrets.redact import redact

_NONROOT_BASES = re.compile(
    r"^(?:gcr\.io/distroless/\S+:(?:\S*-)?nonroot\b|cgr\.dev/chainguard/|(?:docker\.io/|quay\.io/)?"
    r"jupyter/|(?:docker\.io/)?nginxinc/nginx-unprivileged)"
)
_MODEL_EXTENSIONS = (".pt", ".pth", ".pkl", ".pickle", ".bin", ".ckpt", ".joblib", ".h5", ".keras")
_ROOT_USERS = frozenset({"root", "0"})


def check_dockerfile(df: Dockerfile) -> list[Issue]:
    """Every ``BST-DKR`` (and MLflow) issue of one Dockerfile."""
    if not df.stages:
        return []
    issues: list[Issue] = []
    names = {s.name.lower() for s in df.stages if s.name}
    for instruction in df.preamble:
        if instruction.keyword == "ARG":
            issues.extend(_instruction(instruction, Subject("global ARG"), names))
    for stage in df.stages:
        subject = _subject(stage, df)
        issues.extend(_base(stage, subject))
        for instruction in stage.instructions:
            issues.extend(_instruction(instruction, subject, names))
    chain = _chain(df)
    issues.extend(_final(chain, _subject(df.stages[-1], df)))
    return issues


def _subject(stage: Stage, df: Dockerfile) -> Subject:
    if len(df.stages) == 1:
        return Subject("image")
    label = f"stage '{stage.name}'" if stage.name else f"stage {stage.index + 1}"
    return Subject(label + (" (final)" if stage is df.stages[-1] else ""))


def _chain(df: Dockerfile) -> list[Stage]:
    """The final stage and its ancestors, oldest first."""
    chain = [df.stages[-1]]
    seen = {chain[0].index}
    while chain[0].parent is not None and chain[0].parent not in seen:
        seen.add(chain[0].parent)
        chain.insert(0, df.stages[chain[0].parent])
    return chain


def _base(stage: Stage, subject: Subject) -> list[Issue]:
    if stage.parent is not None:
        return []
    return _image_pin(stage.base, stage.line, subject, "FROM")


def _image_pin(image: str, line: int, subject: Subject, where: str) -> list[Issue]:
    pin = pin_of(image)
    if pin is Pin.LATEST:
        message = f"{where} {short(image)} resolves to whatever was pushed last."
        return [Issue(R.BASE_LATEST, subject, line, message, f"{where} {short(image)}")]
    if pin is Pin.TAG:
        message = f"{where} {short(image)} is not pinned by digest."
        return [Issue(R.BASE_NOT_DIGEST, subject, line, message, f"{where} {short(image)}")]
    return []


def _instruction(instruction: Instruction, subject: Subject, stages: set[str]) -> list[Issue]:
    keyword = instruction.keyword
    if keyword == "RUN":
        return run_issues(instruction, subject)
    if keyword == "ARG":
        pairs = [(k, v, instruction.line) for k, v in arg_pairs(instruction.value).items()]
        return _arg_issues(pairs, subject)
    if keyword == "ENV":
        settings = [(k, v, instruction.line) for k, v in env_pairs(instruction.value)]
        return _env_issues(settings, subject)
    issues: list[Issue] = []
    if keyword in {"COPY", "ADD"}:
        source = instruction.flag("from")
        if source and source.lower() not in stages and not source.isdigit():
            issues.extend(_image_pin(source, instruction.line, subject, "COPY --from"))
        mode = instruction.flag("chmod")
        if mode and mode_world_writable(mode):
            issues.append(
                Issue(
                    R.WORLD_WRITABLE,
                    subject,
                    instruction.line,
                    f"{keyword} --chmod={mode} makes the files writable by everyone.",
                    f"{keyword} --chmod={mode}",
                )
            )
    if keyword == "ADD":
        issues.extend(_add(instruction, subject))
    return issues


def _add(instruction: Instruction, subject: Subject) -> list[Issue]:
    if instruction.flag("checksum"):
        return []
    words = list(instruction.exec_form or instruction.value.split())
    issues: list[Issue] = []
    for source in words[:-1]:
        if not re.match(r"^(?:https?|git|ssh)://|^git@", source):
            continue
        path = source.split("?", 1)[0].split("#", 1)[0].lower()
        model = path.endswith(_MODEL_EXTENSIONS)
        issues.append(
            Issue(
                R.ADD_REMOTE,
                subject,
                instruction.line,
                f"ADD downloads {source[:120]} without --checksum"
                + (" (a model file that runs code when loaded)." if model else "."),
                f"ADD {source[:120]}",
                severity=Severity.HIGH if model else None,
            )
        )
    return issues


def _arg_issues(pairs: list[tuple[str, str | None, int]], subject: Subject) -> list[Issue]:
    issues: list[Issue] = []
    for name, value, line in pairs:
        if value is None or value == "":
            if name_kind(name) is NameKind.SECRET:
                issues.append(
                    Issue(
                        R.SECRET_IN_BUILD,
                        subject,
                        line,
                        f"build argument {name} carries a secret into the build history.",
                        f"ARG {name}",
                        severity=Severity.LOW,
                        confidence=Confidence.MEDIUM,
                    )
                )
            continue
        issues.extend(_literal_secret("ARG", name, value, line, subject))
    return issues


def _env_issues(pairs: list[tuple[str, str, int]], subject: Subject) -> list[Issue]:
    issues, handled = mlflow.env_issues(pairs, subject)
    for name, value, line in pairs:
        if name in handled:
            continue
        if name in {"PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST"} and value:
            rule = R.PIP_EXTRA_INDEX if name == "PIP_EXTRA_INDEX_URL" else R.PIP_TRUSTED_HOST
            issues.append(Issue(rule, subject, line, f"ENV {name} is set.", f"ENV {name}"))
            continue
        if name_kind(name) is NameKind.SECRET and re.fullmatch(r"\$\{?[A-Za-z_]\w*\}?", value):
            issues.append(
                Issue(
                    R.SECRET_IN_BUILD,
                    subject,
                    line,
                    f"ENV {name} stores a build argument's secret in the image configuration.",
                    f"ENV {name}={value}",
                )
            )
            continue
        issues.extend(_literal_secret("ENV", name, value, line, subject))
    return issues


def _literal_secret(
    keyword: str, name: str, value: str, line: int, subject: Subject
) -> list[Issue]:
    strength = secret_strength(name, value)
    if strength is None:
        return []
    return [
        Issue(
            R.SECRET_IN_BUILD,
            subject,
            line,
            f"{keyword} {name} holds a literal secret (redacted).",
            f"{keyword} {name}={redact(value)}",
            severity=Severity.MEDIUM if strength is Strength.WEAK else None,
        )
    ]


def _final(chain: list[Stage], subject: Subject) -> list[Issue]:
    """Checks of the final image: user, health check, caches, ports, command."""
    final = chain[-1]
    instructions = [i for stage in chain for i in stage.instructions]
    issues = _user(chain, subject)
    if not any(i.keyword == "HEALTHCHECK" for i in instructions):
        issues.append(
            Issue(
                R.NO_HEALTHCHECK,
                subject,
                final.line,
                "the final image declares no HEALTHCHECK.",
                "no HEALTHCHECK",
            )
        )
    env = {k: v for i in instructions if i.keyword == "ENV" for k, v in env_pairs(i.value)}
    pip_cache_off = "PIP_NO_CACHE_DIR" in env
    for instruction in instructions:
        if instruction.keyword == "RUN":
            issues.extend(cache_issues(instruction, subject, pip_cache_off))
        elif instruction.keyword == "EXPOSE":
            for port in instruction.value.split():
                if port.split("/", 1)[0] == "22":
                    issues.append(
                        Issue(
                            R.EXPOSE_SSH, subject, instruction.line, "EXPOSE 22 (SSH).", "EXPOSE 22"
                        )
                    )
    issues.extend(_command(instructions, env, subject))
    return issues


def _user(chain: list[Stage], subject: Subject) -> list[Issue]:
    user: tuple[str, int] | None = None
    for stage in chain:
        scope: dict[str, str | None] = {}
        for instruction in stage.instructions:
            if instruction.keyword == "ARG":
                scope.update(arg_pairs(instruction.value))
            elif instruction.keyword == "ENV":
                scope.update(env_pairs(instruction.value))
            elif instruction.keyword == "USER":
                name = substitute(instruction.value.strip(), scope)
                user = (name.split(":", 1)[0] if name else "$", instruction.line)
    final = chain[-1]
    if user is None:
        if _NONROOT_BASES.match(chain[0].base):
            return []
        return [
            Issue(
                R.ROOT_USER,
                subject,
                final.line,
                "no USER instruction: the container runs as the base image's user (root for "
                "most images).",
                "no USER",
                confidence=Confidence.MEDIUM,
            )
        ]
    name, line = user
    if name in _ROOT_USERS:
        return [
            Issue(
                R.ROOT_USER,
                subject,
                line,
                f"the last USER is {name}.",
                f"USER {name}",
                severity=Severity.HIGH,
            )
        ]
    return []


def _command(instructions: list[Instruction], env: dict[str, str], subject: Subject) -> list[Issue]:
    """MLflow settings in the final ENTRYPOINT/CMD (and the chmods that precede them)."""
    entry: Instruction | None = None
    cmd: Instruction | None = None
    for instruction in instructions:
        if instruction.keyword == "ENTRYPOINT":
            entry, cmd = instruction, None  # a new ENTRYPOINT resets an inherited CMD
        elif instruction.keyword == "CMD":
            cmd = instruction
    runs = [
        inv
        for i in instructions
        if i.keyword == "RUN"
        for s in scripts(i)
        for inv, _ in s.invocations()
    ]
    world = mlflow.world_writable_paths(runs)
    issues: list[Issue] = []
    parts = [p for p in (entry, cmd) if p is not None]
    if parts and all(p.exec_form is not None for p in parts):
        argv = [(arg, p.line) for p in parts for arg in p.exec_form or ()]
        issues.extend(mlflow.argv_issues(argv, env, subject, world))
    else:
        for part in parts:
            if part.exec_form is not None:
                argv = [(arg, part.line) for arg in part.exec_form]
                issues.extend(mlflow.argv_issues(argv, env, subject, world))
            else:
                issues.extend(mlflow.script_issues(part.value, part.line_at, env, subject, world))
    return issues
