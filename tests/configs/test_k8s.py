"""BST-K8S: one positive and one negative case per rule, on realistic workloads."""

from __future__ import annotations

import textwrap

import pytest

from bastion.core import Severity
from tests.configs.conftest import DIGEST, hits, ids, manifest, token

IMAGE = f"registry.example.com/ml/trainer:1.4.2@{DIGEST}"

SECURE = f"""\
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: trainer
      namespace: ml
    spec:
      replicas: 2
      selector:
        matchLabels: {{app: trainer}}
      template:
        metadata:
          labels: {{app: trainer}}
        spec:
          serviceAccountName: trainer
          automountServiceAccountToken: false
          securityContext:
            runAsNonRoot: true
            runAsUser: 10001
            seccompProfile: {{type: RuntimeDefault}}
          containers:
          - name: train
            image: {IMAGE}
            args: ["--epochs", "3"]
            env:
            - name: HF_TOKEN
              valueFrom:
                secretKeyRef: {{name: hf, key: token}}
            - name: MODEL_ID
              value: meta-llama/Llama-3.1-8B-Instruct
            resources:
              requests: {{cpu: "2", memory: 8Gi, nvidia.com/gpu: 1}}
              limits: {{cpu: "4", memory: 16Gi, nvidia.com/gpu: 1}}
            securityContext:
              allowPrivilegeEscalation: false
              readOnlyRootFilesystem: true
              capabilities: {{drop: ["ALL"]}}
            volumeMounts:
            - {{name: scratch, mountPath: /tmp}}
          volumes:
          - name: scratch
            emptyDir: {{}}
"""


def workload(container: str = "", pod: str = "", kind: str = "Deployment") -> str:
    """A Deployment with extra container and pod-level settings (YAML, 8/6-space indented)."""
    extra_container = textwrap.indent(textwrap.dedent(container), " " * 8)
    extra_pod = textwrap.indent(textwrap.dedent(pod), " " * 6)
    return (
        f"apiVersion: apps/v1\nkind: {kind}\nmetadata: {{name: app}}\nspec:\n  template:\n"
        f"    spec:\n{extra_pod}      containers:\n      - name: app\n"
        f"        image: {IMAGE}\n{extra_container}"
    )


def test_secure_deployment_has_no_issue() -> None:
    assert manifest(SECURE) == []


def test_k8s_001_privileged() -> None:
    issues = manifest(workload("securityContext: {privileged: true}\n"))
    assert [(i.rule.id, i.line, i.severity) for i in issues if i.rule.id == "BST-K8S-001"] == [
        ("BST-K8S-001", 10, None)
    ]
    assert "BST-K8S-001" not in ids(manifest(workload("securityContext: {privileged: false}\n")))
    windows = workload(pod="securityContext:\n  windowsOptions: {hostProcess: true}\n")
    assert "BST-K8S-001" in ids(manifest(windows))


def test_k8s_002_privilege_escalation() -> None:
    unset = [i for i in manifest(workload()) if i.rule.id == "BST-K8S-002"]
    assert [i.severity for i in unset] == [None]
    explicit = manifest(workload("securityContext: {allowPrivilegeEscalation: true}\n"))
    assert [i.severity for i in explicit if i.rule.id == "BST-K8S-002"] == [Severity.HIGH]
    off = manifest(workload("securityContext: {allowPrivilegeEscalation: false}\n"))
    assert "BST-K8S-002" not in ids(off)


def test_k8s_003_root() -> None:
    assert "BST-K8S-003" in ids(manifest(workload()))
    uid0 = manifest(workload("securityContext: {runAsUser: 0}\n"))
    assert [i.severity for i in uid0 if i.rule.id == "BST-K8S-003"] == [Severity.HIGH]
    pod_level = manifest(workload(pod="securityContext: {runAsNonRoot: true}\n"))
    assert "BST-K8S-003" not in ids(pod_level)
    uid = manifest(workload("securityContext: {runAsUser: 1000}\n"))
    assert "BST-K8S-003" not in ids(uid)
    override = workload(
        "securityContext: {runAsNonRoot: false}\n", "securityContext: {runAsNonRoot: true}\n"
    )
    assert "BST-K8S-003" in ids(manifest(override))  # the container's setting wins


@pytest.mark.parametrize("key", ["hostNetwork", "hostPID", "hostIPC"])
def test_k8s_004_host_namespaces(key: str) -> None:
    assert ("BST-K8S-004", 7) in hits(manifest(workload(pod=f"{key}: true\n")))
    assert "BST-K8S-004" not in ids(manifest(workload(pod=f"{key}: false\n")))


@pytest.mark.parametrize(
    ("path", "severity"),
    [
        ("/var/run/docker.sock", Severity.CRITICAL),
        ("/", Severity.CRITICAL),
        ("/etc/kubernetes", Severity.HIGH),
        ("/data/datasets", Severity.MEDIUM),
    ],
)
def test_k8s_005_host_path(path: str, severity: Severity) -> None:
    pod = f"volumes:\n- name: v\n  hostPath: {{path: {path}}}\n"
    found = [i for i in manifest(workload(pod=pod)) if i.rule.id == "BST-K8S-005"]
    assert [(i.line, i.severity) for i in found] == [(9, severity)]


def test_k8s_005_negative() -> None:
    pod = "volumes:\n- name: v\n  persistentVolumeClaim: {claimName: data}\n"
    assert "BST-K8S-005" not in ids(manifest(workload(pod=pod)))


def test_k8s_006_limits() -> None:
    found = [i for i in manifest(workload()) if i.rule.id == "BST-K8S-006"]
    assert len(found) == 1 and "memory" in found[0].message
    cpu_only = manifest(workload("resources: {limits: {memory: 1Gi}}\n"))
    assert [i.severity for i in cpu_only if i.rule.id == "BST-K8S-006"] == [Severity.LOW]
    full = manifest(workload("resources: {limits: {memory: 1Gi, cpu: 1}}\n"))
    assert "BST-K8S-006" not in ids(full)


def test_k8s_006_limit_range_in_the_same_file() -> None:
    limit_range = (
        "apiVersion: v1\nkind: LimitRange\nmetadata: {name: d}\nspec:\n  limits:\n"
        "  - type: Container\n    default: {cpu: 500m, memory: 512Mi}\n---\n"
    )
    assert "BST-K8S-006" not in ids(manifest(limit_range + workload()))


def test_k8s_007_gpu_without_limit() -> None:
    gpu = "resources:\n  requests: {nvidia.com/gpu: 1}\n  limits: {memory: 1Gi, cpu: 1}\n"
    assert ("BST-K8S-007", 11) in hits(manifest(workload(gpu)))
    matched = "resources:\n  requests: {nvidia.com/gpu: 2}\n  limits: {nvidia.com/gpu: 2}\n"
    assert "BST-K8S-007" not in ids(manifest(workload(matched)))


def test_k8s_008_009_015_images() -> None:
    latest = manifest(workload().replace(IMAGE, "trainer:latest"))
    assert ("BST-K8S-008", 9) in hits(latest) and "BST-K8S-015" not in ids(latest)
    untagged = manifest(workload("imagePullPolicy: IfNotPresent\n").replace(IMAGE, "reg:5000/t"))
    assert {"BST-K8S-008", "BST-K8S-015"} <= ids(untagged)
    tagged = manifest(workload().replace(IMAGE, "trainer:1.4.2"))
    assert ("BST-K8S-009", 9) in hits(tagged) and "BST-K8S-008" not in ids(tagged)
    assert not {"BST-K8S-008", "BST-K8S-009", "BST-K8S-015"} & ids(manifest(workload()))


def test_k8s_010_secrets_in_env() -> None:
    hf = token("hf_")
    env = (
        f"env:\n- name: HF_TOKEN\n  value: {hf}\n- name: DB_PASSWORD\n  value: hunter22\n"
        f"- name: ANY_NAME\n  value: {token('ghp_', 36)}\n"
    )
    found = [i for i in manifest(workload(env)) if i.rule.id == "BST-K8S-010"]
    assert [(i.line, i.severity) for i in found] == [(12, None), (14, Severity.MEDIUM), (16, None)]
    assert all(hf not in i.evidence and hf not in i.message for i in found)
    benign = (
        "env:\n- name: API_KEY\n  valueFrom: {secretKeyRef: {name: k, key: v}}\n"
        "- name: TOKEN_FILE\n  value: /var/run/secrets/token\n- name: PASSWORD\n"
        "  value: $(DB_PASSWORD)\n- name: MAX_TOKENS\n  value: '4096'\n"
    )
    assert "BST-K8S-010" not in ids(manifest(workload(benign)))


def test_k8s_011_service_account_token() -> None:
    assert "BST-K8S-011" in ids(manifest(workload()))
    assert "BST-K8S-011" not in ids(manifest(workload(pod="automountServiceAccountToken: false\n")))
    account = (
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: runner}\n"
        "automountServiceAccountToken: false\n---\n"
    )
    uses = manifest(account + workload(pod="serviceAccountName: runner\n"))
    assert "BST-K8S-011" not in ids(uses)


def test_k8s_012_writable_root_filesystem() -> None:
    assert "BST-K8S-012" in ids(manifest(workload()))
    ro = manifest(workload("securityContext: {readOnlyRootFilesystem: true}\n"))
    assert "BST-K8S-012" not in ids(ro)


@pytest.mark.parametrize(
    ("cap", "severity"),
    [("SYS_ADMIN", Severity.HIGH), ("ALL", Severity.HIGH), ("NET_RAW", Severity.MEDIUM)],
)
def test_k8s_013_capabilities(cap: str, severity: Severity) -> None:
    added = manifest(workload(f"securityContext:\n  capabilities: {{add: [{cap}]}}\n"))
    assert [i.severity for i in added if i.rule.id == "BST-K8S-013"] == [severity]
    benign = manifest(workload("securityContext:\n  capabilities: {add: [NET_BIND_SERVICE]}\n"))
    assert "BST-K8S-013" not in ids(benign)


def test_k8s_014_unconfined_profiles() -> None:
    pod = "securityContext:\n  seccompProfile: {type: Unconfined}\n"
    assert ("BST-K8S-014", 8) in hits(manifest(workload(pod=pod)))
    container = "securityContext:\n  appArmorProfile: {type: Unconfined}\n"
    assert "BST-K8S-014" in ids(manifest(workload(container)))
    legacy = workload().replace(
        "  template:\n",
        "  template:\n    metadata:\n      annotations:\n"
        "        container.apparmor.security.beta.kubernetes.io/app: unconfined\n",
    )
    assert "BST-K8S-014" in ids(manifest(legacy))
    default = manifest(workload(pod="securityContext:\n  seccompProfile: {type: RuntimeDefault}\n"))
    assert "BST-K8S-014" not in ids(default)


def test_k8s_016_host_port() -> None:
    assert "BST-K8S-016" in ids(manifest(workload("ports: [{containerPort: 80, hostPort: 80}]\n")))
    assert "BST-K8S-016" not in ids(manifest(workload("ports: [{containerPort: 80}]\n")))


def test_k8s_017_secret_objects() -> None:
    import base64

    encoded = base64.b64encode(token("hf_").encode()).decode()
    secret = (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: hf}\ntype: Opaque\ndata:\n"
        f"  HF_TOKEN: {encoded}\n"
    )
    found = [i for i in manifest(secret) if i.rule.id == "BST-K8S-017"]
    assert [(i.line, i.severity) for i in found] == [(6, Severity.HIGH)]
    assert encoded not in found[0].evidence
    placeholder = (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\nstringData:\n  token: <your-token>\n"
    )
    assert manifest(placeholder) == []


@pytest.mark.parametrize("kind", ["StatefulSet", "DaemonSet", "ReplicaSet", "Job"])
def test_workload_kinds(kind: str) -> None:
    assert "BST-K8S-001" in ids(
        manifest(workload("securityContext: {privileged: true}\n", kind=kind))
    )


def test_pod_and_cronjob_templates() -> None:
    pod = (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  hostPID: true\n"
        f"  containers:\n  - {{name: a, image: {IMAGE}}}\n"
    )
    assert ("BST-K8S-004", 5) in hits(manifest(pod))
    cron = (
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: nightly}\nspec:\n"
        "  schedule: '0 2 * * *'\n  jobTemplate:\n    spec:\n      template:\n        spec:\n"
        "          containers:\n          - name: retrain\n            image: trainer:latest\n"
    )
    assert ("BST-K8S-008", 12) in hits(manifest(cron))


def test_custom_resources_with_pod_templates() -> None:
    job = (
        "apiVersion: kubeflow.org/v1\nkind: PyTorchJob\nmetadata: {name: ddp}\nspec:\n"
        "  pytorchReplicaSpecs:\n    Worker:\n      replicas: 4\n      template:\n        spec:\n"
        "          containers:\n          - name: pytorch\n            image: pt:latest\n"
        "            securityContext: {privileged: true}\n"
    )
    issues = manifest(job)
    assert ("BST-K8S-001", 13) in hits(issues)
    subject = next(i.subject for i in issues if i.rule.id == "BST-K8S-001")
    assert subject.label() == "PyTorchJob/ddp, container 'pytorch'"


def test_multi_document_subjects_and_lines() -> None:
    text = SECURE + "---\n" + workload("securityContext: {privileged: true}\n")
    issues = manifest(text)
    privileged = [i for i in issues if i.rule.id == "BST-K8S-001"]
    assert len(privileged) == 1
    first_line_of_second = SECURE.count("\n") + 2
    assert privileged[0].line == first_line_of_second + 9
    assert privileged[0].subject.label() == "Deployment/app (document 2), container 'app'"


def test_list_items_and_non_manifests() -> None:
    listing = (
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: a}\n"
        "  spec:\n    hostIPC: true\n    containers: []\n"
    )
    assert "BST-K8S-004" in ids(manifest(listing))
    assert manifest("name: CI\non: [push]\njobs: {build: {runs-on: ubuntu-latest}}\n") == []
    assert manifest("apiVersion: v1\nkind: ConfigMap\ndata: {containers: x}\n") == []
