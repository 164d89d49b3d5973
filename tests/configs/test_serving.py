"""BST-KSV (KServe, Seldon) and the container rules on predictors."""

from __future__ import annotations

from bastion.core import Severity
from tests.configs.conftest import COMMIT, DIGEST, hits, ids, manifest

SECURE = f"""\
    apiVersion: serving.kserve.io/v1beta1
    kind: InferenceService
    metadata:
      name: sentiment
      namespace: models
      labels:
        networking.knative.dev/visibility: cluster-local
      annotations:
        serving.kserve.io/enable-auth: "true"
    spec:
      predictor:
        serviceAccountName: sentiment-sa
        automountServiceAccountToken: false
        minReplicas: 1
        model:
          modelFormat:
            name: huggingface
          storageUri: hf://distilbert/distilbert-base-uncased-finetuned-sst-2-english:{COMMIT}
          resources:
            limits: {{cpu: "2", memory: 4Gi}}
          securityContext:
            runAsNonRoot: true
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
"""


def isvc(predictor: str, meta: str = "") -> str:
    body = "\n".join("    " + line for line in predictor.strip("\n").split("\n"))
    return (
        "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\n"
        f"metadata:\n  name: m\n{meta}spec:\n  predictor:\n{body}\n"
    )


def test_secure_inference_service_has_no_issue() -> None:
    assert manifest(SECURE) == []


def test_ksv_001_http_storage_uri() -> None:
    found = manifest(isvc("sklearn:\n  storageUri: http://models.example/iris/model.joblib"))
    assert ("BST-KSV-001", 8) in hits(found)
    https = manifest(isvc("sklearn:\n  storageUri: https://models.example/v3/iris/"))
    assert "BST-KSV-001" not in ids(https)


def test_ksv_002_unpinned_model_uri() -> None:
    hf = [
        i
        for i in manifest(isvc("model:\n  storageUri: hf://org/model"))
        if i.rule.id == "BST-KSV-002"
    ]
    assert [(i.line, i.severity) for i in hf] == [(8, None)]
    branch = manifest(isvc("model:\n  storageUri: hf://org/model:main"))
    assert "BST-KSV-002" in ids(branch)
    s3 = [
        i
        for i in manifest(isvc("model:\n  storageUri: s3://bucket/models/churn"))
        if i.rule.id == "BST-KSV-002"
    ]
    assert [i.severity for i in s3] == [Severity.LOW]
    pinned = (
        f"model:\n  storageUri: hf://org/model:{COMMIT}\n"
        "  storageUris:\n  - uri: gs://bucket/churn/v12/\n    mountPath: /mnt/a\n"
    )
    assert "BST-KSV-002" not in ids(manifest(isvc(pinned)))
    oci = manifest(isvc(f"model:\n  storageUri: oci://registry.example/models/llm@{DIGEST}"))
    assert "BST-KSV-002" not in ids(oci)
    assert "BST-KSV-002" in ids(
        manifest(isvc("model:\n  storageUri: oci://registry.example/llm:latest"))
    )


def test_ksv_003_no_auth() -> None:
    found = [
        i
        for i in manifest(isvc("model:\n  storageUri: pvc://m/model"))
        if i.rule.id == "BST-KSV-003"
    ]
    assert [i.severity for i in found] == [Severity.HIGH]  # also public: no cluster-local label
    local = "  labels: {networking.knative.dev/visibility: cluster-local}\n"
    private = [i for i in manifest(isvc("model: {}", local)) if i.rule.id == "BST-KSV-003"]
    assert [i.severity for i in private] == [None]
    auth = "  annotations: {security.opendatahub.io/enable-auth: 'true'}\n"
    assert "BST-KSV-003" not in ids(manifest(isvc("model: {}", auth)))
    policy = (
        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a}\n"
        "spec: {action: ALLOW}\n---\n"
    )
    assert "BST-KSV-003" not in ids(manifest(policy + isvc("model: {}")))


def test_ksv_004_public_ingress() -> None:
    assert "BST-KSV-004" in ids(manifest(isvc("model: {}")))
    raw = "  annotations: {serving.kserve.io/deploymentMode: RawDeployment}\n"
    assert "BST-KSV-004" not in ids(manifest(isvc("model: {}", raw)))
    local = "  labels: {networking.knative.dev/visibility: cluster-local}\n"
    service = (
        "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs}\n"
        "spec:\n  gateways: [istio-system/public-gateway]\n  hosts: ['*']\n  http:\n"
        "  - route:\n    - destination: {host: m-predictor.default.svc.cluster.local}\n"
    )
    routed = manifest(isvc("model: {}", local) + service)
    assert [i.line for i in routed if i.rule.id == "BST-KSV-004"] == [10]
    mesh = service.replace("istio-system/public-gateway", "mesh")
    assert "BST-KSV-004" not in ids(manifest(isvc("model: {}", local) + mesh))


def test_predictor_containers_get_the_container_rules() -> None:
    predictor = (
        "containers:\n- name: kserve-container\n  image: custom/server:latest\n"
        "  securityContext: {privileged: true}\nhostNetwork: true\n"
        "volumes:\n- name: d\n  hostPath: {path: /var/run/docker.sock}\n"
    )
    found = ids(manifest(isvc(predictor)))
    assert {"BST-K8S-001", "BST-K8S-004", "BST-K8S-005", "BST-K8S-008"} <= found
    assert "BST-K8S-006" not in found  # KServe's webhook sets default limits


def test_serving_runtime_containers() -> None:
    runtime = (
        "apiVersion: serving.kserve.io/v1alpha1\nkind: ClusterServingRuntime\n"
        "metadata: {name: vllm}\nspec:\n  supportedModelFormats: [{name: huggingface}]\n"
        "  containers:\n  - name: kserve-container\n    image: vllm/vllm-openai:latest\n"
        "    securityContext: {capabilities: {add: [SYS_ADMIN]}}\n"
    )
    assert {"BST-K8S-008", "BST-K8S-013"} <= ids(manifest(runtime))


SELDON = """\
    apiVersion: machinelearning.seldon.io/v1
    kind: SeldonDeployment
    metadata:
      name: iris
    spec:
      predictors:
      - name: default
        replicas: 1
        componentSpecs:
        - spec:
            containers:
            - name: classifier
              image: seldonio/sklearnserver:latest
        graph:
          name: classifier
          implementation: SKLEARN_SERVER
          modelUri: http://models.example/iris
          children:
          - name: outlier
            modelUri: gs://bucket/outlier
"""


def test_seldon_deployment() -> None:
    found = hits(manifest(SELDON))
    assert ("BST-KSV-001", 17) in found and ("BST-KSV-002", 20) in found
    assert ("BST-K8S-008", 13) in found and ("BST-KSV-003", 1) in found
    secured = SELDON.replace("      predictors:", "      oauth_key: key\n      predictors:")
    assert "BST-KSV-003" not in ids(manifest(secured))


def test_seldon_core_2_model() -> None:
    model = (
        "apiVersion: mlops.seldon.io/v1alpha1\nkind: Model\nmetadata: {name: iris}\n"
        "spec:\n  storageUri: http://models.example/iris\n  requirements: [sklearn]\n"
    )
    assert hits(manifest(model)) == [("BST-KSV-001", 5)]
    pinned = model.replace("http://models.example/iris", "gs://seldon-models/v1.19.0/sklearn/iris")
    assert manifest(pinned) == []
