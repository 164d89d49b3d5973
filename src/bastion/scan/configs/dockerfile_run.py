"""Checks of what a Dockerfile's ``RUN`` instructions do (part of the ``BST-DKR`` family).

Each ``RUN`` becomes one or more shell scripts (the shell form, ``<<EOF`` heredoc scripts, or
the exec form's argv) read by :mod:`.shell`; the checks then look for specific programs:
downloads piped into interpreters, ``pip install`` pins and indexes, package caches, ``sudo``,
world-writable ``chmod``, and plain-HTTP downloads.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass

from bastion.core import Severity
from bastion.scan.configs import rules_docker as R
from bastion.scan.configs.commands import (
    BUILD_TOOLS,
    chmod_world_writable,
    fetched_urls,
    pip_install,
    piped_to_shell,
    plain_http_urls,
    requirement_name,
)
from bastion.scan.configs.dockerfile import Instruction
from bastion.scan.configs.issues import Issue, Subject
from bastion.scan.configs.shell import Command, Invocation, invocation, parse_script

_SHELL_HEREDOC = re.compile(r"^\s*(?:\S*/)?(?:ba|da|z|k)?sh\b[^<]*<<")


@dataclass(frozen=True)
class Script:
    """A shell script from a ``RUN`` and how its offsets map to Dockerfile lines."""

    commands: tuple[Command, ...]
    line_of: Callable[[int], int]

    def invocations(self) -> list[tuple[Invocation, int]]:
        """Each command without its prefix, with its line."""
        return [(invocation(c), self.line_of(c.start)) for c in self.commands]


def scripts(instruction: Instruction) -> list[Script]:
    """The shell scripts one ``RUN`` runs."""
    if instruction.exec_form is not None:
        text = " ".join(shlex.quote(arg) for arg in instruction.exec_form)
        return [Script(tuple(parse_script(text)), lambda _o: instruction.line)]
    found = [Script(tuple(parse_script(instruction.value)), instruction.line_at)]
    value = instruction.value.strip()
    if value.startswith("<<") or _SHELL_HEREDOC.match(value):
        for doc in instruction.heredocs:

            def line_of(offset: int, doc_line: int = doc.line, body: str = doc.body) -> int:
                return doc_line + body.count("\n", 0, offset)

            found.append(Script(tuple(parse_script(doc.body)), line_of))
    return found


def run_issues(instruction: Instruction, subject: Subject) -> list[Issue]:
    """Supply-chain and privilege problems of one ``RUN`` (checked in every stage)."""
    issues: list[Issue] = []
    for script in scripts(instruction):
        for command, how in piped_to_shell(script.commands):
            issues.append(
                Issue(
                    R.CURL_PIPE_SHELL,
                    subject,
                    script.line_of(command.start),
                    f"RUN executes a downloaded script ({how}).",
                    how,
                )
            )
        for inv, line in script.invocations():
            issues.extend(_pip(inv, line, subject))
            issues.extend(_privileges(inv, line, subject))
            issues.extend(
                Issue(
                    R.HTTP_DOWNLOAD,
                    subject,
                    line,
                    f"{inv.program} downloads {url[:120]} over plain HTTP.",
                    f"{inv.program} {url[:120]}",
                )
                for url in plain_http_urls(fetched_urls(inv))
            )
    return issues


def _pip(inv: Invocation, line: int, subject: Subject) -> list[Issue]:
    pip = pip_install(inv)
    if pip is None:
        return []
    issues: list[Issue] = []
    if pip.unpinned:
        names = [spec for spec, _ in pip.unpinned]
        tools_only = all(requirement_name(n) in BUILD_TOOLS for n in names)
        issues.append(
            Issue(
                R.PIP_UNPINNED,
                subject,
                line,
                f"pip installs {', '.join(names[:8])}{' …' if len(names) > 8 else ''} "
                "without exact versions.",
                "pip install " + " ".join(sorted(names)[:8]),
                severity=Severity.LOW if tools_only else None,
            )
        )
    issues.extend(
        Issue(
            R.PIP_EXTRA_INDEX,
            subject,
            line,
            f"pip --extra-index-url {url[:100]} mixes a second index with PyPI.",
            f"--extra-index-url {url[:100]}",
        )
        for url in pip.extra_index_urls
    )
    issues.extend(
        Issue(
            R.PIP_TRUSTED_HOST,
            subject,
            line,
            f"pip --trusted-host {host[:100]} disables certificate checks.",
            f"--trusted-host {host[:100]}",
        )
        for host in pip.trusted_hosts
    )
    issues.extend(
        Issue(
            R.PIP_TRUSTED_HOST,
            subject,
            line,
            f"pip uses the plain-HTTP index {url[:100]}.",
            f"index {url[:100]}",
        )
        for url in pip.http_indexes
    )
    return issues


def _privileges(inv: Invocation, line: int, subject: Subject) -> list[Issue]:
    issues: list[Issue] = []
    if inv.sudo:
        issues.append(
            Issue(R.SUDO, subject, line, "RUN uses sudo.", "sudo " + " ".join(inv.texts())[:80])
        )
    texts = inv.texts()
    if inv.program in {"apt-get", "apt", "apk", "yum", "dnf", "microdnf"} and "sudo" in texts[2:]:
        issues.append(
            Issue(
                R.SUDO,
                subject,
                line,
                "the image installs sudo.",
                f"{inv.program} installs sudo",
                severity=Severity.LOW,
            )
        )
    chmod = chmod_world_writable(inv)
    if chmod is not None:
        mode, paths = chmod
        issues.append(
            Issue(
                R.WORLD_WRITABLE,
                subject,
                line,
                f"chmod {mode} makes {', '.join(paths[:4]) or 'files'} writable by everyone.",
                f"chmod {mode} {' '.join(paths[:4])}",
            )
        )
    return issues


def cache_issues(instruction: Instruction, subject: Subject, pip_cache_off: bool) -> list[Issue]:
    """Package caches a ``RUN`` leaves in its layer (checked in the final image only)."""
    mounts = " ".join(instruction.flag_values("mount"))
    cached = "type=cache" in mounts
    invocations = [inv for s in scripts(instruction) for inv, _ in s.invocations()]
    texts = [inv.texts() for inv in invocations]
    issues: list[Issue] = []
    apt = any(
        i.program in {"apt-get", "apt"} and "install" in t
        for i, t in zip(invocations, texts, strict=True)
    )
    apt_clean = any(
        i.program == "rm" and any("/var/lib/apt/lists" in w for w in t)
        for i, t in zip(invocations, texts, strict=True)
    )
    if apt and not apt_clean and "/var/lib/apt" not in mounts:
        issues.append(
            _cache(subject, instruction, "apt-get install without removing /var/lib/apt/lists")
        )
    apk = any(
        i.program == "apk" and "add" in t and "--no-cache" not in t
        for i, t in zip(invocations, texts, strict=True)
    )
    if apk and not cached and not any("/var/cache/apk" in w for t in texts for w in t):
        issues.append(_cache(subject, instruction, "apk add without --no-cache"))
    if not pip_cache_off and not cached:
        for inv in invocations:
            pip = pip_install(inv)
            if pip is not None and not pip.no_cache:
                issues.append(_cache(subject, instruction, "pip install without --no-cache-dir"))
                break
    return issues


def _cache(subject: Subject, instruction: Instruction, what: str) -> Issue:
    return Issue(R.PACKAGE_CACHE, subject, instruction.line, f"{what}.", what)
