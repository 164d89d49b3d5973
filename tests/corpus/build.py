"""Build the labelled corpus into a directory: every generator, one list of samples.

>>> samples = build_corpus(Path("/tmp/corpus"), families={"pickle"})   # doctest: +SKIP
>>> sum(s.malicious for s in samples)                                   # doctest: +SKIP
80
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.corpus import (
    benign_data,
    benign_sklearn,
    benign_torch,
    formats_gguf,
    formats_keras,
    formats_onnx,
    formats_tensorflow,
    mal_containers,
    mal_gadgets,
    mal_pickle,
    mal_torch,
)
from tests.corpus.sample import FAMILIES, CorpusWriter, Sample

#: Marker directory used when the caller names none (inside the corpus, so it is scanned too).
DEFAULT_MARKER_DIR = ".markers"

_GENERATORS: tuple[Callable[[CorpusWriter], None], ...] = (
    mal_pickle.generate,
    mal_gadgets.generate,
    mal_torch.generate,
    mal_containers.generate,
    formats_keras.generate,
    formats_tensorflow.generate,
    formats_onnx.generate,
    formats_gguf.generate,
    benign_torch.generate,
    benign_sklearn.generate,
    benign_data.generate,
)


class CorpusError(Exception):
    """The corpus cannot be built as asked (unknown family, destination not empty)."""


def build_corpus(
    dest: Path,
    *,
    families: set[str] | None = None,
    marker_dir: Path | None = None,
) -> list[Sample]:
    """Generate the labelled corpus into ``dest`` (created, must be empty) and return its samples.

    ``families`` restricts generation (see :data:`tests.corpus.sample.FAMILIES`). Malicious
    payloads could only create files in ``marker_dir`` (default ``dest/.markers``), which is
    created empty; nothing is ever loaded.
    """
    unknown = sorted(set(families or ()) - set(FAMILIES))
    if unknown:
        raise CorpusError(f"unknown corpus families {unknown}; known: {', '.join(FAMILIES)}")
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise CorpusError(f"{dest}: the corpus directory must be empty")
    markers = marker_dir if marker_dir is not None else dest / DEFAULT_MARKER_DIR
    markers.mkdir(parents=True, exist_ok=True)
    writer = CorpusWriter(dest, markers, frozenset(families) if families is not None else None)
    for generate in _GENERATORS:
        generate(writer)
    _check_complete(dest, markers, writer.samples)
    return sorted(writer.samples, key=lambda s: s.path)


def _check_complete(dest: Path, markers: Path, samples: list[Sample]) -> None:
    """Every file under ``dest`` is a recorded sample, so no unlabelled file reaches a scanner."""
    recorded = {s.path for s in samples}
    written = {
        p.relative_to(dest).as_posix()
        for p in dest.rglob("*")
        if p.is_file() and markers not in p.parents
    }
    stray = sorted(written - recorded)
    if stray:
        raise CorpusError(f"generators wrote files they did not label: {stray}")
