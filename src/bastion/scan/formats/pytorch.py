"""PyTorch zip checkpoints (``torch.save`` since 1.6, TorchScript archives).

Only the pickles are parsed (``*/data.pkl``, ``constants.pkl``, ``*.debug_pkl`` and any other
member whose bytes are a pickle); tensor storages are recognized and left unread apart from a
4 KiB probe, so scanning a 100 GB checkpoint costs what its pickle costs. Legacy checkpoints
(several pickles back to back) are handled by the pickle analyzer itself.
"""

from __future__ import annotations

import posixpath
import re

from bastion.core import ArtifactKind
from bastion.scan.blob import Blob
from bastion.scan.formats import zipread
from bastion.scan.formats.archive import ARCHIVE_RULES, walk_zip
from bastion.scan.formats.pickle import Mode, analyze_pickle
from bastion.scan.formats.pickle.probe import probe_pickle
from bastion.scan.interface import AnalysisContext, Analyzer

_STORAGE = re.compile(r"(^|/)data/\d+$|(^|/)\.data/serialization_id$")
#: TorchScript keeps the storages of tensors that ``constants.pkl`` names (frozen modules'
#: folded weights) under ``constants/``, read as raw bytes like ``data/``.
_CONSTANT_STORAGE = re.compile(r"(^|/)constants/\d+$")
_PICKLE_NAMES = (".pkl", ".debug_pkl")


def _looks_like_pickle(head: bytes) -> bool:
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return True
    verdict = probe_pickle(head)
    return verdict.complete or verdict.imports_valid_global


class PyTorchZipAnalyzer(Analyzer):
    """``torch.save`` zip archives and TorchScript archives."""

    name = "pytorch"
    formats = ("pytorch-zip",)
    rules = ARCHIVE_RULES

    def analyze(self, blob: Blob, ctx: AnalysisContext) -> None:
        """Analyze every pickle member; probe storages; dispatch the rest by content."""
        listing = zipread.list_entries(blob, ctx.limits)
        names = [e.name for e in listing.entries]
        # NOTE: torch.load hands an archive to TorchScript's own unpickler only when its record
        # list (names below the top folder) holds "constants.pkl"; anything else, code/ folder
        # or not, is unpickled by Python with every global importable.
        torchscript = any(
            n == "constants.pkl" or (n.count("/") == 1 and n.endswith("/constants.pkl"))
            for n in names
        )
        mode = Mode.TORCHSCRIPT if torchscript else Mode.GENERIC

        def route(entry: zipread.ZipEntry, member: Blob, parent: AnalysisContext) -> str | None:
            base = posixpath.basename(entry.name)
            if base.endswith(_PICKLE_NAMES):
                parent.nested(
                    entry.name,
                    member,
                    "pickle",
                    lambda b, c: analyze_pickle(b, c, mode=mode, inline_arrays=False),
                )
                return "pickle"
            if _STORAGE.search(entry.name) or (
                torchscript and _CONSTANT_STORAGE.search(entry.name)
            ):
                if _looks_like_pickle(member.head(4096)):
                    parent.nested(
                        entry.name,
                        member,
                        "pickle",
                        lambda b, c: analyze_pickle(b, c, inline_arrays=False),
                    )
                    return "pickle"
                parent.child(entry.name).record("tensor-data", ArtifactKind.MODEL, entry.size)
                return "tensor-data"
            return None

        walk_zip(blob, ctx, route)
