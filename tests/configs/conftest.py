"""Helpers for the configuration analyzer tests: run the checks on text, scan files in a tree."""

from __future__ import annotations

import random
import string
import textwrap
from pathlib import Path

from bastion.core import ScanResult
from bastion.scan.configs.analyzer import shell_issues
from bastion.scan.configs.dockerfile import parse_dockerfile
from bastion.scan.configs.dockerfile_checks import check_dockerfile
from bastion.scan.configs.issues import Issue
from bastion.scan.configs.manifests import check_manifests
from bastion.scan.configs.yamlload import load_yaml
from bastion.scan.engine import ScanOptions, scan

DIGEST = "sha256:" + "3f1b9c2d4e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c"
COMMIT = "8c1f0a9d2b3e4c5f6a7b8c9d0e1f2a3b4c5d6e7f"
_RNG = random.Random(20240917)


def token(prefix: str = "", length: int = 34) -> str:
    """A random credential-shaped string (generated at test time, never a real one)."""
    alphabet = string.ascii_letters + string.digits
    while True:
        body = "".join(_RNG.choice(alphabet) for _ in range(length))
        if any(c.isdigit() for c in body) and any(c.isupper() for c in body):
            return prefix + body


def manifest(text: str) -> list[Issue]:
    """Issues of a (dedented) YAML manifest; the text must load without problems."""
    load = load_yaml(textwrap.dedent(text))
    assert load.problem is None, load.problem
    return check_manifests(load.documents)


def dockerfile(text: str) -> list[Issue]:
    """Issues of a (dedented) Dockerfile."""
    return check_dockerfile(parse_dockerfile(textwrap.dedent(text)))


def script(text: str) -> list[Issue]:
    """Issues of a (dedented) shell script."""
    return shell_issues(textwrap.dedent(text))


def ids(issues: list[Issue]) -> set[str]:
    """The rule ids of some issues."""
    return {issue.rule.id for issue in issues}


def hits(issues: list[Issue]) -> list[tuple[str, int | None]]:
    """(rule id, line) of some issues, sorted."""
    return sorted((issue.rule.id, issue.line) for issue in issues)


def scan_files(root: Path, files: dict[str, str]) -> ScanResult:
    """Write (dedented) files under ``root`` and scan the tree in process."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content), encoding="utf-8")
    return scan(root, ScanOptions(workers=1))
