"""Kubernetes objects: naming them, finding their pod templates, and what the file around them
says (``LimitRange`` defaults, service accounts without token automount, auth policies).

The pod template is found wherever it is: ``spec`` of a Pod, ``spec.template.spec`` of the
workload controllers, ``spec.jobTemplate.spec.template.spec`` of a CronJob, and, for any other
kind (Kubeflow ``PyTorchJob``/``TFJob``, KubeRay ``RayCluster``, Knative ``Service``, Argo
``Rollout``…), every mapping whose ``containers`` is a list of mappings, searched to a bounded
depth.

>>> from bastion.scan.configs.yamlload import load_yaml
>>> root = load_yaml("kind: CronJob\\nmetadata: {name: nightly, namespace: ml}\\nspec:\\n"
...     "  jobTemplate:\\n    spec:\\n      template:\\n        spec:\\n"
...     "          containers: [{name: train, image: t}]\\n").documents[0].root
>>> object_name(root), [path for path, _, _ in pod_templates(root)]
('CronJob/ml/nightly', ['spec.jobTemplate.spec.template.spec'])
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from bastion.scan.configs.tree import Document, YMap, YSeq

#: Kinds read by their own module (serving, pipelines) or that never hold a pod template.
SPECIAL_KINDS = frozenset(
    {"InferenceService", "ServingRuntime", "ClusterServingRuntime", "SeldonDeployment"}
    | {"Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow"}
    | {"CustomResourceDefinition", "ConfigMap", "Secret", "List"}
)
_SEARCH_DEPTH = 10
_MAX_TEMPLATES = 64
AUTH_KINDS = frozenset({"AuthorizationPolicy", "RequestAuthentication"})


def object_name(root: YMap) -> str:
    """``Kind/namespace/name`` (``Kind/name`` when the namespace is not set)."""
    kind = root.text("kind") or "object"
    meta = root.map("metadata")
    name = (meta.text("name") or meta.text("generateName")) if meta is not None else None
    namespace = meta.text("namespace") if meta is not None else None
    parts = [kind, namespace, name or "?"]
    return "/".join(p for p in parts if p)


def namespace_of(root: YMap) -> str | None:
    """The object's ``metadata.namespace``."""
    meta = root.map("metadata")
    return meta.text("namespace") if meta is not None else None


def pod_templates(root: YMap) -> list[tuple[str, YMap, YMap | None]]:
    """``(path, pod spec, pod metadata)`` of every pod template in the object."""
    kind = root.text("kind") or ""
    spec = root.map("spec")
    if spec is None or kind in SPECIAL_KINDS:
        return []
    if kind == "Pod":
        return [("spec", spec, root.map("metadata"))]
    if kind == "CronJob":
        template = spec.map_at("jobTemplate", "spec", "template")
        inner = template.map("spec") if template is not None else None
        if template is not None and inner is not None:
            return [("spec.jobTemplate.spec.template.spec", inner, template.map("metadata"))]
    found: list[tuple[str, YMap, YMap | None]] = []
    for path, node, parent in _walk(spec, "spec", None, 0):
        if len(found) >= _MAX_TEMPLATES:
            break
        found.append((path, node, parent.map("metadata") if parent is not None else None))
    return found


def _walk(
    node: YMap, path: str, parent: YMap | None, depth: int
) -> Iterator[tuple[str, YMap, YMap | None]]:
    containers = node.seq("containers")
    if containers is not None and any(True for _ in containers.maps()):
        yield path, node, parent
        return
    if depth >= _SEARCH_DEPTH:
        return
    for key, value in node.items():
        if isinstance(value, YMap):
            yield from _walk(value, f"{path}.{key}", node, depth + 1)
        elif isinstance(value, YSeq):
            for index, item in enumerate(value.maps()):
                yield from _walk(item, f"{path}.{key}[{index}]", node, depth + 1)


@dataclass(frozen=True)
class FileContext:
    """Facts about the whole file that change how one object is judged."""

    #: More than one document: subjects carry the document index.
    multi: bool = False
    #: Helm template: only what is literally present is reported.
    templated: bool = False
    #: Namespaces (``None``: unset) whose LimitRange gives containers default limits.
    limit_defaults: frozenset[str | None] = frozenset()
    #: Service accounts declared with ``automountServiceAccountToken: false``.
    no_automount: frozenset[str] = frozenset()
    #: An Istio AuthorizationPolicy or RequestAuthentication is defined.
    auth_policy: bool = False
    #: VirtualServices, for the public-ingress check.
    virtual_services: tuple[YMap, ...] = ()

    def has_limit_defaults(self, namespace: str | None) -> bool:
        """Whether a LimitRange in this file sets container defaults for the namespace."""
        return None in self.limit_defaults or namespace in self.limit_defaults


def file_context(documents: Sequence[Document], templated: bool) -> FileContext:
    """Collect the cross-object facts of a file."""
    limit_defaults: set[str | None] = set()
    no_automount: set[str] = set()
    auth = False
    virtual: list[YMap] = []
    for _, root in objects(documents):
        kind = root.text("kind")
        spec = root.map("spec")
        if kind == "LimitRange" and spec is not None:
            for item in spec.maps("limits"):
                default = item.map("default")
                if item.text("type") == "Container" and default is not None:
                    if "memory" in default and "cpu" in default:
                        limit_defaults.add(namespace_of(root))
        elif kind == "ServiceAccount" and root.flag("automountServiceAccountToken") is False:
            meta = root.map("metadata")
            if meta is not None and meta.text("name"):
                no_automount.add(meta.text("name") or "")
        elif kind in AUTH_KINDS:
            auth = True
        elif kind == "VirtualService":
            virtual.append(root)
    return FileContext(
        multi=len(documents) > 1,
        templated=templated,
        limit_defaults=frozenset(limit_defaults),
        no_automount=frozenset(no_automount),
        auth_policy=auth,
        virtual_services=tuple(virtual),
    )


def objects(documents: Sequence[Document]) -> Iterator[tuple[int, YMap]]:
    """``(document index, object)`` for every object with a ``kind``, ``List`` items included."""
    for document in documents:
        root = document.root
        if not isinstance(root, YMap) or not root.text("kind"):
            continue
        if (root.text("kind") or "").endswith("List") and root.seq("items") is not None:
            yield from ((document.index, i) for i in root.maps("items") if i.text("kind"))
        else:
            yield document.index, root
