"""GGUF model files: bounded structural checks, tensor layout, and the chat templates inside.

The header, metadata and tensor descriptors are read by
:class:`~bastion.scan.formats.gguf_reader.GgufReader` (its own bounded parser: the ``gguf``
package is not needed to scan). This analyzer turns what the reader found into ``BST-GGUF``
findings, checks each tensor's alignment and extent against the real file size, hands bytes no
tensor claims to format detection, and inspects every chat template
(``tokenizer.chat_template``, ``tokenizer.chat_template.<name>``) for template injection
(``BST-TPL``). Tensor data is never read.
"""

from __future__ import annotations

from bastion.core import ArtifactKind
from bastion.scan.blob import Blob
from bastion.scan.formats import gguf_rules as R
from bastion.scan.formats.chat_template import report_template
from bastion.scan.formats.chat_template_rules import TEMPLATE_RULES
from bastion.scan.formats.gguf_model import GgufFile, Problem
from bastion.scan.formats.gguf_reader import GgufReader
from bastion.scan.formats.gguf_types import GGML_TYPES
from bastion.scan.formats.layout import (
    CappedReporter,
    Extent,
    blob_size,
    check_layout,
    inspect_hidden_bytes,
)
from bastion.scan.interface import AnalysisContext, Analyzer


class GgufAnalyzer(Analyzer):
    """GGUF files (llama.cpp and the tools built on it)."""

    name = "gguf"
    formats = ("gguf",)
    rules = R.GGUF_RULES + TEMPLATE_RULES
    kind = ArtifactKind.MODEL

    def analyze(self, blob: Blob, ctx: AnalysisContext) -> None:
        """Read the structure, report problems, check tensors and templates."""
        size = blob_size(blob, ctx.limits.max_file_bytes)
        gguf = GgufReader(blob, size, ctx.deadline.check).read()
        out = CappedReporter(ctx)
        for problem in gguf.problems:
            _emit(ctx, out, problem)
        for template in gguf.templates:
            ctx.deadline.check()
            report_template(
                ctx,
                template.text,
                template.key,
                length=template.length,
                offset=template.offset,
            )
        if gguf.complete and gguf.data_start is not None:
            _check_tensors(blob, ctx, out, gguf, gguf.data_start)
        out.close()


def _emit(ctx: AnalysisContext, out: CappedReporter, problem: Problem) -> None:
    out.report(
        problem.rule.finding(
            ctx.location(offset=problem.offset),
            f"{ctx.name}: {problem.message}.",
            evidence=problem.evidence,
            severity=problem.severity,
        )
    )


def _check_tensors(
    blob: Blob, ctx: AnalysisContext, out: CappedReporter, gguf: GgufFile, start: int
) -> None:
    area = max(0, gguf.size - start)
    align = gguf.alignment
    extents: list[Extent] = []
    for index, tensor in enumerate(gguf.tensors):
        if index % 4096 == 0:
            ctx.deadline.check()
        label = tensor.name[:80]
        where = ctx.location(offset=tensor.info_offset)
        if tensor.offset % align:
            out.report(
                R.ALIGNMENT.finding(
                    where,
                    f"{ctx.name}: tensor {label!r} starts at data offset {tensor.offset}, "
                    f"not a multiple of the alignment {align}.",
                    evidence=f"{label}: offset % {align} != 0",
                )
            )
        if tensor.nbytes is None:
            continue
        end = tensor.offset + tensor.nbytes
        if end > area:
            type_name = GGML_TYPES[tensor.ggml_type][0]
            out.report(
                R.RANGE.finding(
                    where,
                    f"{ctx.name}: tensor {label!r} ({type_name}, dims {list(tensor.dims)}) "
                    f"needs bytes [{tensor.offset}, {end}) of a {area}-byte data section.",
                    evidence=f"{label}: data beyond end of file",
                )
            )
        extents.append(Extent(tensor.name, tensor.offset, end))
    layout = check_layout(extents, area, padding=align)
    for first, second in layout.overlaps:
        out.report(
            R.OVERLAP.finding(
                ctx.location(offset=start + second.begin),
                f"{ctx.name}: tensor {second.name[:80]!r} [{second.begin}, {second.end}) "
                f"overlaps tensor {first.name[:80]!r} [{first.begin}, {first.end}).",
                evidence=f"{first.name[:80]} overlaps {second.name[:80]}",
            )
        )
    out.add_unlisted(R.OVERLAP.id, layout.overlap_count - len(layout.overlaps))
    if any(t.nbytes is None for t in gguf.tensors):
        return  # a tensor of unknown size claims unknown bytes: gaps would be guesses
    regions = [(b, e, f"gap@{b}") for b, e in layout.gaps]
    if layout.trailing is not None:
        regions.append((*layout.trailing, "trailing-data"))
    for begin, end, name in regions:
        hidden = inspect_hidden_bytes(blob, ctx, start + begin, start + end, name)
        what = f"; they hold {hidden[0]} data (analyzed)" if hidden else ""
        place = "after the last tensor" if name == "trailing-data" else "between tensors"
        out.report(
            R.UNACCOUNTED.finding(
                ctx.location(offset=start + begin),
                f"{ctx.name}: {end - begin} bytes {place} (data offsets [{begin}, {end})) "
                f"belong to no tensor{what}.",
                evidence=f"{end - begin} unclaimed bytes {place}"
                + (f" ({hidden[0]})" if hidden else ""),
            )
        )
    out.add_unlisted(R.UNACCOUNTED.id, layout.gap_count - len(layout.gaps))
