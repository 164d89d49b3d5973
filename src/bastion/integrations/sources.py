"""Scan targets that are not plain paths: ``mlflow://MODEL_URI`` and ``hf-cache://[DIR]``.

>>> from bastion.integrations.sources import open_source
>>> with open_source(["mlflow://models:/fraud/3"]) as source:     # doctest: +SKIP
...     result = source.scan(options)
>>> result.root                                                  # doctest: +SKIP
'mlflow://models:/fraud/3'

A source names what the report calls the scan target (the URI) and where the files are on this
machine; finding paths are relative to the model folder (MLflow) or ``<repo id>@<revision>/…``
(Hugging Face cache). A plain path that *is* a Hugging Face cache (a hub folder, one
``models--org--name`` folder or one of its snapshots) is scanned as a cache too; any other plain
path is left to the ordinary walk (:func:`open_source` yields ``None``).

Content from a model store is third-party content: inline ``# bastion: ignore`` comments in it
are not honoured (:attr:`ScanSource.honours_inline_suppressions`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bastion.core import ScanResult
from bastion.errors import UsageError
from bastion.integrations import hf_cache, mlflow
from bastion.registry import Registry
from bastion.scan.discover import DEFAULT_EXCLUDES, Excluder, walk
from bastion.scan.engine import ProgressSink, ScanOptions, scan_events

HF_SCHEME = "hf-cache://"
SCHEMES = (mlflow.SCHEME, HF_SCHEME)


@dataclass(frozen=True)
class ScanSource:
    """A resolved target: its label, its local files, and how to describe what was scanned."""

    label: str
    root: Path
    hf: hf_cache.HfCache | None = None
    model: mlflow.MlflowModel | None = None

    @property
    def honours_inline_suppressions(self) -> bool:
        """Never: a model store's files must not be able to silence findings about themselves."""
        return False

    def scan(
        self,
        options: ScanOptions,
        *,
        registry: Registry | None = None,
        progress: ProgressSink | None = None,
    ) -> ScanResult:
        """Scan the source's files; the result's root is :attr:`label`."""
        patterns = (DEFAULT_EXCLUDES if options.default_excludes else ()) + options.exclude
        events = self.hf.events(patterns) if self.hf else walk(self.root, Excluder(patterns))
        return scan_events(self.label, events, options, registry=registry, progress=progress)

    def summary(self, result: ScanResult) -> list[str]:
        """Lines for the person running the scan: which model, revision or snapshot was seen."""
        if self.hf is not None:
            return self.hf.summary(result)
        if self.model is not None:
            m = self.model
            what = f"model {m.name} version {m.version}" if m.name else "artifacts"
            run = f", run {m.run_id}" if m.run_id else ""
            how = "downloaded to a temporary folder" if m.copied else "scanned in place"
            return [f"{self.label}: {what}{run}; {m.artifact_uri} {how}"]
        return []


def has_scheme(target: str) -> bool:
    """Whether a command-line target names a source by URI."""
    return target.startswith(SCHEMES)


@contextmanager
def open_source(targets: Sequence[str]) -> Iterator[ScanSource | None]:
    """Resolve the command line's targets; ``None`` when they are ordinary paths."""
    if not any(has_scheme(t) for t in targets):
        if len(targets) == 1 and hf_cache.is_cache(Path(targets[0])):
            path = Path(targets[0])
            yield ScanSource(HF_SCHEME + str(path), path, hf=hf_cache.open_cache(path))
        else:
            yield None
        return
    if len(targets) != 1:
        raise UsageError("an mlflow:// or hf-cache:// target must be the only target")
    target = targets[0]
    if target.startswith(HF_SCHEME):
        rest = target[len(HF_SCHEME) :]
        cache = hf_cache.open_cache(Path(rest).expanduser() if rest else None)
        yield ScanSource(HF_SCHEME + str(cache.root), cache.root, hf=cache)
        return
    with mlflow.open_model(target) as model:
        yield ScanSource(model.label, model.local_path, model=model)
