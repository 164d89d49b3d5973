"""The corpus tools themselves: assembler, lying zip writer, labels, and a quick partial build."""

from __future__ import annotations

import io
import pickletools
import zipfile
from pathlib import Path

import pytest

from tests.corpus import CorpusError, build_corpus, zipcraft
from tests.corpus.pickle_asm import Asm
from tests.corpus.sample import CorpusWriter
from tests.corpus.zipcraft import Entry


def _opcodes(data: bytes) -> list[str]:
    return [op.name for op, _arg, _pos in pickletools.genops(data)]


@pytest.mark.parametrize("protocol", range(6))
def test_assembler_writes_valid_streams_for_every_protocol(protocol: int) -> None:
    data = Asm(protocol).call("os", "system", "true", [1, "x"], {"k": (1, 2, 3, 4)}).stop().bytes()
    names = _opcodes(data)
    assert names[-2:] == ["REDUCE", "STOP"]
    assert ("STACK_GLOBAL" in names) == (protocol >= 4)
    assert ("PROTO" in names) == (protocol >= 2)


def test_assembler_frames_and_memo() -> None:
    asm = Asm(4).string("os").put().pop().get(0)
    names = _opcodes(asm.stop().framed())
    assert names[:2] == ["PROTO", "FRAME"]
    assert "MEMOIZE" in names and "BINGET" in names
    with pytest.raises(ValueError):
        Asm(2).framed()
    with pytest.raises(ValueError):
        Asm(6)


def test_protocol0_strings_survive_newlines_and_backslashes() -> None:
    data = Asm(0).string("a\\b\nc").stop().bytes()
    ops = list(pickletools.genops(data))
    assert ops[0][1] == "a\\b\nc"


def test_zipcraft_honest_archive_reads_back() -> None:
    data = zipcraft.build([Entry("a.txt", b"hello"), Entry("b.bin", b"x" * 100, method=8)])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.read("a.txt") == b"hello"
        assert archive.read("b.bin") == b"x" * 100


def test_zipcraft_lies_are_real() -> None:
    """Each quirk really makes ``zipfile`` refuse the member, which is what it must reproduce."""
    mismatch = zipcraft.build([Entry("archive/data.pkl", b".", local_name="archive/x.txt")])
    with zipfile.ZipFile(io.BytesIO(mismatch)) as archive, pytest.raises(zipfile.BadZipFile):
        archive.read("archive/data.pkl")
    encrypted = zipcraft.build([Entry("data.pkl", b".", flags=0x1)])
    with zipfile.ZipFile(io.BytesIO(encrypted)) as archive, pytest.raises(RuntimeError):
        archive.read("data.pkl")
    bad_crc = zipcraft.build([Entry("data.pkl", b".", crc=1)])
    with zipfile.ZipFile(io.BytesIO(bad_crc)) as archive, pytest.raises(zipfile.BadZipFile):
        archive.read("data.pkl")
    hidden = zipcraft.build([Entry("h.pkl", b".", in_central=False), Entry("v.txt", b"v")])
    with zipfile.ZipFile(io.BytesIO(hidden)) as archive:
        assert archive.namelist() == ["v.txt"]


def test_writer_refuses_paths_outside_the_corpus(tmp_path: Path) -> None:
    writer = CorpusWriter(tmp_path, tmp_path / "m")
    for bad in ("../escape.pkl", "/abs.pkl"):
        with pytest.raises(ValueError):
            writer.add(bad, b".", label="benign", family="pickle", technique="t")
    with pytest.raises(ValueError):
        writer.add("x.pkl", b".", label="benign", family="nope", technique="t")
    writer.add("x.pkl", b".", label="benign", family="pickle", technique="t")
    with pytest.raises(ValueError):
        writer.add("x.pkl", b".", label="benign", family="pickle", technique="t")


def test_build_refuses_unknown_families_and_dirty_directories(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="unknown corpus families"):
        build_corpus(tmp_path / "a", families={"pickles"})
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "stray.bin").write_bytes(b"x")
    with pytest.raises(CorpusError, match="must be empty"):
        build_corpus(tmp_path / "b", families={"archive"})


def test_partial_build_is_labelled_complete_and_inert(tmp_path: Path) -> None:
    """A quick build of two families: every file labelled, every payload aimed at the markers."""
    markers = tmp_path / "markers"
    samples = build_corpus(tmp_path / "corpus", families={"archive", "numpy"}, marker_dir=markers)
    assert {s.family for s in samples} == {"archive", "numpy"}
    assert {s.label for s in samples} == {"malicious", "benign"}
    files = {
        p.relative_to(tmp_path / "corpus").as_posix() for p in (tmp_path / "corpus").rglob("*")
    }
    assert {s.path for s in samples} <= files
    for sample in samples:
        if sample.malicious and sample.path.endswith((".npy", ".tar")):
            # Uncompressed containers show their command: it only touches the marker directory.
            data = (tmp_path / "corpus" / sample.path).read_bytes()
            assert f"touch {markers}/".encode() in data
    assert not any(markers.iterdir())
