"""Kubeflow Pipelines (v2) components that run ``bastion scan``, ``verify`` and ``assess`` as steps.

>>> from kfp import dsl
>>> from bastion.integrations.kfp import BastionComponents, as_gate
>>> steps = BastionComponents("registry.example/bastion@sha256:" + "0" * 64)
>>> @dsl.pipeline(name="release")
... def release(model_uri: str):
...     model = dsl.importer(artifact_uri=model_uri, artifact_class=dsl.Model)
...     as_gate(steps.scan()(model=model.output))

Each component is a container component on the bastion image (``docker/Dockerfile``), which must
be named by digest: a tag can be moved to other content between the review of a pipeline and
its run. The step's exit status is bastion's: 0 passed, 1 the policy failed, 2 error, so a model
that fails the gate fails the run and nothing after the step runs. Reports are written to an
output artifact (SARIF for scans, JSON otherwise) for the run's UI and for later steps.

:func:`as_gate` sets what a gate step needs on the task: no caching (KFP's cache key is the
artifact URI, not its bytes, so a model replaced at the same URI would reuse an old "passed")
and CPU/memory limits (an unbounded step is a denial-of-service vector, ``BST-KFP-006``).
"""

# NOTE: no ``from __future__ import annotations`` here: KFP reads the component functions'
# annotations at decoration time and must see real ``Input[Model]`` objects, not strings.
import re
from dataclasses import dataclass
from typing import Any, Optional, TypeVar

from bastion.errors import MissingDependencyError
from bastion.integrations.errors import IntegrationError

try:
    from kfp import dsl
    from kfp.dsl import Artifact, Input, Model, Output
except ImportError:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError("kfp", "kfp", "Building Kubeflow Pipelines components") from None

#: Where release images are published; a run must still pin the digest it was reviewed with.
IMAGE_REPOSITORY = "ghcr.io/bastion-ml/bastion"
_PINNED = re.compile(r"^[a-z0-9][a-z0-9._/:-]*@sha256:[0-9a-f]{64}$")
T = TypeVar("T")


def pinned(image: str) -> str:
    """``image`` if it names a digest (``repo[:tag]@sha256:<64 hex>``), else an error."""
    if not _PINNED.match(image):
        raise IntegrationError(
            image or "(empty image)",
            "a bastion pipeline image must be pinned by digest: <repository>@sha256:<64 hex>",
        )
    return image


@dataclass(frozen=True)
class BastionComponents:
    """Factories of the bastion container components for one pinned image."""

    image: str

    def __post_init__(self) -> None:
        """Refuse an image that is not pinned by digest."""
        pinned(self.image)

    def scan(self) -> Any:
        """``bastion scan MODEL``: inputs ``model`` (Model), optional ``policy`` (a bastion.toml
        artifact), optional ``fail_on``; output ``report`` (SARIF by default)."""
        image = self.image

        def bastion_scan(
            model: Input[Model],
            report: Output[Artifact],
            policy: Input[Artifact] = None,
            fail_on: Optional[str] = None,  # noqa: UP045 (KFP cannot read str | None)
            report_format: str = "sarif",
        ) -> dsl.ContainerSpec:
            return dsl.ContainerSpec(
                image=image,
                command=["bastion", "scan"],
                args=[
                    model.path,
                    "--format",
                    report_format,
                    "--output",
                    report.path,
                    _present("policy", ["--config", policy.path]),
                    _present("fail_on", ["--fail-on", fail_on]),
                    "--quiet",
                ],
            )

        return dsl.container_component(bastion_scan)

    def verify(self) -> Any:
        """``bastion verify MODEL``: inputs ``model``, ``public_key`` (PEM) or ``policy`` (its
        ``[deploy]`` table names the trusted keys), optional ``signature`` (default: the model
        folder's ``model.sig``); output ``report`` (JSON)."""
        image = self.image

        def bastion_verify(
            model: Input[Model],
            report: Output[Artifact],
            public_key: Input[Artifact] = None,
            signature: Input[Artifact] = None,
            policy: Input[Artifact] = None,
        ) -> dsl.ContainerSpec:
            return dsl.ContainerSpec(
                image=image,
                command=["bastion", "verify"],
                args=[
                    model.path,
                    _present("public_key", ["--key", public_key.path]),
                    _present("signature", ["--signature", signature.path]),
                    _present("policy", ["--policy", policy.path]),
                    "--format",
                    "json",
                    "--output",
                    report.path,
                ],
            )

        return dsl.container_component(bastion_verify)

    def assess(self) -> Any:
        """``bastion assess SUITE``: input ``project`` (a folder whose ``bastion.toml`` has the
        ``[assess]`` table naming model, data and thresholds), ``suite`` (``all``,
        ``robustness``, ``privacy``, ``data``); outputs ``report`` (findings, JSON) and
        ``report_dir`` (the HTML report and the metrics document)."""
        image = self.image

        def bastion_assess(
            project: Input[Artifact],
            report: Output[Artifact],
            report_dir: Output[Artifact],
            suite: str = "all",
        ) -> dsl.ContainerSpec:
            return dsl.ContainerSpec(
                image=image,
                command=["bastion", "assess"],
                args=[
                    suite,
                    "--config",
                    dsl.ConcatPlaceholder([project.path, "/bastion.toml"]),
                    "--format",
                    "json",
                    "--output",
                    report.path,
                    "--report-dir",
                    report_dir.path,
                    "--quiet",
                ],
            )

        return dsl.container_component(bastion_assess)


def _present(name: str, then: list[Any]) -> Any:
    """Arguments passed only when the optional input ``name`` is given."""
    return dsl.IfPresentPlaceholder(input_name=name, then=then)


def as_gate(task: T, *, cpu: str = "2", memory: str = "4G") -> T:
    """Make a pipeline task a gate: never served from cache, bounded CPU and memory."""
    configured: Any = task
    configured.set_caching_options(False)
    configured.set_cpu_limit(cpu)
    configured.set_memory_limit(memory)
    return task
