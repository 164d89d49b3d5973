"""A model release gate on Kubeflow Pipelines: scan, verify and assess a model with bastion.

Every step runs the bastion image pinned by digest and fails the run when the policy fails, so
a deployment step you add after them (``.after(scan, verify, assess)``) only ever sees a model
that passed all three. Compile it with the digest of the image you built from
``docker/Dockerfile``::

    python examples/kubeflow/pipeline.py \\
        --image ghcr.io/acme/bastion@sha256:<digest> --output release-gate.yaml
    bastion scan release-gate.yaml        # bastion's own KFP checks on the compiled spec

then upload ``release-gate.yaml`` in the Kubeflow UI or with ``kfp.Client().create_run_from_
pipeline_package``. Inputs are artifact URIs the cluster can read (``gs://``, ``s3://``,
``minio://``): the model folder (with its ``model.sig`` when signed), the signer's public key,
the policy file, and the assessment project (a folder whose ``bastion.toml`` has an
``[assess]`` table).
"""

# NOTE: no ``from __future__ import annotations``: KFP reads the pipeline function's parameter
# annotations as objects when it builds the pipeline.
import argparse
import os
from typing import Any

from kfp import compiler, dsl

from bastion.integrations.kfp import BastionComponents, as_gate


def build_pipeline(image: str) -> Any:
    """The release-gate pipeline for one pinned bastion image."""
    steps = BastionComponents(image)
    scan_op, verify_op, assess_op = steps.scan(), steps.verify(), steps.assess()

    @dsl.pipeline(
        name="bastion-release-gate",
        description="Scan, verify and assess a model before it may be deployed.",
    )
    def release_gate(
        model_uri: str,
        public_key_uri: str,
        policy_uri: str,
        assess_project_uri: str,
        assess_suite: str = "all",
    ) -> None:
        model = dsl.importer(artifact_uri=model_uri, artifact_class=dsl.Model)
        public_key = dsl.importer(artifact_uri=public_key_uri, artifact_class=dsl.Artifact)
        policy = dsl.importer(artifact_uri=policy_uri, artifact_class=dsl.Artifact)
        project = dsl.importer(artifact_uri=assess_project_uri, artifact_class=dsl.Artifact)
        scan = as_gate(scan_op(model=model.output, policy=policy.output))
        scan.set_display_name("bastion scan")
        verify = as_gate(verify_op(model=model.output, public_key=public_key.output))
        verify.set_display_name("bastion verify")
        assess = as_gate(
            assess_op(project=project.output, suite=assess_suite), cpu="4", memory="8G"
        )
        assess.set_display_name("bastion assess")
        assess.after(scan, verify)  # no CPU spent assessing a model that is already refused

    return release_gate


def main() -> None:
    """Compile the pipeline to IR YAML."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--image",
        default=os.environ.get("BASTION_IMAGE"),
        help="bastion image pinned by digest (default: $BASTION_IMAGE)",
    )
    parser.add_argument("--output", default="release-gate.yaml", help="compiled pipeline")
    args = parser.parse_args()
    if not args.image:
        parser.error("--image (or BASTION_IMAGE) is required: <repository>@sha256:<digest>")
    compiler.Compiler().compile(build_pipeline(args.image), args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
