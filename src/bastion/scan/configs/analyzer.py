"""The analyzers that run the configuration checks: manifests (YAML/JSON), Dockerfiles, shell
scripts and MLflow's ``basic_auth.ini``.

A YAML or JSON file is parsed only when its text could be a manifest (``apiVersion`` and
``kind``, a KFP ``deploymentSpec``, a Compose ``services:``); any other file produces nothing,
not even a skip, unless it defines anchors and aliases, in which case it is loaded to rule out
an alias bomb. Helm templates are neutralized (:mod:`.helm`) and checked as written, with a skip
record saying that values-dependent settings were not checked.
"""

from __future__ import annotations

import re

from bastion.core import ArtifactKind, SkipReason
from bastion.scan.blob import Blob
from bastion.scan.code.source import read_text
from bastion.scan.configs import mlflow
from bastion.scan.configs.dockerfile import parse_dockerfile
from bastion.scan.configs.dockerfile_checks import check_dockerfile
from bastion.scan.configs.helm import is_helm_template, neutralize
from bastion.scan.configs.issues import Issue, Subject, report_issues
from bastion.scan.configs.manifests import check_manifests
from bastion.scan.configs.rules_docker import DOCKER_RULES
from bastion.scan.configs.rules_k8s import K8S_RULES, YAML_BOMB
from bastion.scan.configs.rules_mlflow import DEFAULT_ADMIN, MLFLOW_RULES
from bastion.scan.configs.rules_pipelines import PIPELINE_RULES
from bastion.scan.configs.rules_serving import SERVING_RULES
from bastion.scan.configs.shell import invocation, parse_script
from bastion.scan.configs.yamlload import ProblemKind, YamlLimits, load_yaml
from bastion.scan.interface import AnalysisContext, Analyzer

_YAML_LIMITS = YamlLimits()
_COMPOSE = re.compile(r"^services\s*:|\"services\"\s*:", re.MULTILINE)
_ANCHOR = re.compile(r"(?:^|[\s\[{,:])&[^\s\[\]{},]+")
_ALIAS = re.compile(r"(?:^|[\s\[{,:])\*[^\s\[\]{},*]+")
_MAX_SCRIPT_BYTES = 4 << 20


def looks_like_manifest(text: str) -> bool:
    """Cheap test on the raw text: could any document be a manifest bastion reads?"""
    return (
        ("apiVersion" in text and "kind" in text)
        or ("deploymentSpec" in text and "executors" in text)
        or _COMPOSE.search(text) is not None
    )


class ManifestAnalyzer(Analyzer):
    """Kubernetes, KServe/Seldon, Argo/KFP and Compose documents in YAML or JSON files."""

    name = "manifests"
    formats = ("yaml", "json")
    rules = (*K8S_RULES, YAML_BOMB, *SERVING_RULES, *PIPELINE_RULES, *MLFLOW_RULES)
    kind = ArtifactKind.CONFIG

    def analyze(self, blob: Blob, ctx: AnalysisContext) -> None:
        """Load the documents within bounds and report what the checks find."""
        limit = min(ctx.limits.max_text_bytes, _YAML_LIMITS.max_chars)
        source = read_text(blob, limit)
        text = source.text
        is_json = ctx.format == "json"
        relevant = looks_like_manifest(text)
        if not relevant and (is_json or not (_ANCHOR.search(text) and _ALIAS.search(text))):
            return
        if source.truncated:
            if relevant:
                ctx.skip(SkipReason.TOO_LARGE, f"manifest larger than {limit} bytes; not parsed")
            return
        templated = not is_json and is_helm_template(text)
        if templated:
            text = neutralize(text)
        load = load_yaml(text, limits=_YAML_LIMITS, check=ctx.deadline.check, json=is_json)
        problem = load.problem
        if problem is not None and problem.kind is ProblemKind.BOMB:
            ctx.report(
                YAML_BOMB.finding(
                    ctx.location(line=problem.line),
                    f"YAML alias bomb: {problem.detail}.",
                    evidence=problem.detail,
                )
            )
            ctx.skip(SkipReason.LIMIT, f"YAML not loaded: {problem.detail}", format=ctx.format)
        elif relevant and problem is not None:
            where = f"line {problem.line}: " if problem.line else ""
            reason = SkipReason.LIMIT if problem.kind is ProblemKind.LIMIT else SkipReason.MALFORMED
            what = "Helm template" if templated else ctx.format.upper()
            ctx.skip(
                reason,
                f"{what} not fully parsed ({where}{problem.detail}); documents before it were "
                "checked",
                format=ctx.format,
            )
        if not relevant:
            return
        issues = check_manifests(load.documents, templated=templated)
        if templated and load.documents:
            ctx.skip(
                SkipReason.UNSUPPORTED,
                "Helm template: checked as written with template actions removed; settings that "
                "come from values were not checked (scan the output of `helm template`)",
                format=ctx.format,
            )
        report_issues(ctx, issues)


class DockerfileAnalyzer(Analyzer):
    """Dockerfiles and Containerfiles (``BST-DKR``, and MLflow in ``CMD``/``ENTRYPOINT``)."""

    name = "dockerfile"
    formats = ("dockerfile",)
    rules = (*DOCKER_RULES, *MLFLOW_RULES)
    kind = ArtifactKind.CONFIG

    def analyze(self, blob: Blob, ctx: AnalysisContext) -> None:
        """Parse the file and run the Dockerfile checks."""
        source = read_text(blob, min(ctx.limits.max_text_bytes, _MAX_SCRIPT_BYTES))
        dockerfile = parse_dockerfile(source.text)
        if source.truncated or dockerfile.truncated:
            ctx.skip(SkipReason.TOO_LARGE, "Dockerfile only partly read", format=ctx.format)
        report_issues(ctx, check_dockerfile(dockerfile))


class ShellAnalyzer(Analyzer):
    """Shell scripts that start MLflow or export its credentials (``BST-MLF``)."""

    name = "shell-config"
    formats = ("shell",)
    rules = MLFLOW_RULES
    kind = ArtifactKind.CONFIG

    def analyze(self, blob: Blob, ctx: AnalysisContext) -> None:
        """Find MLflow invocations and MLflow credentials in the script."""
        source = read_text(blob, min(ctx.limits.max_text_bytes, _MAX_SCRIPT_BYTES))
        if "mlflow" not in source.text.lower():
            return
        report_issues(ctx, shell_issues(source.text))


def shell_issues(text: str) -> list[Issue]:
    """MLflow issues of a shell script (variables set anywhere in it count as its environment)."""
    subject = Subject("script")
    commands = parse_script(text)
    invocations = [invocation(c) for c in commands]
    assignments: list[tuple[str, str, int]] = []
    for command, inv in zip(commands, invocations, strict=True):
        line = text.count("\n", 0, command.start) + 1
        if inv.argv and inv.program in {"export", "declare", "readonly"}:
            words = [w.text for w in inv.argv[1:] if "=" in w.text]
        elif not inv.argv:
            words = [f"{k}={v}" for k, v in inv.env.items()]
        else:
            continue
        for word in words:
            name, _, value = word.partition("=")
            assignments.append((name, value, line))
    issues, _ = mlflow.env_issues(assignments, subject)
    env = {name: value for name, value, _ in assignments}
    world = mlflow.world_writable_paths(invocations)
    issues.extend(
        mlflow.script_issues(
            text, lambda offset: text.count("\n", 0, offset) + 1, env, subject, world
        )
    )
    return issues


class MlflowAuthConfigAnalyzer(Analyzer):
    """MLflow ``basic_auth.ini``-style files (an ``[mlflow]`` section with ``admin_password``)."""

    name = "mlflow-auth-config"
    formats = ("ini",)
    rules = (DEFAULT_ADMIN,)
    kind = ArtifactKind.CONFIG

    def analyze(self, blob: Blob, ctx: AnalysisContext) -> None:
        """Report MLflow's default admin credentials."""
        source = read_text(blob, min(ctx.limits.max_text_bytes, _MAX_SCRIPT_BYTES))
        report_issues(ctx, mlflow.ini_issues(source.text, Subject("MLflow auth config")))
