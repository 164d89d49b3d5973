"""Which check reads which document of a YAML/JSON file: Kubernetes objects, KServe/Seldon,
Argo, KFP IR specs, docker-compose files. Anything else produces nothing.

>>> from bastion.scan.configs.yamlload import load_yaml
>>> docs = load_yaml("apiVersion: v1\\nkind: Pod\\nmetadata: {name: p}\\nspec:\\n"
...                  "  hostNetwork: true\\n  containers: []\\n").documents
>>> [(i.rule.id, i.line) for i in check_manifests(docs)]
[('BST-K8S-004', 5), ('BST-K8S-011', 5)]
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence

from bastion.core import Severity
from bastion.scan.configs import rules_k8s as R
from bastion.scan.configs import serving
from bastion.scan.configs.compose import compose_issues, is_compose
from bastion.scan.configs.issues import Issue, Subject
from bastion.scan.configs.pipelines import (
    argo_workflow,
    is_argo,
    is_kfp_spec,
    kfp_platform,
    kfp_spec,
)
from bastion.scan.configs.pod import PodPolicy, PodSpec, check_pod, containers_of
from bastion.scan.configs.secretvalues import Strength, is_literal, secret_strength
from bastion.scan.configs.tree import Document, YMap
from bastion.scan.configs.workloads import (
    FileContext,
    file_context,
    namespace_of,
    object_name,
    objects,
    pod_templates,
)

_RUNTIMES = frozenset({"ServingRuntime", "ClusterServingRuntime"})
_MAX_SECRET_VALUE = 1 << 16


def check_manifests(documents: Sequence[Document], *, templated: bool = False) -> list[Issue]:
    """Every issue of the documents of one file."""
    context = file_context(documents, templated)
    issues: list[Issue] = []
    platform = next(
        (p for d in documents if isinstance(d.root, YMap) and (p := kfp_platform(d.root))), None
    )
    for document in documents:
        root = document.root
        if not isinstance(root, YMap):
            continue
        index = document.index if context.multi else None
        spec = is_kfp_spec(root)
        if spec is not None:
            issues.extend(kfp_spec(spec, platform, index))
        elif is_compose(root) and not root.text("kind"):
            issues.extend(compose_issues(root, index))
    for index, obj in objects(documents):
        subject = Subject(object_name(obj), index if context.multi else None)
        issues.extend(_object(obj, subject, context))
    return issues


def _object(obj: YMap, subject: Subject, context: FileContext) -> list[Issue]:
    kind = obj.text("kind") or ""
    api = obj.text("apiVersion") or ""
    if kind == "InferenceService" and ("kserve" in api or "kubeflow" in api):
        return serving.inference_service(obj, subject, context)
    if kind in _RUNTIMES and "kserve" in api:
        return serving.serving_runtime(obj, subject, context)
    if kind == "SeldonDeployment":
        return serving.seldon_deployment(obj, subject, context)
    if kind == "Model" and "seldon" in api:
        return serving.seldon_model(obj, subject)
    if is_argo(obj):
        return argo_workflow(obj, subject)
    if kind == "Secret":
        return secret_object(obj, subject)
    issues: list[Issue] = []
    namespace = namespace_of(obj)
    policy = PodPolicy(
        hardening=not context.templated,
        limits=not context.templated and not context.has_limit_defaults(namespace),
        no_automount_accounts=context.no_automount,
    )
    for _path, spec, metadata in pod_templates(obj):
        pod = PodSpec(subject, spec, containers_of(spec), metadata, namespace)
        issues.extend(check_pod(pod, policy))
    return issues


def secret_object(obj: YMap, subject: Subject) -> list[Issue]:
    """A ``kind: Secret`` whose ``data``/``stringData`` hold literal values."""
    if (obj.text("type") or "") == "kubernetes.io/service-account-token":
        return []
    keys: list[str] = []
    strong = False
    line = obj.line
    for field, encoded in (("stringData", False), ("data", True)):
        values = obj.map(field)
        if values is None:
            continue
        for key in values.keys():
            value = values.text(key)
            if value is None or len(value) > _MAX_SECRET_VALUE:
                continue
            plain = _decode(value) if encoded else value
            if plain is None or not is_literal(plain):
                continue
            if not keys:
                line = values.line_of(key)
            keys.append(key)
            strong = strong or secret_strength(key, plain) is Strength.STRONG
    if not keys:
        return []
    shown = ", ".join(keys[:6]) + (" …" if len(keys) > 6 else "")
    return [
        Issue(
            R.SECRET_OBJECT,
            subject,
            line,
            f"the Secret carries literal values for {shown} (not shown).",
            f"Secret keys {shown}",
            severity=Severity.HIGH if strong else None,
        )
    ]


def _decode(value: str) -> str | None:
    try:
        return base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return value  # not base64 (or binary): still a literal committed value
