"""Rules for Kubeflow Pipelines specs and Argo workflows (``BST-KFP-NNN``).

KFP v2 compiles a pipeline to an IR YAML (``components``, ``deploymentSpec.executors.*.
container``, ``root``, and a second document ``platforms.kubernetes`` for kfp-kubernetes
settings); KFP v1 compiled to an Argo ``Workflow``. Both are read, as well as Argo
``WorkflowTemplate``, ``ClusterWorkflowTemplate`` and ``CronWorkflow`` objects written by hand.
Host access in Argo templates (hostPath, host namespaces, capabilities, root) is reported with
the container rules (``BST-K8S``); settings a compiled spec never carries (``runAsNonRoot``,
``readOnlyRootFilesystem``…) are left to the cluster's policy and not reported.
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
        f"BST-KFP-{number:03d}",
        title,
        severity,
        "configs",
        doc=doc,
        remediation=remediation,
        references=references,
        confidence=confidence,
    )


PRIVILEGED_COMPONENT = _rule(
    1,
    "Pipeline component runs privileged",
    Severity.CRITICAL,
    """
    An Argo template's container (or its ``podSpecPatch``) sets ``privileged: true``. Pipeline
    steps run code and data from many hands (components from a catalog, packages installed
    at run time); a privileged step is root on the node that also runs other teams' steps.
    """,
    "Remove privileged from the component; run the step with the default security context.",
    refs.PRIVILEGE,
)
UNPINNED_IMAGE = _rule(
    2,
    "Pipeline component image not pinned",
    Severity.MEDIUM,
    """
    A component's container image is ``:latest`` or untagged (medium), or tagged without a
    digest (low). Each run may execute different code under the same pipeline version, which
    breaks the reproducibility the pipeline's lineage claims and lets a registry compromise
    reach every run. KFP's default ``python:3.x`` base images are reported as low.
    """,
    "Build components on images referenced by digest (base_image='repo@sha256:…').",
    refs.IMAGE_PIN,
)
SECRET_PARAMETER = _rule(
    3,
    "Secret passed as a pipeline parameter",
    Severity.MEDIUM,
    """
    A pipeline or component parameter has a secret-like name (``api_key``, ``hf_token``,
    ``password``…) or a default value shaped like a credential. Parameters are stored in the
    pipeline spec, the run's metadata (ML Metadata), the Argo workflow object and the UI: every
    user of the KFP instance can read them. A literal credential as the default value is
    reported as high; the value is never shown.
    """,
    "Mount a Kubernetes Secret instead (kfp.kubernetes.use_secret_as_env / secretKeyRef).",
    refs.SECRETS,
)
RUNTIME_INSTALL = _rule(
    4,
    "Packages installed at run time without pins",
    Severity.MEDIUM,
    """
    A component's command runs ``pip install`` of unpinned packages when the step starts (what
    ``packages_to_install`` compiles to). Every run resolves the newest release from the index
    inside the cluster, so a malicious release runs with the step's data and credentials, and
    two runs of the same pipeline version can differ. KFP's own bootstrap install
    (``kfp==<version>``) is not reported.
    """,
    "Pin exact versions in packages_to_install, or bake dependencies into the component image.",
    refs.REMOTE_CODE,
)
REMOTE_CODE_INLINE = _rule(
    5,
    "trust_remote_code=True in component code",
    Severity.HIGH,
    """
    The Python source embedded in the spec (a lightweight component's function, an Argo
    ``script``) calls a loader with ``trust_remote_code=True``: the step imports and runs Python
    files from the model repository, with the pipeline's credentials and data. The source is
    parsed, never run.
    """,
    "Remove trust_remote_code=True, or pin revision= to a reviewed commit and vendor the code.",
    refs.REMOTE_CODE.merged(refs.MODEL_SOURCE),
)
NO_RESOURCE_LIMITS = _rule(
    6,
    "Pipeline component without resource limits",
    Severity.MEDIUM,
    """
    A component's container sets no memory or CPU limit (IR ``resources.memoryLimit``/
    ``cpuLimit`` or ``resourceMemoryLimit``/``resourceCpuLimit``, Argo ``resources.limits``).
    A training step that grows without bound (or is fed a hostile dataset) starves the rest
    of the shared cluster.
    """,
    "Call .set_memory_limit() and .set_cpu_limit() on the task (or set resources.limits).",
    refs.RESOURCES,
)

PIPELINE_RULES: tuple[Rule, ...] = (
    PRIVILEGED_COMPONENT,
    UNPINNED_IMAGE,
    SECRET_PARAMETER,
    RUNTIME_INSTALL,
    REMOTE_CODE_INLINE,
    NO_RESOURCE_LIMITS,
)
