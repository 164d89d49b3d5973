"""KServe and Seldon manifests (``BST-KSV``): where models come from, who may query them, and
the containers that serve them (``BST-K8S``).

A KServe component (``predictor``, ``transformer``, ``explainer``) is a pod spec in which the
framework entry (``model``, ``sklearn``, ``huggingface``…) is one more container. Storage URIs
are looked for anywhere in the component (``storageUri``, ``storageUris[].uri``). Seldon v1's
``SeldonDeployment`` has pod specs in ``componentSpecs`` and model URIs in the inference graph;
Seldon Core 2's ``Model`` has a ``storageUri``.

>>> model_uri_issues("hf://meta-llama/Llama-3-8B", 7, Subject("x"))[0].rule.id
'BST-KSV-002'
>>> model_uri_issues("gs://seldon-models/v1.19.0/sklearn/iris", 7, Subject("x"))
[]
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from bastion.core import Severity
from bastion.scan.configs import rules_serving as R
from bastion.scan.configs.images import Pin, pin_of
from bastion.scan.configs.issues import Issue, Subject
from bastion.scan.configs.pod import PodPolicy, PodSpec, check_pod, containers_of
from bastion.scan.configs.tree import YMap, YScalar, YSeq
from bastion.scan.configs.workloads import FileContext, namespace_of

_COMPONENTS = ("predictor", "transformer", "explainer")
_FRAMEWORKS = (
    "model",
    "sklearn",
    "xgboost",
    "lightgbm",
    "tensorflow",
    "pytorch",
    "onnx",
    "triton",
    "huggingface",
    "paddle",
    "pmml",
    "alibi",
    "art",
)
_AUTH_KEYS = ("security.opendatahub.io/enable-auth", "serving.kserve.io/enable-auth")
_VISIBILITY_KEYS = ("networking.knative.dev/visibility", "serving.knative.dev/visibility")
_PRIVATE_GATEWAYS = frozenset(
    {"mesh", "knative-local-gateway", "cluster-local-gateway"}
    | {"knative-serving/knative-local-gateway", "knative-serving/cluster-local-gateway"}
)
_VERSIONED = re.compile(
    r"(?:^|/)(?:v?\d+(?:[._-]\d+)*|[0-9a-f]{12,}|\d{8,}|(?:version|rev|revision)[-_=]?\w+)(?:/|$)"
    r"|[?&](?:versionId|generation)="
)
_MAX_GRAPH = 64


def inference_service(root: YMap, subject: Subject, context: FileContext) -> list[Issue]:
    """An ``InferenceService``: components, storage URIs, auth and ingress."""
    spec = root.map("spec")
    if spec is None:
        return []
    issues: list[Issue] = []
    policy = PodPolicy(
        hardening=not context.templated, limits=False, no_automount_accounts=context.no_automount
    )
    for name in _COMPONENTS:
        component = spec.map(name)
        if component is None:
            continue
        containers = [(f"{name} {label}", c) for label, c in containers_of(component)]
        for framework in _FRAMEWORKS:
            entry = component.map(framework)
            if entry is not None:
                containers.append((f"{name} {framework}", entry))
        pod = PodSpec(subject, component, tuple(containers), None, namespace_of(root))
        issues.extend(check_pod(pod, policy))
        for uri, line in _uris(component, 0):
            issues.extend(model_uri_issues(uri, line, subject.with_container(name)))
    public = _public(root, subject, context)
    issues.extend(public)
    if not _has_auth(root) and not context.auth_policy and not context.templated:
        issues.append(
            Issue(
                R.NO_AUTH,
                subject,
                root.line,
                "no authentication is configured for the inference endpoint"
                + (" and it is reachable from outside the cluster." if public else "."),
                "no enable-auth annotation or AuthorizationPolicy",
                severity=Severity.HIGH if public else None,
            )
        )
    return issues


def serving_runtime(root: YMap, subject: Subject, context: FileContext) -> list[Issue]:
    """A ``ServingRuntime``/``ClusterServingRuntime``: its containers."""
    spec = root.map("spec")
    if spec is None:
        return []
    policy = PodPolicy(
        hardening=not context.templated, limits=False, no_automount_accounts=context.no_automount
    )
    pod = PodSpec(subject, spec, containers_of(spec), None, namespace_of(root))
    return check_pod(pod, policy)


def seldon_deployment(root: YMap, subject: Subject, context: FileContext) -> list[Issue]:
    """A Seldon v1 ``SeldonDeployment``: component pods, graph model URIs, auth."""
    spec = root.map("spec")
    if spec is None:
        return []
    issues: list[Issue] = []
    namespace = namespace_of(root)
    policy = PodPolicy(
        hardening=not context.templated,
        limits=not context.templated and not context.has_limit_defaults(namespace),
        no_automount_accounts=context.no_automount,
    )
    for predictor in spec.maps("predictors"):
        label = f"predictor '{predictor.text('name') or '?'}'"
        for component in predictor.maps("componentSpecs"):
            pod_spec = component.map("spec")
            if pod_spec is not None:
                containers = tuple((f"{label} {c}", m) for c, m in containers_of(pod_spec))
                pod = PodSpec(subject, pod_spec, containers, component.map("metadata"), namespace)
                issues.extend(check_pod(pod, policy))
        graph = predictor.map("graph")
        for node in _graph_nodes(graph):
            uri = node.text("modelUri")
            if uri:
                where = subject.with_container(f"{label} graph node '{node.text('name') or '?'}'")
                issues.extend(model_uri_issues(uri, node.line_of("modelUri"), where))
    oauth = spec.text("oauth_key") or spec.text("oauth_secret")
    if not oauth and not context.auth_policy and not context.templated:
        issues.append(
            Issue(
                R.NO_AUTH,
                subject,
                root.line,
                "no oauth settings or AuthorizationPolicy protect the deployment.",
                "no oauth_key or AuthorizationPolicy",
            )
        )
    return issues


def seldon_model(root: YMap, subject: Subject) -> list[Issue]:
    """A Seldon Core 2 ``Model``: its storage URI."""
    spec = root.map("spec")
    uri = spec.text("storageUri") if spec is not None else None
    if spec is None or not uri:
        return []
    return model_uri_issues(uri, spec.line_of("storageUri"), subject)


def model_uri_issues(uri: str, line: int, subject: Subject) -> list[Issue]:
    """Cleartext or unpinned model locations."""
    text = uri.strip()
    lower = text.lower()
    if not text or "$" in text or "{{" in text or "__helm__" in text:
        return []
    if lower.startswith("http://") and not lower.startswith(("http://localhost", "http://127.")):
        return [
            Issue(
                R.MODEL_OVER_HTTP,
                subject,
                line,
                f"the model is downloaded over plain HTTP ({text[:120]}).",
                text[:120],
            )
        ]
    if lower.startswith("hf://"):
        repo, _, revision = text[5:].partition(":")
        if re.fullmatch(r"[0-9a-f]{40}", revision):
            return []
        detail = f"revision {revision!r} is not a commit" if revision else "no revision"
        return [
            Issue(
                R.MODEL_UNPINNED,
                subject,
                line,
                f"hf://{repo} has {detail}: the Hub repository's current state is served.",
                text[:120],
            )
        ]
    if lower.startswith("oci://"):
        pin = pin_of(text[6:])
        if pin in {Pin.LATEST, Pin.TAG}:
            return [
                Issue(
                    R.MODEL_UNPINNED,
                    subject,
                    line,
                    f"the model image {text[:120]} is not pinned by digest.",
                    text[:120],
                    severity=Severity.MEDIUM if pin is Pin.LATEST else Severity.LOW,
                )
            ]
        return []
    if re.match(r"^(?:s3|gs|gcs|azure|abfss?|wasbs?|https)://", lower):
        path = text.split("://", 1)[1]
        if _VERSIONED.search("/" + path.split("/", 1)[-1] if "/" in path else ""):
            return []
        return [
            Issue(
                R.MODEL_UNPINNED,
                subject,
                line,
                f"{text[:120]} has no version or digest in its path.",
                text[:120],
                severity=Severity.LOW,
            )
        ]
    return []


def _uris(node: YMap, depth: int) -> Iterator[tuple[str, int]]:
    if depth > 6:
        return
    for key, value in node.items():
        if key == "storageUri" and isinstance(value, YScalar) and value.as_text():
            yield value.as_text() or "", node.line_of(key)
        elif key == "storageUris" and isinstance(value, YSeq):
            for item in value.maps():
                uri = item.text("uri")
                if uri:
                    yield uri, item.line_of("uri")
        elif isinstance(value, YMap):
            yield from _uris(value, depth + 1)


def _graph_nodes(graph: YMap | None) -> Iterator[YMap]:
    pending = [graph] if graph is not None else []
    seen = 0
    while pending and seen < _MAX_GRAPH:
        node = pending.pop()
        seen += 1
        yield node
        pending.extend(node.maps("children"))


def _has_auth(root: YMap) -> bool:
    meta = root.map("metadata")
    for key in ("annotations", "labels"):
        values = meta.map(key) if meta is not None else None
        if values is not None and any((values.text(k) or "").lower() == "true" for k in _AUTH_KEYS):
            return True
    return False


def _public(root: YMap, subject: Subject, context: FileContext) -> list[Issue]:
    meta = root.map("metadata")
    name = meta.text("name") if meta is not None else None
    issues: list[Issue] = []
    for service in context.virtual_services:
        spec = service.map("spec")
        gateways = spec.seq("gateways") if spec is not None else None
        external = (
            [g for g, _ in gateways.texts() if g not in _PRIVATE_GATEWAYS] if gateways else []
        )
        if name and external and _routes_to(service, name):
            issues.append(
                Issue(
                    R.PUBLIC_INGRESS,
                    subject,
                    service.line,
                    f"VirtualService routes to it through the gateway {external[0]}.",
                    f"VirtualService gateway {external[0]}",
                )
            )
    labels = meta.map("labels") if meta is not None else None
    annotations = meta.map("annotations") if meta is not None else None
    mode = (annotations.text("serving.kserve.io/deploymentMode") if annotations else None) or ""
    local = labels is not None and any(labels.text(k) == "cluster-local" for k in _VISIBILITY_KEYS)
    serverless = mode.lower() not in {"rawdeployment", "modelmesh", "standard"}
    if not local and serverless and not context.templated:
        issues.append(
            Issue(
                R.PUBLIC_INGRESS,
                subject,
                root.line,
                "the serverless InferenceService is published on the Knative ingress gateway "
                "(no networking.knative.dev/visibility: cluster-local label).",
                "no cluster-local visibility label",
            )
        )
    return issues


def _routes_to(service: YMap, name: str) -> bool:
    spec = service.map("spec")
    for route in spec.maps("http") if spec is not None else ():
        for target in route.maps("route"):
            destination = target.map("destination")
            host = destination.text("host") if destination is not None else None
            if host and (
                host == name or host.startswith(name + "-") or host.startswith(name + ".")
            ):
                return True
    return False
