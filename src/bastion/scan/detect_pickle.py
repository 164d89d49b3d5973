"""Whether bytes are a pickle when the first bytes do not say so: compressed wrappers, torch's
legacy layout, and streams whose start hides past the head (a long literal or padding first).

Split from :mod:`bastion.scan.detect`; nothing here unpickles: opcodes are decoded and counted.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import BinaryIO, cast

from bastion.errors import AnalysisLimitError, MalformedInputError
from bastion.scan.blob import Blob
from bastion.scan.formats.pickle.probe import ProbeVerdict

_TORCH_LEGACY_MAGIC = b"\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"

#: Opcodes (and bytes of opcodes) the deep probe decodes before it calls a stream a pickle.
_DEEP_PROBE_OPS = 1 << 16
_DEEP_PROBE_BYTES = 16 << 20


def inflates_to_pickle(head: bytes, blob: Blob | None = None) -> bool:
    """A zlib stream (after joblib's ``ZF`` header, if any) whose first bytes are a pickle."""
    start = 0
    if head.startswith(b"ZF"):
        start = 22 if head[21:22] == b" " else 21  # joblib's fixed-width header
    try:
        inflated = zlib.decompressobj().decompress(head[start:], 64)
    except zlib.error:
        return False

    def reopen() -> BinaryIO:
        from bastion.scan.formats.decoders import zlib_decoder

        assert blob is not None
        raw = blob.open()
        raw.read(start)
        return cast(BinaryIO, zlib_decoder(raw))

    return _pickle_head(inflated, reopen if blob is not None else None)


def lzma_pickle(head: bytes, blob: Blob | None = None) -> bool:
    """An LZMA 'alone' stream (joblib's prefix ``5d 00``) whose first bytes are a pickle."""
    import lzma

    try:
        inflated = lzma.LZMADecompressor(lzma.FORMAT_ALONE).decompress(head, 64)
    except lzma.LZMAError:
        return False

    def reopen() -> BinaryIO:
        from bastion.scan.formats.decoders import lzma_decoder

        assert blob is not None
        return cast(BinaryIO, lzma_decoder(blob.open()))

    return _pickle_head(inflated, reopen if blob is not None else None)


def _pickle_head(data: bytes, reopen: Callable[[], BinaryIO] | None = None) -> bool:
    """The first decompressed bytes start a pickle; ``reopen`` gives the whole decompressed
    stream, followed when the bytes at hand end inside the probe (a long literal first)."""
    if len(data) >= 2 and data[0] == 0x80 and 1 <= data[1] <= 5:
        return True
    from bastion.scan.formats.pickle.probe import probe_pickle

    verdict = probe_pickle(data)
    if verdict.complete or verdict.imports_valid_global:
        return True
    if reopen is None or not (verdict.truncated or verdict.exhausted):
        return False
    return _deep_probe(reopen)


def is_torch_legacy(head: bytes) -> bool:
    # NOTE: torch.save(..., pickle_protocol=3/4/5) writes the same magic-number pickle first;
    # from protocol 4 it sits in a FRAME (0x95 and an 8-byte length).
    if head[:1] != b"\x80" or head[1:2] not in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return False
    body = head[11:] if head[2:3] == b"\x95" and head[1] >= 4 else head[2:]
    return body[:12] == _TORCH_LEGACY_MAGIC


def pickle_past_the_head(blob: Blob, head: bytes, verdict: ProbeVerdict) -> bool:
    """Follow opcodes the head window cut off: a literal longer than the head, or padding of
    valid opcodes longer than the probe, must not hide the imports and the STOP behind it.
    """
    cut = verdict.truncated and (blob.size is None or blob.size > len(head))
    if not (cut or verdict.exhausted):
        return False
    return _deep_probe(blob.open)


def _deep_probe(reopen: Callable[[], BinaryIO]) -> bool:
    """``pickle.load`` has no notion of a head: a stream that decodes as opcodes until it
    imports a validly named global, reaches STOP, or goes on for tens of thousands of opcodes
    is a pickle."""
    from bastion.scan.formats.pickle.probe import probe_pickle_stream

    try:
        stream = reopen()
    except (OSError, MalformedInputError, AnalysisLimitError):
        return False
    try:
        deep = probe_pickle_stream(stream, _DEEP_PROBE_OPS, _DEEP_PROBE_BYTES)
    except (OSError, MalformedInputError, AnalysisLimitError):
        return False
    finally:
        stream.close()
    return deep.complete or deep.imports_valid_global or deep.exhausted
