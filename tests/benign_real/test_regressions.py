"""Fast regressions for the false positives the benign groups found, each with the malicious
twin that must still be caught (inert payloads only: nothing here is ever loaded).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bastion.core import Severity
from bastion.scan.blob import BytesBlob
from bastion.scan.detect import detect
from bastion.scan.engine import scan
from bastion.scan.formats.pickle.probe import probe_pickle
from tests.conftest import inert_command


def _ids(path: Path) -> list[tuple[str, Severity]]:
    return [(f.rule_id, f.severity) for f in scan(path).findings]


def test_legacy_whole_module_is_clean(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.LSTM(2, 2))
    target = tmp_path / "legacy.pth"
    torch.save(model, target, _use_new_zipfile_serialization=False)
    assert _ids(target) == []


def _legacy_module_id(module: str, name: str, args: bytes) -> bytes:
    """A protocol-2 pickle calling the class behind a ("module", cls, file, source) id."""
    body = (
        b"\x80\x02("
        + b"X\x06\x00\x00\x00module"
        + f"c{module}\n{name}\n".encode()
        + b"X\x00\x00\x00\x00X\x00\x00\x00\x00tQ"  # empty file and source, TUPLE, BINPERSID
        + args
        + b"R."
    )
    return body


def test_legacy_module_id_naming_a_dangerous_callable_is_caught(
    tmp_path: Path, marker_dir: Path
) -> None:
    command = inert_command(marker_dir).encode()
    args = b"X" + len(command).to_bytes(4, "little") + command + b"\x85"
    target = tmp_path / "evil.pkl"
    target.write_bytes(_legacy_module_id("os", "system", args))
    found = _ids(target)
    assert ("BST-PKL-001", Severity.CRITICAL) in found


def test_random_storage_bytes_are_not_a_pickle() -> None:
    # 12 bytes of an Adafactor float32 storage: POP, LIST, STOP parse but fail at once.
    assert not probe_pickle(bytes.fromhex("306c2e3df3a65a3d09df883d")).plausible
    assert probe_pickle(b"(lp0\nI1\na.").complete


def test_catboost_magic_in_front_of_a_pickle_is_still_a_pickle(marker_dir: Path) -> None:
    # "CBM1" decodes as SHORT_BINBYTES of 0x42 bytes: a pickle can follow the magic.
    command = inert_command(marker_dir)
    payload = b"CBM1" + b"\x00" * 64 + f"cos\nsystem\n(S'{command}'\ntR.".encode()
    assert detect(BytesBlob(payload), "model.cbm")[0] == "pickle"


@pytest.mark.parametrize(
    ("head", "fmt"),
    [
        (b"CBM1\xa0\x1c\x00\x00\x14\x00\x00\x00" + b"\x00" * 20, "catboost-model"),
        (b"______LightGBM_Binary_File_Token______\n\x00\xc8\x01", "lightgbm-dataset"),
        (b"SQLite format 3\x00\x10\x00\x01\x01", "sqlite"),
        (b"{L\x00\x00\x00\x00\x00\x00\x00\x07learner{L", "xgboost-ubjson"),
        (b"2 4\nab \x80\xa3\xdb\xbb@\xafA;P\xa5\x82=,\xa3\xe6=", "word2vec-binary"),
    ],
)
def test_data_only_formats(head: bytes, fmt: str) -> None:
    assert detect(BytesBlob(head), "file.bin") == (fmt,)


def test_word2vec_text_stays_text() -> None:
    assert detect(BytesBlob(b"2 3\ncat 0.1 0.2 0.3\ndog 0.4 0.5 0.6\n"), "v.txt")[-1] == "text"


def test_sentencepiece_model_is_recognized(tmp_path: Path) -> None:
    spm = pytest.importorskip("sentencepiece")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(["a tiny corpus of words for pieces"] * 50))
    spm.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=str(tmp_path / "m"), vocab_size=20, minloglevel=2
    )
    model = tmp_path / "m.model"
    result = scan(model)
    assert [a.format for a in result.artifacts] == ["sentencepiece"]
    assert not result.findings and not result.skipped


def test_arrow_stream_metadata_pickle_is_found(tmp_path: Path, marker_dir: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    command = inert_command(marker_dir).encode()
    text = b"X" + len(command).to_bytes(4, "little") + command
    hidden = b"\x80\x02cos\nsystem\n" + text + b"\x85R."
    schema = pa.schema([("x", pa.int64())], metadata={b"state": hidden})
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, schema) as writer:
        writer.write_batch(pa.record_batch([pa.array([1, 2])], schema=schema))
    target = tmp_path / "data-00000-of-00001.arrow"
    target.write_bytes(sink.getvalue())
    result = scan(target)
    assert next(a.format for a in result.artifacts) == "arrow-stream"
    assert any(f.severity is Severity.CRITICAL for f in result.findings)


def test_cloudpickled_generic_alias_is_clean_but_code_types_are_not(tmp_path: Path) -> None:
    cloudpickle = pytest.importorskip("cloudpickle")
    alias = tmp_path / "hints.pkl"
    alias.write_bytes(cloudpickle.dumps({"input": list[str], "output": dict[str, int]}))
    assert _ids(alias) == []
    # The same helper naming CodeType (how cloudpickle rebuilds functions) stays critical.
    code = tmp_path / "code.pkl"
    code.write_bytes(
        b"\x80\x04\x8c\x17cloudpickle.cloudpickle\x8c\r_builtin_type\x93\x8c\x08CodeType\x85R."
    )
    assert ("BST-PKL-001", Severity.CRITICAL) in _ids(code)
