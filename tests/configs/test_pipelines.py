"""BST-KFP: KFP v2 IR specs (with the platform document) and Argo workflows."""

from __future__ import annotations

from pathlib import Path

from bastion.core import Severity
from bastion.scan.configs.pipelines import remote_code_lines
from tests.configs.conftest import DIGEST, hits, ids, manifest, scan_files, token
from tests.conftest import inert_command

BOOTSTRAP = (
    '"\\nif ! [ -x \\"$(command -v pip)\\" ]; then\\n    python3 -m ensurepip || python3 -m'
    " ensurepip --user || apt-get install python3-pip\\nfi\\n\\nPIP_DISABLE_PIP_VERSION_CHECK=1"
    " python3 -m pip install --quiet --no-warn-script-location 'kfp==2.7.0' '--no-deps'"
    ' \'typing-extensions>=3.7.4,<5; python_version<\\"3.9\\"\' {extra}&& \\"$0\\" \\"$@\\"\\n"'
)
EXECUTOR = (
    '\'program_path=$(mktemp -d)\n\n\n          printf "%s" "$0" >'
    ' "$program_path/ephemeral_component.py"\n\n          _KFP_RUNTIME=true python3 -m'
    ' kfp.dsl.executor_main --component_module_path "$program_path/ephemeral_component.py"'
    ' "$@"\n\n          \''
)


def ir_spec(
    *,
    image: str = f"python:3.11-slim@{DIGEST}",
    extra_install: str = "",
    source: str = "def train(epochs: int):\n    print(epochs)\n",
    resources: str = "resourceCpuLimit: '2'\n          resourceMemoryLimit: 8G",
    params: str = "epochs:\n            parameterType: NUMBER_INTEGER",
) -> str:
    code = "\n".join("          " + line for line in ("import kfp\n" + source).split("\n"))
    return f"""\
# PIPELINE DEFINITION
# Name: train-pipeline
components:
  comp-train:
    executorLabel: exec-train
    inputDefinitions:
      parameters:
        {params}
deploymentSpec:
  executors:
    exec-train:
      container:
        args:
        - --executor_input
        - '{{{{$}}}}'
        - --function_to_execute
        - train
        command:
        - sh
        - -c
        - {BOOTSTRAP.format(extra=extra_install)}
        - sh
        - -ec
        - {EXECUTOR}
        - |
{code}
        image: {image}
        resources:
          {resources}
pipelineInfo:
  name: train-pipeline
root:
  dag:
    tasks:
      train:
        componentRef: {{name: comp-train}}
schemaVersion: 2.1.0
sdkVersion: kfp-2.7.0
"""


def test_secure_kfp_spec_has_no_issue() -> None:
    assert manifest(ir_spec()) == []


def test_kfp_002_unpinned_image() -> None:
    latest = [i for i in manifest(ir_spec(image="python")) if i.rule.id == "BST-KFP-002"]
    assert [i.severity for i in latest] == [Severity.MEDIUM]
    tag = [i for i in manifest(ir_spec(image="python:3.9")) if i.rule.id == "BST-KFP-002"]
    assert [i.severity for i in tag] == [Severity.LOW]


def test_kfp_003_secret_parameters() -> None:
    named = manifest(ir_spec(params="hf_token:\n            parameterType: STRING"))
    assert [(i.rule.id, i.severity) for i in named] == [("BST-KFP-003", None)]
    secret = token("hf_")
    literal = ir_spec(
        params=f"api_key:\n            parameterType: STRING\n            defaultValue: {secret}"
    )
    found = [i for i in manifest(literal) if i.rule.id == "BST-KFP-003"]
    assert [(i.line, i.severity) for i in found] == [(8, Severity.HIGH)]
    assert secret not in found[0].evidence and secret not in found[0].message


def test_kfp_004_runtime_install() -> None:
    extra = " && python3 -m pip install --quiet 'pandas' 'scikit-learn==1.5.0' "
    found = [i for i in manifest(ir_spec(extra_install=extra)) if i.rule.id == "BST-KFP-004"]
    assert len(found) == 1 and "pandas" in found[0].evidence and "scikit" not in found[0].evidence
    pinned = " && python3 -m pip install --quiet 'pandas==2.2.2' "
    assert "BST-KFP-004" not in ids(manifest(ir_spec(extra_install=pinned)))


def test_kfp_005_trust_remote_code_in_inline_code() -> None:
    source = (
        "def train(model: str):\n    from transformers import AutoModel\n"
        "    AutoModel.from_pretrained(model, trust_remote_code=True)\n"
    )
    found = [i for i in manifest(ir_spec(source=source)) if i.rule.id == "BST-KFP-005"]
    text = ir_spec(source=source)
    expected = (
        text.split("\n").index(
            "              AutoModel.from_pretrained(model, trust_remote_code=True)"
        )
        + 1
    )
    assert [i.line for i in found] == [expected]
    off = source.replace("True", "False")
    assert "BST-KFP-005" not in ids(manifest(ir_spec(source=off)))


def test_remote_code_detection_is_syntactic() -> None:
    assert remote_code_lines(
        "x = f(trust_remote_code=True)\ny = {'trust_remote_code': True}\n"
    ) == [1, 2]
    assert (
        remote_code_lines("# trust_remote_code=True is dangerous\nf(trust_remote_code=flag)\n")
        == []
    )
    assert remote_code_lines("def broken(:\n  f(trust_remote_code=True)") == [2]


def test_kfp_006_no_resource_limits() -> None:
    found = [
        i
        for i in manifest(ir_spec(resources="accelerator: {count: '1'}"))
        if i.rule.id == "BST-KFP-006"
    ]
    assert [i.severity for i in found] == [None]
    cpu_only = manifest(ir_spec(resources="memoryLimit: 8.0"))
    assert [i.severity for i in cpu_only if i.rule.id == "BST-KFP-006"] == [Severity.LOW]


def test_platform_document_image_pull_policy() -> None:
    platform = (
        "---\nplatforms:\n  kubernetes:\n    deploymentSpec:\n      executors:\n"
        "        exec-train:\n          imagePullPolicy: IfNotPresent\n"
    )
    found = ids(manifest(ir_spec(image="trainer:latest") + platform))
    assert "BST-K8S-015" in found


def test_pipeline_job_wrapper() -> None:
    spec = ir_spec(image="python")
    wrapped = "pipelineSpec:\n" + "\n".join(
        "  " + line for line in spec.split("\n") if not line.startswith("#")
    )
    assert "BST-KFP-002" in ids(manifest(wrapped))


ARGO = """\
    apiVersion: argoproj.io/v1alpha1
    kind: Workflow
    metadata:
      generateName: train-
      annotations: {pipelines.kubeflow.org/kfp_sdk_version: 1.8.22}
    spec:
      entrypoint: train
      arguments:
        parameters:
        - {name: wandb-api-key, value: PLACEHOLDER}
      templates:
      - name: train
        inputs:
          parameters:
          - {name: epochs, value: '3'}
        container:
          image: trainer:latest
          command: [sh, -c, "pip install transformers && python train.py"]
          securityContext: {privileged: true}
          volumeMounts: [{name: sock, mountPath: /var/run/docker.sock}]
      - name: evaluate
        script:
          image: python:3.11
          command: [python]
          source: |
            from transformers import pipeline
            p = pipeline("text-classification", model="org/m", trust_remote_code=True)
          resources:
            limits: {memory: 1Gi, cpu: '1'}
      volumes:
      - name: sock
        hostPath: {path: /var/run/docker.sock}
"""


def test_argo_workflow() -> None:
    found = hits(manifest(ARGO.replace("PLACEHOLDER", token())))
    assert ("BST-KFP-001", 19) in found
    assert ("BST-KFP-002", 17) in found and ("BST-KFP-002", 23) in found
    assert ("BST-KFP-003", 10) in found
    assert ("BST-KFP-004", 18) in found
    assert ("BST-KFP-005", 27) in found
    assert ("BST-KFP-006", 17) in found
    assert ("BST-K8S-005", 32) in found
    rule_ids = {rule for rule, _ in found}
    # settings a compiled workflow never carries are left to the cluster's policy
    assert not {"BST-K8S-002", "BST-K8S-003", "BST-K8S-011", "BST-K8S-012"} & rule_ids


def test_argo_pod_spec_patch_and_cron() -> None:
    cron = (
        "apiVersion: argoproj.io/v1alpha1\nkind: CronWorkflow\nmetadata: {name: nightly}\nspec:\n"
        "  schedule: '0 3 * * *'\n  workflowSpec:\n    entrypoint: main\n    templates:\n"
        '    - name: main\n      podSpecPatch: \'{"containers": [{"name": "main",'
        ' "securityContext": {"privileged": true}}]}\'\n'
        f"      container: {{image: 'busybox@{DIGEST}',\n"
        "                   resources: {limits: {memory: 1Gi, cpu: 1}}}\n"
    )
    assert hits(manifest(cron)) == [("BST-KFP-001", 10)]


def test_inline_code_is_never_run(tmp_path: Path, marker_dir: Path) -> None:
    source = (
        "def train():\n    import os\n"
        f"    os.system({inert_command(marker_dir)!r})\n"
        "    AutoModel.from_pretrained('x', trust_remote_code=True)\n"
    )
    result = scan_files(tmp_path, {"pipeline.yaml": ir_spec(source=source)})
    assert "BST-KFP-005" in {f.rule_id for f in result.findings}


def test_kfp_001_negative() -> None:
    safe = ARGO.replace(
        "securityContext: {privileged: true}", "securityContext: {privileged: false}"
    )
    assert "BST-KFP-001" not in ids(manifest(safe.replace("PLACEHOLDER", "x")))
