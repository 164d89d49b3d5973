"""Rules for container runtime settings (``BST-K8S-NNN``) and YAML loading (``BST-YML-NNN``).

The same container checks (:mod:`.pod`) run wherever a pod spec appears: Kubernetes workloads
(Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, and any other kind that
carries a pod template, such as Kubeflow training jobs or KubeRay clusters), KServe and Seldon
predictors, Argo templates, and the equivalent settings of docker-compose services. The rule id
names the problem, the message names where it is.
"""

from __future__ import annotations

from bastion.core import Confidence, References, Severity
from bastion.rules import Rule
from bastion.scan.configs import refs


def _rule(
    number: int,
    title: str,
    severity: Severity,
    doc: str,
    remediation: str,
    references: References,
    confidence: Confidence = Confidence.HIGH,
) -> Rule:
    return Rule(
        f"BST-K8S-{number:03d}",
        title,
        severity,
        "configs",
        doc=doc,
        remediation=remediation,
        references=references,
        confidence=confidence,
    )


PRIVILEGED = _rule(
    1,
    "Privileged container",
    Severity.CRITICAL,
    """
    ``securityContext.privileged: true`` (Compose ``privileged: true``, Windows
    ``hostProcess: true``) gives the container every capability and the host's devices: it
    is root on the node. A compromised model server or training job in such a container
    reaches every other workload, secret and model on that node.
    """,
    "Remove privileged; grant the one capability or device the workload needs instead.",
    refs.PRIVILEGE,
)
PRIVILEGE_ESCALATION = _rule(
    2,
    "Privilege escalation not disabled",
    Severity.MEDIUM,
    """
    ``allowPrivilegeEscalation`` is not ``false``: a process can gain more privileges than its
    parent through setuid binaries or file capabilities (the Pod Security "restricted"
    profile requires ``false``). Set explicitly to ``true`` it is reported as high.
    """,
    "Set securityContext.allowPrivilegeEscalation: false on every container.",
    refs.PRIVILEGE,
)
RUNS_AS_ROOT = _rule(
    3,
    "Container may run as root",
    Severity.MEDIUM,
    """
    Neither the container nor the pod sets ``runAsNonRoot: true`` or a non-zero ``runAsUser``,
    so the image's user decides, and that is root for most images. ``runAsUser: 0`` (Compose
    ``user: root``) is reported as high.
    """,
    "Set runAsNonRoot: true and runAsUser/runAsGroup to an unprivileged id.",
    refs.PRIVILEGE,
)
HOST_NAMESPACE = _rule(
    4,
    "Host namespace shared",
    Severity.HIGH,
    """
    ``hostNetwork``, ``hostPID`` or ``hostIPC`` is ``true`` (Compose ``network_mode: host``,
    ``pid: host``, ``ipc: host``): the pod sees the node's network interfaces (and services
    bound to localhost), every process on the node, or its shared memory. Any of them turns a
    container compromise into a node compromise or a data leak across workloads.
    """,
    "Remove hostNetwork/hostPID/hostIPC; expose ports through a Service instead.",
    refs.HOST_ACCESS,
)
HOST_PATH = _rule(
    5,
    "hostPath volume",
    Severity.MEDIUM,
    """
    A ``hostPath`` volume (Compose bind mount of a host directory) mounts part of the node's
    file system. Mounting ``/``, the container runtime socket (``/var/run/docker.sock``,
    containerd, CRI-O) is critical: full control of the node. ``/etc``, ``/proc``, ``/sys``,
    ``/root``, ``/var/lib/kubelet``, ``/dev`` and the like are high. Other paths are medium:
    data written there outlives the pod and is shared with whatever else mounts it.
    """,
    "Use a PersistentVolumeClaim, emptyDir, ConfigMap or CSI volume instead of hostPath.",
    refs.HOST_ACCESS,
)
NO_LIMITS = _rule(
    6,
    "No CPU or memory limit",
    Severity.MEDIUM,
    """
    A container has no ``resources.limits`` for memory or CPU. One oversized batch, a
    malicious input that makes a model allocate without bound, or a memory leak then takes the
    node's memory from every other pod (and a model server that swaps is a denial of service).
    A ``LimitRange`` with container defaults in the same file counts as limits. KServe
    components are not reported: KServe's webhook fills in the cluster's default limits.
    """,
    "Set resources.limits.memory and resources.limits.cpu (and requests) for every container.",
    refs.RESOURCES,
)
GPU_NO_LIMIT = _rule(
    7,
    "GPU requested without a matching limit",
    Severity.MEDIUM,
    """
    ``resources.requests`` asks for a GPU (``nvidia.com/gpu``, ``amd.com/gpu``…) but
    ``resources.limits`` does not set the same count. Extended resources are allocated by
    their limit: the API server rejects a request without a limit, and a mismatch means the
    workload does not get (or holds more of) the accelerator than planned.
    """,
    "Set limits.<vendor>/gpu equal to the request (GPUs are allocated by limit).",
    refs.RESOURCES,
)
IMAGE_LATEST = _rule(
    8,
    "Image is :latest or untagged",
    Severity.MEDIUM,
    """
    A container image is referenced by ``:latest`` or without a tag: every node pull can run
    different code, and a compromised registry account reaches production on the next
    restart.
    """,
    "Reference images by digest (repo@sha256:…) or at least by an immutable version tag.",
    refs.IMAGE_PIN,
)
IMAGE_NOT_DIGEST = _rule(
    9,
    "Image is not pinned by digest",
    Severity.LOW,
    """
    A container image has a tag but no ``@sha256:`` digest. Tags can be moved by whoever can
    push to the repository; a digest cannot.
    """,
    "Reference the image by digest (repo:tag@sha256:…); let a bot update it.",
    refs.IMAGE_PIN,
)
SECRET_IN_ENV = _rule(
    10,
    "Secret in a plain environment variable",
    Severity.HIGH,
    """
    An ``env`` entry (Compose ``environment``) holds a literal credential: a value shaped like a
    known token, or a secret-like name (``*_TOKEN``, ``*_API_KEY``, ``*PASSWORD*``…) with a
    value that is not a reference. The manifest is in the repository and the value is readable
    by anyone who can read the workload (``kubectl get -o yaml``). A secret-named variable with
    a short or guessable value is reported as medium. Values are never shown. Token-shaped
    values are also reported by the secrets rules (``BST-SEC``), which name the provider.
    """,
    "Use valueFrom.secretKeyRef (or an external secret store) and rotate the exposed value.",
    refs.SECRETS,
)
SA_TOKEN_AUTOMOUNT = _rule(
    11,
    "Service account token mounted automatically",
    Severity.LOW,
    """
    ``automountServiceAccountToken`` is not ``false`` on the pod (nor on a ServiceAccount of the
    same name in the same file): the API token is in every container at
    ``/var/run/secrets/kubernetes.io/serviceaccount``. A model server or training job rarely
    needs to call the Kubernetes API; an attacker inside it always wants to.
    """,
    "Set automountServiceAccountToken: false unless the workload calls the Kubernetes API.",
    refs.PRIVILEGE,
)
WRITABLE_ROOT_FS = _rule(
    12,
    "Root file system is writable",
    Severity.LOW,
    """
    ``readOnlyRootFilesystem`` is not ``true``: a compromised process can modify the image's
    files, including the code and any model baked into it, and persist tools for the rest of
    the container's life.
    """,
    "Set readOnlyRootFilesystem: true and mount emptyDir volumes where writes are needed.",
    refs.PERMISSIONS,
)
ADDED_CAPABILITIES = _rule(
    13,
    "Dangerous capability added",
    Severity.HIGH,
    """
    ``securityContext.capabilities.add`` (Compose ``cap_add``) grants ``SYS_ADMIN`` or ``ALL``
    (near-root), ``SYS_PTRACE``, ``SYS_MODULE``, ``DAC_READ_SEARCH``, ``BPF`` (high) or
    ``NET_RAW``, ``NET_ADMIN`` (medium: spoofing and sniffing other pods' traffic).
    """,
    "Drop ALL capabilities and add back only what the process needs (usually none).",
    refs.PRIVILEGE,
)
UNCONFINED_PROFILE = _rule(
    14,
    "Seccomp or AppArmor unconfined",
    Severity.MEDIUM,
    """
    ``seccompProfile.type: Unconfined`` or an AppArmor profile ``Unconfined`` (also through the
    legacy annotations, or Compose ``security_opt: seccomp:unconfined``) removes the system
    call filter: every kernel interface is reachable from the container, which is how most
    container escapes work.
    """,
    "Use seccompProfile.type: RuntimeDefault (and the runtime's default AppArmor profile).",
    refs.PRIVILEGE,
)
MUTABLE_PULL = _rule(
    15,
    "Mutable image tag with imagePullPolicy IfNotPresent/Never",
    Severity.LOW,
    """
    An image referenced by ``:latest`` (or no tag) is pulled ``IfNotPresent`` or ``Never``:
    each node runs whatever it cached under that tag, so replicas differ, and an image planted
    on a node under the same name is used without the registry's authorization check.
    """,
    "Pin the image by digest; use imagePullPolicy: Always where tags must be used.",
    refs.IMAGE_PIN,
)
HOST_PORT = _rule(
    16,
    "Port published on the host's interfaces",
    Severity.LOW,
    """
    A container port is bound on the node or host: Kubernetes ``hostPort``, or a Compose
    ``ports`` entry without a loopback address (``"8080:80"`` and ``"0.0.0.0:8080:80"`` listen
    on every interface, and Docker's rules bypass host firewalls such as ufw). A model server or
    MLflow UI published this way is reachable by anything that can reach the host.
    """,
    'Bind to 127.0.0.1 ("127.0.0.1:8080:80") or expose through a Service/ingress with auth.',
    refs.EXPOSURE,
)
SECRET_OBJECT = _rule(
    17,
    "Secret manifest with literal data committed",
    Severity.MEDIUM,
    """
    A ``kind: Secret`` object carries ``data`` or ``stringData`` values in the repository.
    Base64 is an encoding, not encryption: anyone with the repository has the secret.
    """,
    "Commit a SealedSecret/ExternalSecret/SOPS-encrypted file instead, and rotate the values.",
    refs.SECRETS,
    Confidence.MEDIUM,
)

YAML_BOMB = Rule(
    "BST-YML-001",
    "YAML alias bomb",
    Severity.HIGH,
    "configs",
    doc="""
    The file's anchors and aliases expand to far more nodes than the file has (the YAML
    "billion laughs" attack), or an alias refers to its own ancestor. Tools that load the file
    with a generic YAML library (``kubectl``, CI linters, ``yaml.safe_load``) exhaust memory or
    CPU. bastion measures the expanded size without expanding it and stops; the rest of the
    file is reported as not checked.
    """,
    remediation="Remove the file or rewrite it without nested alias expansion.",
    references=refs.PARSER_ABUSE,
)

K8S_RULES: tuple[Rule, ...] = (
    PRIVILEGED,
    PRIVILEGE_ESCALATION,
    RUNS_AS_ROOT,
    HOST_NAMESPACE,
    HOST_PATH,
    NO_LIMITS,
    GPU_NO_LIMIT,
    IMAGE_LATEST,
    IMAGE_NOT_DIGEST,
    SECRET_IN_ENV,
    SA_TOKEN_AUTOMOUNT,
    WRITABLE_ROOT_FS,
    ADDED_CAPABILITIES,
    UNCONFINED_PROFILE,
    MUTABLE_PULL,
    HOST_PORT,
    SECRET_OBJECT,
)
