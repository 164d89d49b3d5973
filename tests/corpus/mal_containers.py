"""Malicious payloads inside other containers: joblib, NumPy, compressed streams, archives.

The joblib and NumPy samples are written by the real libraries (the payload is an object whose
``__reduce__`` returns the call); archives are written with ``zipfile``, ``tarfile`` and
``py7zr``; disguised samples are pickles named like formats that cannot carry code.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
import zipfile
from pathlib import Path

from tests.corpus.payloads import PopenCall, SystemCall
from tests.corpus.pickle_asm import Asm
from tests.corpus.sample import CorpusWriter

#: joblib compression settings: (file name, ``compress`` argument, technique).
_JOBLIB: tuple[tuple[str, object, str], ...] = (
    ("model.joblib", 0, "uncompressed"),
    ("model_zlib.joblib", 3, "zlib-compressed (compress=3), named .joblib"),
    ("model.joblib.z", ("zlib", 3), "zlib-compressed, .z extension"),
    ("model.joblib.gz", ("gzip", 3), "gzip-compressed"),
    ("model.joblib.bz2", ("bz2", 3), "bz2-compressed"),
    ("model.joblib.xz", ("xz", 3), "xz-compressed"),
    ("model.joblib.lzma", ("lzma", 3), "lzma-compressed, .lzma extension"),
    ("model_lzma.joblib", ("lzma", 3), "lzma-compressed, named .joblib"),
)


def _joblib(w: CorpusWriter) -> None:
    import joblib
    import numpy as np

    for filename, compress, how in _JOBLIB:
        name = f"joblib/{filename}"
        weights = {"coef": np.linspace(0, 1, 64).reshape(8, 8), "bias": np.zeros(8)}
        obj = [weights, np.arange(32, dtype=np.int64), SystemCall(w.touch_command(name))]
        joblib.dump(obj, w.path(name), compress=compress)  # type: ignore[arg-type]
        w.add(
            name,
            None,
            label="malicious",
            family="joblib",
            technique=f"payload after inline numpy arrays, {how}",
        )
    name = "joblib/payload_between_arrays.joblib"
    obj = [np.ones((16, 16)), PopenCall(["touch", str(w.marker(name))]), np.zeros(128)]
    joblib.dump(obj, w.path(name))
    w.add(
        name,
        None,
        label="malicious",
        family="joblib",
        technique="payload between two inline numpy arrays",
    )


def _numpy(w: CorpusWriter) -> None:
    import numpy as np

    name = "numpy/object_array.npy"
    array = np.empty(3, dtype=object)
    array[:] = [1.5, "label", SystemCall(w.touch_command(name))]
    np.save(w.path(name), array, allow_pickle=True)
    w.add(name, None, label="malicious", family="numpy", technique=".npy object array")

    name = "numpy/object_member.npz"
    array = np.empty(1, dtype=object)
    array[0] = PopenCall(["touch", str(w.marker(name))])
    np.savez(w.path(name), weights=np.arange(10.0), meta=array)
    w.add(
        name, None, label="malicious", family="numpy", technique=".npz with an object-array member"
    )

    name = "numpy/object_member_compressed.npz"
    array = np.empty(2, dtype=object)
    array[:] = ["config", SystemCall(w.touch_command(name))]
    np.savez_compressed(w.path(name), weights=np.ones((4, 4)), meta=array)
    w.add(
        name,
        None,
        label="malicious",
        family="numpy",
        technique="compressed .npz with an object array",
    )


def _payload(w: CorpusWriter, name: str) -> bytes:
    return Asm(4).call("os", "system", w.touch_command(name)).stop().framed()


def _compressed(w: CorpusWriter) -> None:
    for ext, compress in (
        ("gz", gzip.compress),
        ("bz2", bz2.compress),
        ("xz", lzma.compress),
        ("lzma", lambda d: lzma.compress(d, format=lzma.FORMAT_ALONE)),
    ):
        name = f"archive/model.pkl.{ext}"
        w.add(
            name,
            compress(_payload(w, name)),
            label="malicious",
            family="archive",
            technique=f"{ext}-compressed pickle",
        )


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in entries.items():
            archive.writestr(member, data)
    return buffer.getvalue()


def _tar(entries: dict[str, bytes], mode: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:  # type: ignore[call-overload]
        for member, data in entries.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _archives(w: CorpusWriter) -> None:
    def add(name: str, data: bytes, technique: str) -> None:
        w.add(name, data, label="malicious", family="archive", technique=technique)

    name = "archive/model_bundle.zip"
    add(
        name,
        _zip({"README.md": b"# model\n", "model/model.pkl": _payload(w, name)}),
        "zip holding a pickle",
    )
    name = "archive/nested.zip"
    inner = _zip({"weights/model.pkl": _payload(w, name)})
    add(
        name,
        _zip({"inner/inner.zip": inner, "notes.txt": b"nested\n"}),
        "zip inside a zip holding a pickle",
    )
    name = "archive/deep_nested.zip"
    inner = _zip({"level3.zip": _zip({"model.pkl": _payload(w, name)})})
    add(name, _zip({"level2.zip": inner}), "three levels of zips")
    name = "archive/model.tar"
    add(name, _tar({"model/model.pkl": _payload(w, name)}, "w"), "tar holding a pickle")
    name = "archive/model.tar.gz"
    add(
        name,
        _tar({"export/model.pkl": _payload(w, name)}, "w:gz"),
        "gzip-compressed tar holding a pickle",
    )
    name = "archive/model.7z"
    _seven_zip(w.path(name), {"model.pkl": _payload(w, name)})
    add(name, w.path(name).read_bytes(), "7z archive holding a pickle")


def _seven_zip(path: Path, entries: dict[str, bytes]) -> None:
    import py7zr

    with py7zr.SevenZipFile(path, "w") as archive:
        for member, data in entries.items():
            archive.writestr(data, member)


def _disguised(w: CorpusWriter) -> None:
    for filename in ("model.safetensors", "model.onnx", "model.h5", "model.gguf", "weights.npy"):
        name = f"pickle/disguised/{filename}"
        w.add(
            name,
            _payload(w, name),
            label="malicious",
            family="pickle",
            technique=f"pickle disguised as {Path(filename).suffix}",
        )


def generate(w: CorpusWriter) -> None:
    """Write the joblib, NumPy, compressed, archived and disguised samples."""
    if w.wants("joblib"):
        _joblib(w)
    if w.wants("numpy"):
        _numpy(w)
    if w.wants("archive"):
        _compressed(w)
        _archives(w)
    if w.wants("pickle"):
        _disguised(w)
