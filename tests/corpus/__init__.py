"""A labelled corpus of malicious and benign model files, generated at run time.

:func:`build_corpus` writes every sample into a directory and returns the :class:`Sample`
labels; ``test_efficacy.py`` scans it with bastion and ``bench/efficacy.py`` with the peers.
Nothing malicious is committed: payloads are assembled when the corpus is built, and each could
only create a marker file under the marker directory.
"""

from tests.corpus.build import CorpusError, build_corpus
from tests.corpus.sample import CORE_FAMILIES, FAMILIES, Sample

__all__ = ["CORE_FAMILIES", "FAMILIES", "CorpusError", "Sample", "build_corpus"]
