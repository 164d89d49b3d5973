"""Rules for model-serving manifests (``BST-KSV-NNN``): KServe and Seldon.

KServe ``InferenceService`` (and ``ServingRuntime``/``ClusterServingRuntime`` containers),
Seldon Core v1 ``SeldonDeployment`` and Seldon Core 2 ``Model``. Their containers also get the
container rules (``BST-K8S``).
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
        f"BST-KSV-{number:03d}",
        title,
        severity,
        "configs",
        doc=doc,
        remediation=remediation,
        references=references,
        confidence=confidence,
    )


MODEL_OVER_HTTP = _rule(
    1,
    "Model fetched over plain HTTP",
    Severity.HIGH,
    """
    ``storageUri``/``storageUris`` (KServe), ``modelUri`` (Seldon v1) or ``storageUri`` (Seldon
    2) is an ``http://`` URL. The storage initializer downloads the model in clear text: anyone
    on the path can replace it, and most model formats (pickle, PyTorch, joblib) run code when
    the server loads them.
    """,
    "Serve the model over HTTPS (or from object storage) and pin it by digest or version.",
    refs.MODEL_SOURCE.merged(refs.TRANSPORT),
)
MODEL_UNPINNED = _rule(
    2,
    "Model location not pinned to a revision",
    Severity.MEDIUM,
    """
    The model URI can change under the same name. ``hf://org/model`` without ``:<revision>``
    serves whatever the repository's main branch holds at the next pod start (medium; a
    40-hex commit pins it, a branch or tag does not). An ``s3://``, ``gs://``, Azure or
    ``https://`` location without a version or digest anywhere in its path is reported as low:
    whoever can write the bucket replaces the production model.
    """,
    "Pin hf:// URIs to a commit (hf://org/model:<sha>) and use versioned, immutable paths.",
    refs.MODEL_SOURCE,
    Confidence.MEDIUM,
)
NO_AUTH = _rule(
    3,
    "Inference endpoint without authentication",
    Severity.MEDIUM,
    """
    An ``InferenceService`` has no authentication annotation or label
    (``security.opendatahub.io/enable-auth`` or ``serving.kserve.io/enable-auth`` set to
    ``"true"``), or a ``SeldonDeployment`` no ``oauth_key``/``oauth_secret``, and the same
    file defines no Istio ``AuthorizationPolicy`` or ``RequestAuthentication``. KServe and
    Seldon leave authentication to the platform; without it anyone who reaches the endpoint
    can query the model (extraction, inversion, cost abuse). Reported as high when the
    endpoint is also public (``BST-KSV-004``).
    """,
    "Enable the platform's auth (enable-auth annotation, Istio AuthorizationPolicy + JWT).",
    refs.EXPOSURE,
    Confidence.MEDIUM,
)
PUBLIC_INGRESS = _rule(
    4,
    "Inference endpoint exposed outside the cluster",
    Severity.MEDIUM,
    """
    A serverless ``InferenceService`` without the ``networking.knative.dev/visibility:
    cluster-local`` label is published on the Knative ingress gateway, and an Istio
    ``VirtualService`` in the same file that routes to it through a gateway other than the
    mesh or the cluster-local gateway publishes it explicitly. Raw deployments
    (``serving.kserve.io/deploymentMode: RawDeployment``) are not reported.
    """,
    "Label the service networking.knative.dev/visibility: cluster-local; front it with a gateway.",
    refs.EXPOSURE,
    Confidence.MEDIUM,
)

SERVING_RULES: tuple[Rule, ...] = (MODEL_OVER_HTTP, MODEL_UNPINNED, NO_AUTH, PUBLIC_INGRESS)
