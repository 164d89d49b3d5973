"""Format detection by content: magic bytes, zip directories, HDF5 and protobuf shapes.

The extension is only a hint, used where bytes alone are ambiguous (protocol-0 pickles, raw
protobuf). A file can be several things at once (a pickle with a zip appended: PyTorch reads the
pickle, a zip tool reads the archive), so detection returns every format that applies, the one a
loader would most likely use first.
"""

from __future__ import annotations

import posixpath
import re
import struct
import zlib

from bastion.errors import MalformedInputError
from bastion.scan.blob import Blob
from bastion.scan.detect_pickle import (
    inflates_to_pickle,
    is_torch_legacy,
    lzma_pickle,
    pickle_past_the_head,
)
from bastion.scan.formats import zipread
from bastion.scan.formats.data_formats import data_format
from bastion.scan.formats.keras_knowledge import looks_like_keras_json
from bastion.scan.limits import Limits

#: Extensions that name model or serialized-object files; an unknown binary with one is suspicious.
MODEL_EXTENSIONS = frozenset(
    {
        ".pkl",
        ".pickle",
        ".p",
        ".pck",
        ".pt",
        ".pth",
        ".bin",
        ".ckpt",
        ".joblib",
        ".jbl",
        ".sav",
        ".model",
        ".mdl",
        ".npy",
        ".npz",
        ".h5",
        ".hdf5",
        ".keras",
        ".pb",
        ".onnx",
        ".safetensors",
        ".gguf",
        ".ggml",
        ".tflite",
        ".mar",
        ".dill",
        ".cloudpkl",
        ".dat",
        ".pkl.gz",
        ".pt2",
        ".mlmodel",
        ".msgpack",
        ".nemo",
        ".llamafile",
        ".zip",
    }
)

_PICKLE_HINT_EXT = frozenset(
    {
        ".pkl",
        ".pickle",
        ".p",
        ".pck",
        ".pt",
        ".pth",
        ".bin",
        ".ckpt",
        ".joblib",
        ".jbl",
        ".sav",
        ".model",
        ".mdl",
        ".dill",
        ".dat",
        ".data",
        "",
    }
)

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_TF_SHARD = re.compile(r"\.data-\d{5}-of-\d{5}$")
_TF_TABLE_MAGIC = (0xDB4775248B80FB57).to_bytes(8, "little")

_MEDIA_MAGICS: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image"),
    (b"\xff\xd8\xff", "image"),
    (b"GIF87a", "image"),
    (b"GIF89a", "image"),
    (b"%PDF-", "document"),
    (b"RIFF", "media"),
    (b"\x00\x00\x01\x00", "image"),
    (b"OggS", "media"),
    (b"fLaC", "media"),
    (b"ID3", "media"),
)


def extension(name: str) -> str:
    """Lower-case extension, with ``.pkl.gz``-style double extensions kept for compressed files."""
    base = posixpath.basename(name).lower()
    root, ext = posixpath.splitext(base)
    if ext in {".gz", ".bz2", ".xz", ".lzma", ".z", ".zst", ".lz4"}:
        inner = posixpath.splitext(root)[1]
        return inner + ext if inner else ext
    return ext


def detect(blob: Blob, name: str, limits: Limits | None = None) -> tuple[str, ...]:
    """Every format ``blob`` can be read as, most likely first; ``("unknown",)`` when none."""
    limits = limits or Limits()
    head = blob.head(4096)
    size = blob.size
    if size == 0 or not head:
        return ("empty",)
    formats: list[str] = []
    lower = posixpath.basename(name).lower()

    primary = _by_magic(head, lower, blob)
    if primary:
        formats.append(primary)
    # NOTE: a magic found past offset 0 (tar at 257, TFLite at 4) does not stop a pickle that
    # starts at 0: torch.load falls back to unpickling when tarfile rejects the header.
    if (
        (not primary or (primary in _LATE_MAGIC and head[:1] == b"\x80"))
        and not head.startswith(b"PK")
        and _looks_like_pickle(head, lower, blob)
    ):
        # NOTE: "PK" decodes as PERSID, which plain unpickling refuses at once: not a pickle.
        formats.append("pytorch-legacy" if is_torch_legacy(head) else "pickle")

    # A zip directory at the end makes the file a zip too, whatever comes first.
    if "zip" not in "".join(formats) and primary not in {"7z", "gguf", "safetensors"}:
        if zipread.has_zip_signature(blob):
            formats.append(zip_flavor(blob, limits))
    if formats:
        return tuple(dict.fromkeys(formats))

    if lower == "saved_model.pb":
        return ("tf-savedmodel",)
    if lower == "saved_model.pbtxt":
        return ("tf-savedmodel-text",)
    if lower == "fingerprint.pb":
        return ("tf-fingerprint",)
    if _TF_SHARD.search(lower) or lower.endswith((".onnx.data", ".onnx_data")):
        return ("tensor-data",)  # TensorFlow checkpoint shard, ONNX external data: raw tensors
    if lower.endswith(".index") and _is_tf_table(blob):
        return ("tensor-data",)  # TensorFlow checkpoint index: tensor names, shapes, offsets
    if lower == "keras_metadata.pb":
        return ("keras-metadata",)
    if lower.endswith(".onnx") or _looks_like_onnx(head):
        return ("onnx",)
    if lower.endswith(".pb") and _looks_like_graphdef(head):
        return ("tf-graphdef",)
    data_only = data_format(head)
    if data_only is not None:
        return (data_only,)  # tokenizer models, boosting-library files, word vectors, databases
    if _is_text(head) and looks_like_keras_json(head):
        return ("keras-json", "text")  # model.to_json() / a bare Keras config.json
    if _is_text(head):
        specific = text_format(lower, head)
        return (specific, "text") if specific else ("text",)
    named = text_format(lower, b"")
    if named is not None and named in {"python", "notebook"}:
        # Not UTF-8 under a source-file name: binary (NUL bytes) goes to its analyzer, which
        # reports it; another encoding (PEP 263) is still text, searched for secrets too.
        return (named,) if b"\x00" in head else (named, "text")
    return ("unknown",)


#: Text formats whose content is structured enough that a chance pickle parse is not a pickle.
_STRUCTURED_TEXT = frozenset(
    {"requirements", "pyproject", "lockfile", "pipfile", "conda-env", "pip-config", "csv", "jsonl"}
)
_REQUIREMENTS = re.compile(r"^(.*requirements.*|constraints.*)\.(txt|in)$|^requirements$")
_LOCKFILES = frozenset({"poetry.lock", "uv.lock", "pipfile.lock", "pdm.lock"})
_SHEBANG_PY = re.compile(rb"^#![^\n]*python")


def text_format(lower: str, head: bytes) -> str | None:
    """The specific kind of a text file (``python``, ``requirements``, ``dockerfile``…).

    Text files are also always ``text`` (secrets are looked for in every one); this names the
    analyzer family that understands the file's structure, by name first and content second.
    """
    ext = posixpath.splitext(lower)[1]
    if ext == ".ipynb":
        return "notebook"
    if ext in {".py", ".pyw", ".pyi"} or _SHEBANG_PY.match(head):
        return "python"
    if _REQUIREMENTS.match(lower):
        return "requirements"
    if lower == "pyproject.toml":
        return "pyproject"
    if lower in _LOCKFILES or (lower.startswith("pylock.") and lower.endswith(".toml")):
        return "lockfile"
    if lower == "pipfile":
        return "pipfile"
    if lower in {"pip.conf", "pip.ini"}:
        return "pip-config"
    if lower in {"environment.yml", "environment.yaml", "conda.yml", "conda.yaml"}:
        return "conda-env"
    if (
        lower in {"dockerfile", "containerfile"}
        or lower.startswith("dockerfile.")
        or (ext in {".dockerfile", ".containerfile"})
    ):
        return "dockerfile"
    if lower == ".env" or lower.startswith(".env.") or ext == ".env":
        return "dotenv"
    return {
        ".yml": "yaml",
        ".yaml": "yaml",
        ".json": "json",
        ".toml": "toml",
        ".cfg": "ini",
        ".ini": "ini",
        ".sh": "shell",
        ".bash": "shell",
        ".csv": "csv",
        ".tsv": "csv",
        ".jsonl": "jsonl",
        ".ndjson": "jsonl",
        ".jinja": "jinja",
        ".j2": "jinja",
        ".md": "markdown",
        ".txt": None,
    }.get(ext)


def _by_magic(head: bytes, lower: str, blob: Blob | None = None) -> str | None:
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return None  # resolved with the directory below, to tell zip flavours apart
    if head.startswith(b"\x93NUMPY"):
        return "numpy"
    if head.startswith(b"GGUF"):
        return "gguf"
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return "7z"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"BZh") and len(head) > 3 and head[3:4].isdigit():
        return "bzip2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return "zstd"
    if head.startswith(b"\x04\x22\x4d\x18"):
        return "lz4"
    if head.startswith(b"ZF") and (
        lower.endswith((".pkl", ".joblib", ".z", ".gz", ".jbl")) or inflates_to_pickle(head, blob)
    ):
        return "joblib-zfile"
    if _is_hdf5(head):
        return "hdf5"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    if _is_safetensors(head):
        return "safetensors"
    if head[:1] == b"\x5d" and (
        head[5:13] == b"\xff" * 8 or lower.endswith((".lzma", ".xz")) or lzma_pickle(head, blob)
    ):
        return "lzma"  # LZMA "alone" format, as joblib's lzma compression writes it
    if _is_zlib(head) and (
        lower.endswith((".z", ".zlib", ".joblib", ".pkl", ".jbl")) or inflates_to_pickle(head, blob)
    ):
        return "zlib"  # joblib detects zlib by its first byte, whatever the file is called
    if len(head) >= 8 and head[4:8] == b"TFL3":
        return "tflite"
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"ARROW1"):
        return "arrow"
    if _is_arrow_stream(head):
        return "arrow-stream"  # Arrow IPC stream: Hugging Face datasets' .arrow files
    for magic, fmt in _MEDIA_MAGICS:
        if head.startswith(magic):
            return fmt
    return None


#: Formats recognized by a magic that is not at offset 0, so a pickle can start the file.
_LATE_MAGIC = frozenset({"tar", "tflite"})


def _is_arrow_stream(head: bytes) -> bool:
    """The continuation marker, then a schema message length (padded to 8 bytes)."""
    if len(head) < 16 or head[:4] != b"\xff\xff\xff\xff":
        return False
    length = int.from_bytes(head[4:8], "little", signed=True)
    return 8 <= length <= 64 << 20 and length % 8 == 0


def _is_hdf5(head: bytes) -> bool:
    # The superblock may follow a user block of 512, 1024, 2048… bytes; the head covers 0–2048.
    return any(head[off : off + 8] == _HDF5_MAGIC for off in (0, 512, 1024, 2048))


def _is_safetensors(head: bytes) -> bool:
    if len(head) < 10:
        return False
    (length,) = struct.unpack("<Q", head[:8])
    return 2 <= length <= 512 * 1024 * 1024 and head[8:9] == b"{"


def _is_zlib(head: bytes) -> bool:
    if len(head) < 2:
        return False
    cmf, flg = head[0], head[1]
    if cmf & 0x0F != 8 or cmf >> 4 > 7 or (cmf * 256 + flg) % 31 != 0:
        return False
    # NOTE: the two-byte header matches text by chance (b"(S" passes); inflate a little to be sure.
    try:
        zlib.decompressobj().decompress(head, 64)
    except zlib.error:
        return False
    return True


def _looks_like_pickle(head: bytes, lower: str, blob: Blob | None = None) -> bool:
    """Protocol 2+ starts with PROTO; protocols 0 and 1 need a structural probe."""
    if len(head) >= 2 and head[0] == 0x80 and 1 <= head[1] <= 5:
        return True
    from bastion.scan.formats.pickle.probe import probe_pickle

    verdict = probe_pickle(head)
    if verdict.imports_valid_global:
        return True
    if verdict.complete:
        # NOTE: short text can parse as a protocol-0 pickle by chance ("torch==1.12.1\n" is
        # TUPLE, OBJ, …, STOP at the first "."); a named data or dependency file that imports
        # nothing is the text its name says.
        return not (_is_text(head) and text_format(lower, head) in _STRUCTURED_TEXT)
    if blob is not None and pickle_past_the_head(blob, head, verdict):
        return True
    ext = posixpath.splitext(lower)[1]
    return verdict.plausible and ext in _PICKLE_HINT_EXT and ext != ""


def _looks_like_onnx(head: bytes) -> bool:
    # ModelProto: field 1 (ir_version, varint), then producer (2, 3), domain (4),
    # model_version (5, varint), doc_string (6), graph (7) or opset_import (8).
    if len(head) < 4 or head[0] != 0x08 or not 1 <= head[1] <= 20:
        return False
    return head[2] in (0x12, 0x1A, 0x22, 0x28, 0x32, 0x3A, 0x42)


def _is_tf_table(blob: Blob) -> bool:
    """A TensorFlow table file (checkpoint ``.index``): the LevelDB table magic ends it."""
    size = blob.size
    return size is not None and size >= 48 and blob.read_at(size - 8, 8) == _TF_TABLE_MAGIC


def _looks_like_graphdef(head: bytes) -> bool:
    """A frozen TensorFlow GraphDef: ``node`` (1) first, a NodeDef opening with name then op."""
    from bastion.scan.formats.protowire import decode_varint, is_plausible_message

    if len(head) < 6 or head[0] != 0x0A or not is_plausible_message(head):
        return False
    try:
        _, pos = decode_varint(head, 1)
        if head[pos : pos + 1] != b"\x0a":
            return False
        length, pos = decode_varint(head, pos + 1)
    except MalformedInputError:
        return False
    return head[pos + length : pos + length + 1] == b"\x12"


def _is_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the head is still text.
        return exc.start >= len(head) - 4
    return True


def zip_flavor(blob: Blob, limits: Limits) -> str:
    """``pytorch-zip``, ``keras``, ``npz`` or plain ``zip``, from the directory's member names."""
    try:
        listing = zipread.list_entries(blob, limits)
    except Exception:
        return "zip"
    names = [e.name for e in listing.entries if not e.is_dir]
    if any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
        return "pytorch-zip"
    base = {posixpath.basename(n) for n in names}
    if "config.json" in names and ("model.weights.h5" in names or "metadata.json" in names):
        return "keras"
    if names and all(n.endswith(".npy") for n in names):
        return "npz"
    if "constants.pkl" in base:
        return "pytorch-zip"
    return "zip"
