"""Container and pod security settings (``BST-K8S``), wherever a pod spec appears.

:func:`check_pod` takes a :class:`PodSpec` (the pod-level mapping plus its containers, however
the owning object nests them) and a :class:`PodPolicy` that says which checks apply: settings
that are *missing* (no ``runAsNonRoot``, no limits…) are only meaningful where the manifest is
the whole truth, so Helm templates and compiled pipeline specs switch them off, and KServe
components switch off the limits check because KServe's webhook fills in defaults.

>>> from bastion.scan.configs.yamlload import load_yaml
>>> spec = load_yaml("hostPID: true\\ncontainers:\\n- name: a\\n  image: x@sha256:" + "0" * 64
...                  + "\\n  securityContext: {privileged: true}\\n").documents[0].root
>>> pod = PodSpec(Subject("Pod/a"), spec, containers_of(spec))
>>> sorted(i.rule.id for i in check_pod(pod, PodPolicy(hardening=False, limits=False)))
['BST-K8S-001', 'BST-K8S-004']
"""

from __future__ import annotations

from dataclasses import dataclass

from bastion.core import Severity
from bastion.scan.configs import container_parts as parts
from bastion.scan.configs import rules_k8s as R
from bastion.scan.configs.issues import Issue, Subject
from bastion.scan.configs.tree import YMap

_CRITICAL_PATHS = frozenset(
    {"/", "/var/run/docker.sock", "/run/docker.sock", "/run/containerd/containerd.sock"}
    | {"/var/run/containerd/containerd.sock", "/var/run/crio/crio.sock", "/run/crio/crio.sock"}
    | {"/var/run", "/run", "/var/lib/docker", "/var/lib/containerd"}
)
_HIGH_PATHS = (
    "/etc",
    "/proc",
    "/sys",
    "/root",
    "/home",
    "/var/lib/kubelet",
    "/var/log",
    "/dev",
    "/boot",
    "/usr",
    "/lib",
    "/bin",
    "/sbin",
)
_CAPABILITIES = {
    "ALL": Severity.HIGH,
    "SYS_ADMIN": Severity.HIGH,
    "SYS_PTRACE": Severity.HIGH,
    "SYS_MODULE": Severity.HIGH,
    "DAC_READ_SEARCH": Severity.HIGH,
    "SYS_RAWIO": Severity.HIGH,
    "BPF": Severity.HIGH,
    "NET_RAW": Severity.MEDIUM,
    "NET_ADMIN": Severity.MEDIUM,
    "SYS_BOOT": Severity.MEDIUM,
    "SYSLOG": Severity.MEDIUM,
}
_LEGACY_SECCOMP = "seccomp.security.alpha.kubernetes.io/pod"
_LEGACY_CONTAINER_SECCOMP = "container.seccomp.security.alpha.kubernetes.io/"
_LEGACY_APPARMOR = "container.apparmor.security.beta.kubernetes.io/"


@dataclass(frozen=True)
class PodSpec:
    """A pod-level mapping and its containers as ``(label, container mapping)``."""

    subject: Subject
    spec: YMap
    containers: tuple[tuple[str, YMap], ...]
    #: The pod template's metadata (legacy seccomp/AppArmor annotations live there).
    metadata: YMap | None = None
    namespace: str | None = None


@dataclass(frozen=True)
class PodPolicy:
    """Which checks apply to a pod spec."""

    #: Report settings that are missing (runAsNonRoot, allowPrivilegeEscalation, read-only root
    #: file system, service-account token) and not only those set to an unsafe value.
    hardening: bool = True
    #: Report containers without CPU/memory limits.
    limits: bool = True
    #: Service accounts (by name) whose token is not mounted automatically (same file).
    no_automount_accounts: frozenset[str] = frozenset()


def containers_of(spec: YMap) -> tuple[tuple[str, YMap], ...]:
    """The containers of a pod spec: ``containers``, ``initContainers``, ``ephemeralContainers``."""
    found: list[tuple[str, YMap]] = []
    for key, label in (
        ("initContainers", "init container"),
        ("containers", "container"),
        ("ephemeralContainers", "ephemeral container"),
    ):
        for index, container in enumerate(spec.maps(key)):
            name = container.text("name") or f"#{index + 1}"
            found.append((f"{label} '{name}'", container))
    return tuple(found)


def check_pod(pod: PodSpec, policy: PodPolicy) -> list[Issue]:
    """Every pod- and container-level issue of one pod spec."""
    issues = _pod_level(pod, policy)
    for label, container in pod.containers:
        subject = pod.subject.with_container(label)
        issues.extend(_container(pod, policy, subject, label, container))
    return issues


def _pod_level(pod: PodSpec, policy: PodPolicy) -> list[Issue]:
    spec, subject = pod.spec, pod.subject
    issues: list[Issue] = [
        Issue(
            R.HOST_NAMESPACE,
            subject,
            spec.line_of(key),
            f"{key}: true shares the node's namespace with the pod.",
            f"{key}: true",
        )
        for key in ("hostNetwork", "hostPID", "hostIPC")
        if spec.flag(key)
    ]
    for volume in spec.maps("volumes"):
        host = volume.map("hostPath")
        path = host.text("path") if host is not None else None
        if host is not None and path:
            severity = host_path_severity(path)
            name = volume.text("name") or "?"
            issues.append(
                Issue(
                    R.HOST_PATH,
                    subject,
                    volume.line_of("hostPath"),
                    f"volume '{name}' mounts the host path {path}.",
                    f"hostPath {path}",
                    severity=severity,
                )
            )
    if policy.hardening and spec.flag("automountServiceAccountToken") is not False:
        account = spec.text("serviceAccountName") or spec.text("serviceAccount") or "default"
        if account not in policy.no_automount_accounts:
            issues.append(
                Issue(
                    R.SA_TOKEN_AUTOMOUNT,
                    subject,
                    spec.line_of("automountServiceAccountToken"),
                    f"the token of service account '{account}' is mounted in every container.",
                    "automountServiceAccountToken not false",
                )
            )
    pod_context = spec.map("securityContext")
    if pod_context is not None:
        issues.extend(_profiles(pod_context, subject, "pod securityContext"))
        if _flag_at(pod_context, "windowsOptions", "hostProcess"):
            issues.append(_privileged(subject, pod_context.line, "windowsOptions.hostProcess"))
    annotations = pod.metadata.map("annotations") if pod.metadata is not None else None
    if annotations is not None:
        for key in annotations.keys():
            value = (annotations.text(key) or "").lower()
            legacy = key == _LEGACY_SECCOMP or key.startswith(
                (_LEGACY_CONTAINER_SECCOMP, _LEGACY_APPARMOR)
            )
            if legacy and value == "unconfined":
                issues.append(
                    Issue(
                        R.UNCONFINED_PROFILE,
                        subject,
                        annotations.line_of(key),
                        f"annotation {key} is unconfined.",
                        f"{key}: unconfined",
                    )
                )
    return issues


def _container(
    pod: PodSpec, policy: PodPolicy, subject: Subject, label: str, container: YMap
) -> list[Issue]:
    issues: list[Issue] = []
    context = container.map("securityContext")
    pod_context = pod.spec.map("securityContext")
    privileged = bool(context is not None and context.flag("privileged"))
    if privileged and context is not None:
        issues.append(_privileged(subject, context.line_of("privileged"), "privileged"))
    if context is not None and _flag_at(context, "windowsOptions", "hostProcess"):
        issues.append(_privileged(subject, context.line, "windowsOptions.hostProcess"))
    issues.extend(
        _escalation_and_root(policy, subject, container, context, pod_context, privileged)
    )
    if context is not None:
        issues.extend(_capabilities(subject, context))
        issues.extend(_profiles(context, subject, "securityContext"))
    if policy.hardening and not (context is not None and context.flag("readOnlyRootFilesystem")):
        issues.append(
            Issue(
                R.WRITABLE_ROOT_FS,
                subject,
                context.line if context is not None else container.line,
                "the root file system is writable (readOnlyRootFilesystem is not true).",
                "readOnlyRootFilesystem not true",
            )
        )
    if policy.limits and not label.startswith("ephemeral"):
        issues.extend(parts.limits(subject, container))
    issues.extend(parts.gpus(subject, container))
    issues.extend(parts.image(subject, container))
    issues.extend(parts.environment(subject, container))
    issues.extend(parts.host_ports(subject, container))
    return issues


def _privileged(subject: Subject, line: int, what: str) -> Issue:
    return Issue(
        R.PRIVILEGED,
        subject,
        line,
        f"{what}: true gives the container full access to the node.",
        f"{what}: true",
    )


def _escalation_and_root(
    policy: PodPolicy,
    subject: Subject,
    container: YMap,
    context: YMap | None,
    pod_context: YMap | None,
    privileged: bool,
) -> list[Issue]:
    issues: list[Issue] = []
    line = context.line if context is not None else container.line
    escalation = context.flag("allowPrivilegeEscalation") if context is not None else None
    if not privileged and escalation is True:
        line = context.line_of("allowPrivilegeEscalation") if context is not None else line
        issues.append(
            Issue(
                R.PRIVILEGE_ESCALATION,
                subject,
                line,
                "allowPrivilegeEscalation: true lets processes gain privileges (setuid).",
                "allowPrivilegeEscalation: true",
                severity=Severity.HIGH,
            )
        )
    elif not privileged and escalation is None and policy.hardening:
        issues.append(
            Issue(
                R.PRIVILEGE_ESCALATION,
                subject,
                line,
                "allowPrivilegeEscalation is not set to false.",
                "allowPrivilegeEscalation not false",
            )
        )
    user, user_line = _effective(context, pod_context, "runAsUser", container.line)
    non_root, non_root_line = _effective(context, pod_context, "runAsNonRoot", container.line)
    if user == 0 and not isinstance(user, bool):
        issues.append(
            Issue(
                R.RUNS_AS_ROOT,
                subject,
                user_line,
                "runAsUser: 0 runs the container as root.",
                "runAsUser: 0",
                severity=Severity.HIGH,
            )
        )
    elif non_root is False:
        issues.append(
            Issue(
                R.RUNS_AS_ROOT,
                subject,
                non_root_line,
                "runAsNonRoot: false allows the image to run as root.",
                "runAsNonRoot: false",
            )
        )
    elif non_root is None and user is None and policy.hardening:
        issues.append(
            Issue(
                R.RUNS_AS_ROOT,
                subject,
                line,
                "neither runAsNonRoot: true nor a non-zero runAsUser is set; the image's user "
                "(root for most images) applies.",
                "runAsNonRoot not set",
            )
        )
    return issues


def _effective(
    context: YMap | None, pod_context: YMap | None, key: str, default_line: int
) -> tuple[object, int]:
    """A security-context value: the container's, else the pod's."""
    for source in (context, pod_context):
        if source is not None and key in source:
            node = source.get(key)
            value = getattr(node, "value", None)
            return value, source.line_of(key)
    return None, default_line


def _capabilities(subject: Subject, context: YMap) -> list[Issue]:
    caps = context.map("capabilities")
    added = caps.seq("add") if caps is not None else None
    if added is None:
        return []
    issues: list[Issue] = []
    for text, line in added.texts():
        name = text.upper().removeprefix("CAP_")
        severity = _CAPABILITIES.get(name)
        if severity is not None:
            issues.append(
                Issue(
                    R.ADDED_CAPABILITIES,
                    subject,
                    line,
                    f"capability {name} is added.",
                    f"capabilities.add {name}",
                    severity=severity,
                )
            )
    return issues


def _profiles(context: YMap, subject: Subject, where: str) -> list[Issue]:
    issues: list[Issue] = []
    for key in ("seccompProfile", "appArmorProfile"):
        profile = context.map(key)
        if profile is not None and (profile.text("type") or "").lower() == "unconfined":
            issues.append(
                Issue(
                    R.UNCONFINED_PROFILE,
                    subject,
                    profile.line_of("type"),
                    f"{where}.{key}.type is Unconfined.",
                    f"{key}.type: Unconfined",
                )
            )
    return issues


def capability_severity(name: str) -> Severity | None:
    """How dangerous an added capability is (``None``: not one of the dangerous ones)."""
    return _CAPABILITIES.get(name.upper().removeprefix("CAP_"))


def host_path_severity(path: str) -> Severity:
    """How much of the host a mounted path exposes."""
    normalized = path.rstrip("/") or "/"
    if normalized in _CRITICAL_PATHS or normalized.endswith(".sock"):
        return Severity.CRITICAL
    if any(normalized == p or normalized.startswith(p + "/") for p in _HIGH_PATHS):
        return Severity.HIGH
    return Severity.MEDIUM


def _flag_at(mapping: YMap, *keys: str) -> bool:
    node = mapping.path(*keys)
    return bool(getattr(node, "value", None) is True)
