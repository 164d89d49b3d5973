"""Kubeflow Pipelines IR specs and Argo workflows (``BST-KFP``).

KFP v2's compiled YAML has ``deploymentSpec.executors.<exec>.container`` (image, command, args,
env, resources), component parameters in ``components.<comp>.inputDefinitions`` and ``root``,
and an optional second document ``platforms.kubernetes`` (kfp-kubernetes settings); a Vertex
``PipelineJob`` wraps the same under ``pipelineSpec``. Argo ``Workflow``s (KFP v1's compiled
form) have templates whose ``container``/``script``/``containerSet`` are pod containers.

Inline Python (a lightweight component's source, an Argo ``script``) is parsed with :mod:`ast`,
never run, to find ``trust_remote_code=True``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from bastion.core import Severity
from bastion.scan.configs import rules_k8s as K
from bastion.scan.configs import rules_pipelines as R
from bastion.scan.configs.commands import pip_install, requirement_name
from bastion.scan.configs.container_parts import environment
from bastion.scan.configs.images import Pin, pin_of, short
from bastion.scan.configs.issues import Issue, Subject
from bastion.scan.configs.pod import PodPolicy, PodSpec, check_pod
from bastion.scan.configs.secretvalues import NameKind, name_kind, secret_strength
from bastion.scan.configs.shell import invocation, parse_script
from bastion.scan.configs.tree import Node, YMap, YScalar, YSeq
from bastion.scan.configs.yamlload import load_yaml
from bastion.scan.secrets.redact import redact

_MAX_SOURCE = 1 << 20
_REMOTE_CODE = re.compile(r"trust_remote_code\s*[=:]\s*True\b")
_ARGO_KINDS = frozenset({"Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow"})
_RETARGET = {
    K.PRIVILEGED.id: (R.PRIVILEGED_COMPONENT, None),
    K.IMAGE_LATEST.id: (R.UNPINNED_IMAGE, Severity.MEDIUM),
    K.IMAGE_NOT_DIGEST.id: (R.UNPINNED_IMAGE, Severity.LOW),
    K.NO_LIMITS.id: (R.NO_RESOURCE_LIMITS, None),
}


def is_kfp_spec(root: YMap) -> YMap | None:
    """The IR pipeline spec in a document (itself, or a PipelineJob's ``pipelineSpec``)."""
    spec = root.map("pipelineSpec") or root
    deployment = spec.map("deploymentSpec")
    if deployment is not None and deployment.map("executors") is not None:
        if any(key in spec for key in ("components", "root", "pipelineInfo", "schemaVersion")):
            return spec
    return None


def kfp_platform(root: YMap) -> YMap | None:
    """``platforms.kubernetes.deploymentSpec.executors`` of a platform-config document."""
    return root.map_at("platforms", "kubernetes", "deploymentSpec", "executors")


def kfp_spec(spec: YMap, platform: YMap | None, document: int | None) -> list[Issue]:
    """Every issue of one KFP IR pipeline spec."""
    info = spec.map("pipelineInfo")
    name = (info.text("name") if info is not None else None) or "?"
    subject = Subject(f"pipeline '{name}'", document)
    issues: list[Issue] = []
    executors = spec.map_at("deploymentSpec", "executors")
    for exec_name, executor in executors.items() if executors is not None else ():
        container = executor.map("container") if isinstance(executor, YMap) else None
        if container is None:
            continue
        where = subject.with_container(f"executor '{exec_name}'")
        settings = platform.map(exec_name) if platform is not None else None
        issues.extend(_ir_container(container, where, settings))
    issues.extend(_parameters(_ir_parameters(spec), subject))
    return issues


def _ir_container(container: YMap, subject: Subject, settings: YMap | None) -> list[Issue]:
    issues: list[Issue] = []
    image = container.text("image")
    if image:
        pin = pin_of(image)
        if pin in {Pin.LATEST, Pin.TAG}:
            issues.append(_image_issue(image, pin, container.line_of("image"), subject))
        policy = settings.text("imagePullPolicy") if settings is not None else None
        if pin is Pin.LATEST and policy in {"IfNotPresent", "Never"}:
            line = settings.line_of("imagePullPolicy") if settings is not None else None
            message = f"image {short(image)} with imagePullPolicy: {policy}."
            issues.append(Issue(K.MUTABLE_PULL, subject, line, message, f"{short(image)} {policy}"))
    resources = container.map("resources")
    have = set(resources.keys()) if resources is not None else set()
    missing = [
        kind
        for kind, keys in (
            ("memory", {"memoryLimit", "resourceMemoryLimit"}),
            ("cpu", {"cpuLimit", "resourceCpuLimit"}),
        )
        if not have & keys
    ]
    if missing:
        issues.append(
            Issue(
                R.NO_RESOURCE_LIMITS,
                subject,
                container.line_of("resources"),
                f"no {' or '.join(missing)} limit (set_memory_limit / set_cpu_limit).",
                f"resources without {', '.join(missing)} limit",
                severity=Severity.LOW if missing == ["cpu"] else None,
            )
        )
    issues.extend(_commands(_args(container), subject))
    issues.extend(environment(subject, container))
    return issues


def _image_issue(image: str, pin: Pin, line: int | None, subject: Subject) -> Issue:
    what = "is mutable (:latest or no tag)" if pin is Pin.LATEST else "is not pinned by digest"
    return Issue(
        R.UNPINNED_IMAGE,
        subject,
        line,
        f"image {short(image)} {what}.",
        short(image),
        severity=Severity.MEDIUM if pin is Pin.LATEST else Severity.LOW,
    )


def _args(container: YMap) -> list[YScalar]:
    found: list[YScalar] = []
    for key in ("command", "args"):
        seq = container.seq(key)
        if seq is not None:
            found.extend(item for item in seq.items if isinstance(item, YScalar))
    return found


def _commands(args: list[YScalar], subject: Subject) -> list[Issue]:
    """Run-time pip installs and remote code in a container's command and arguments."""
    issues: list[Issue] = []
    for node in args:
        text = node.as_text() or ""
        if "pip" in text and "install" in text:
            issues.extend(_installs(text, node, subject))
        if "trust_remote_code" in text:
            issues.extend(_remote_code(text, node, subject))
    return issues


def _installs(script: str, node: YScalar, subject: Subject) -> list[Issue]:
    issues: list[Issue] = []
    for command in parse_script(script):
        line = _line_in(node, script, command.start)
        pip = pip_install(invocation(command))
        if pip is None or any(requirement_name(r) == "kfp" for r in pip.requirements):
            continue  # KFP's own bootstrap install of its SDK
        if pip.unpinned:
            names = [spec for spec, _ in pip.unpinned]
            issues.append(
                Issue(
                    R.RUNTIME_INSTALL,
                    subject,
                    line,
                    f"installs {', '.join(names[:8])} at run time without exact versions.",
                    "pip install " + " ".join(sorted(names)[:8]),
                )
            )
    return issues


def _line_in(node: YScalar, text: str, offset: int) -> int:
    """The file line of an offset in a scalar: exact for block scalars (``|``, ``>``)."""
    if node.style in {"|", ">"}:
        return node.line + 1 + text.count("\n", 0, offset)
    return node.line


def _remote_code(source: str, node: YScalar, subject: Subject) -> list[Issue]:
    lines = remote_code_lines(source)
    issues = []
    for code_line in lines[:5]:
        line = node.line + code_line if node.style in {"|", ">"} else node.line
        issues.append(
            Issue(
                R.REMOTE_CODE_INLINE,
                subject,
                line,
                f"inline component code passes trust_remote_code=True (code line {code_line}).",
                "trust_remote_code=True",
            )
        )
    return issues


def remote_code_lines(source: str) -> list[int]:
    """1-based lines of ``trust_remote_code=True`` (keyword or dict entry) in Python source."""
    source = source[:_MAX_SOURCE]
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return [source.count("\n", 0, m.start()) + 1 for m in _REMOTE_CODE.finditer(source)]
    lines: list[int] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "trust_remote_code":
            if isinstance(node.value, ast.Constant) and node.value.value is True:
                lines.append(node.value.lineno)
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if (
                    isinstance(key, ast.Constant)
                    and key.value == "trust_remote_code"
                    and isinstance(value, ast.Constant)
                    and value.value is True
                ):
                    lines.append(value.lineno)
    return sorted(set(lines))


def _ir_parameters(spec: YMap) -> Iterator[tuple[str, Node | None, int]]:
    """Parameter definitions (with defaults) and the constants tasks pass to parameters."""
    sources = [spec.map("root")]
    components = spec.map("components")
    if components is not None:
        sources.extend(c for _, c in components.items() if isinstance(c, YMap))
    for source in sources:
        if source is None:
            continue
        params = source.map_at("inputDefinitions", "parameters")
        if params is not None:
            for name, definition in params.items():
                default = definition.get("defaultValue") if isinstance(definition, YMap) else None
                yield name, default, params.line_of(name)
        tasks = source.map_at("dag", "tasks")
        for _, task in tasks.items() if tasks is not None else ():
            inputs = task.map_at("inputs", "parameters") if isinstance(task, YMap) else None
            if inputs is not None:
                yield from _task_constants(inputs)


def _task_constants(inputs: YMap) -> Iterator[tuple[str, Node | None, int]]:
    """``runtimeValue.constant`` values a task passes to its component's parameters."""
    for name, value in inputs.items():
        if isinstance(value, YMap):
            constant = value.map("runtimeValue")
            node = constant.get("constant") if constant is not None else None
            yield name, node, inputs.line_of(name)


def _parameters(params: Iterator[tuple[str, Node | None, int]], subject: Subject) -> list[Issue]:
    """Secret-like parameters, one issue per name (a literal default wins)."""
    found: dict[str, Issue] = {}
    for name, default, line in params:
        value = default.as_text() if isinstance(default, YScalar) else None
        strength = secret_strength(name, value) if value else None
        if strength is not None:
            found[name] = Issue(
                R.SECRET_PARAMETER,
                subject,
                line,
                f"parameter {name} has a literal credential as its value (redacted).",
                f"{name}={redact(value or '')}",
                severity=Severity.HIGH,
            )
        elif name_kind(name) is NameKind.SECRET and name not in found:
            found[name] = Issue(
                R.SECRET_PARAMETER,
                subject,
                line,
                f"parameter {name} passes a secret through the pipeline spec and run metadata.",
                f"parameter {name}",
            )
    return list(found.values())


def argo_workflow(root: YMap, subject: Subject) -> list[Issue]:
    """Every issue of an Argo Workflow, WorkflowTemplate or CronWorkflow."""
    spec = root.map("spec")
    if root.text("kind") == "CronWorkflow" and spec is not None:
        spec = spec.map("workflowSpec")
    if spec is None:
        return []
    policy = PodPolicy(hardening=False, limits=True)
    issues = _retarget(check_pod(PodSpec(subject, spec, ()), policy))
    params: list[tuple[str, Node | None, int]] = [
        (p.text("name") or "", p.get("value") or p.get("default"), p.line)
        for p in _seq_maps(spec.map("arguments"), "parameters")
    ]
    issues.extend(_patch(spec, subject))
    for template in spec.maps("templates"):
        name = template.text("name") or "?"
        params.extend(
            (p.text("name") or "", p.get("value") or p.get("default"), p.line)
            for p in _seq_maps(template.map("inputs"), "parameters")
        )
        containers = _template_containers(template, name)
        pod = PodSpec(subject, template, tuple(containers))
        issues.extend(_retarget(check_pod(pod, policy)))
        issues.extend(_patch(template, subject.with_container(f"template '{name}'")))
        for label, container in containers:
            where = subject.with_container(label)
            issues.extend(_commands(_args(container), where))
            source = container.get("source")
            if isinstance(source, YScalar) and source.as_text():
                text = source.as_text() or ""
                if "trust_remote_code" in text:
                    issues.extend(_remote_code(text, source, where))
                if "pip" in text:
                    issues.extend(_installs(text, source, where))
    issues.extend(_parameters(iter(params), subject))
    return issues


def _template_containers(template: YMap, name: str) -> list[tuple[str, YMap]]:
    found: list[tuple[str, YMap]] = []
    for key in ("container", "script"):
        container = template.map(key)
        if container is not None:
            found.append((f"template '{name}' {key}", container))
    container_set = template.map("containerSet")
    if container_set is not None:
        found.extend(
            (f"template '{name}' container '{item.text('name') or '?'}'", item)
            for item in container_set.maps("containers")
        )
    for key in ("initContainers", "sidecars"):
        found.extend(
            (f"template '{name}' {key[:-1]} '{item.text('name') or '?'}'", item)
            for item in template.maps(key)
        )
    return found


def _patch(owner: YMap, subject: Subject) -> list[Issue]:
    """``podSpecPatch``: a YAML/JSON string merged into the pod; privileged is looked for."""
    patch = owner.get("podSpecPatch")
    text = patch.as_text() if isinstance(patch, YScalar) else None
    if not text or "privileged" not in text or patch is None:
        return []
    loaded = load_yaml(text[:_MAX_SOURCE])
    root = loaded.documents[0].root if loaded.documents else None
    if not isinstance(root, YMap):
        return []
    for container in root.maps("containers"):
        context = container.map("securityContext")
        if context is not None and context.flag("privileged"):
            return [
                Issue(
                    R.PRIVILEGED_COMPONENT,
                    subject,
                    patch.line,
                    "podSpecPatch makes a container privileged.",
                    "podSpecPatch privileged: true",
                )
            ]
    return []


def _retarget(issues: list[Issue]) -> list[Issue]:
    out = []
    for issue in issues:
        target = _RETARGET.get(issue.rule.id)
        out.append(issue.retarget(*target) if target is not None else issue)
    return out


def _seq_maps(owner: YMap | None, key: str) -> Iterator[YMap]:
    value = owner.get(key) if owner is not None else None
    return value.maps() if isinstance(value, YSeq) else iter(())


def is_argo(root: YMap) -> bool:
    """Whether a document is an Argo workflow object."""
    return (root.text("kind") or "") in _ARGO_KINDS and "argoproj.io" in (
        root.text("apiVersion") or ""
    )
