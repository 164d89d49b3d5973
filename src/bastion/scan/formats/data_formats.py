"""Binary formats that hold only data, recognized by content so they are recorded, not skipped.

Their loaders read numbers, strings and tree structures and call nothing the file names:

* ``sentencepiece`` — a SentencePiece ``ModelProto`` (``tokenizer.model``, ``spiece.model``): a
  protobuf whose first field is the list of pieces (text, score, type);
* ``xgboost-ubjson`` — ``Booster.save_model("*.ubj")`` (UBJSON object opening with ``learner``
  or ``version``);
* ``xgboost-dmatrix`` — ``DMatrix.save_binary`` (magic ``0xffffab01``);
* ``catboost-model`` — CatBoost ``.cbm`` (``CBM1`` then a FlatBuffers model);
* ``lightgbm-dataset`` — ``Dataset.save_binary`` (LightGBM's binary file token);
* ``word2vec-binary`` — the binary word2vec format (``count dim`` header, then words and floats;
  the text variant stays text);
* ``sqlite`` — SQLite 3 databases (Optuna and MLflow storages).

:func:`data_format` runs after the pickle, zip and magic checks of :mod:`bastion.scan.detect`,
so a pickle or an archive wearing one of these names or prefixes is still detected as what it
is; a CatBoost magic that also parses as a pickle is left to those checks too.
"""

from __future__ import annotations

import re

from bastion.errors import MalformedInputError
from bastion.scan.formats.protowire import decode_varint

#: Formats of this module: understood, and nothing in them to check.
DATA_ONLY_FORMATS = frozenset(
    {
        "sentencepiece",
        "xgboost-ubjson",
        "xgboost-dmatrix",
        "catboost-model",
        "lightgbm-dataset",
        "word2vec-binary",
        "sqlite",
    }
)

_MAGICS: tuple[tuple[bytes, str], ...] = (
    (b"SQLite format 3\x00", "sqlite"),
    (b"______LightGBM_Binary_File_Token______\n", "lightgbm-dataset"),
    (b"\x01\xab\xff\xff", "xgboost-dmatrix"),
    (b"CBM1", "catboost-model"),
)
_UBJSON_KEY = re.compile(rb"^\{(?:[iU](.)|I(..)|l(....)|L(........))(learner|version)")
_W2V_HEADER = re.compile(rb"^(\d{1,12}) (\d{1,6})[ \t]*\r?\n")


def data_format(head: bytes) -> str | None:
    """The data-only format of a file none of the code-carrying checks claimed, if any."""
    for magic, fmt in _MAGICS:
        if head.startswith(magic):
            return fmt
    if _is_ubjson_model(head):
        return "xgboost-ubjson"
    if _is_sentencepiece(head):
        return "sentencepiece"
    if _is_word2vec_binary(head):
        return "word2vec-binary"
    return None


def _is_ubjson_model(head: bytes) -> bool:
    match = _UBJSON_KEY.match(head)
    if match is None:
        return False
    raw = next(g for g in match.groups()[:4] if g is not None)
    return int.from_bytes(raw, "big") == len(match.group(5))


def _message_end(buf: bytes, pos: int) -> tuple[int, int]:
    """Start and end of the length-delimited value whose length varint starts at ``pos``."""
    length, start = decode_varint(buf, pos)
    return start, start + length


def _is_piece(buf: bytes, start: int, end: int) -> bool:
    """A SentencePiece message: a UTF-8 piece (1), optional score (2, float) and type (3)."""
    seen: set[int] = set()
    pos = start
    while pos < end:
        tag, pos = decode_varint(buf, pos)
        field, wire = tag >> 3, tag & 7
        if field in seen:
            return False
        seen.add(field)
        if (field, wire) == (1, 2):
            value_start, pos = _message_end(buf, pos)
            if pos > end:
                return False
            buf[value_start:pos].decode("utf-8")
        elif (field, wire) == (2, 5):
            pos += 4
        elif (field, wire) == (3, 0):
            value, pos = decode_varint(buf, pos)
            if not 1 <= value <= 6:
                return False
        else:
            return False
    return pos == end and 1 in seen


def _is_sentencepiece(head: bytes) -> bool:
    """The first two pieces of a ``ModelProto`` parse exactly (field 1, length-delimited)."""
    pos = 0
    try:
        for _ in range(2):
            if head[pos : pos + 1] != b"\x0a":
                return False
            start, end = _message_end(head, pos + 1)
            if end > len(head) or not _is_piece(head, start, end):
                return False
            pos = end
    except (MalformedInputError, UnicodeDecodeError, IndexError):
        return False
    return True


def _is_word2vec_binary(head: bytes) -> bool:
    match = _W2V_HEADER.match(head)
    if match is None or int(match.group(1)) == 0 or int(match.group(2)) == 0:
        return False
    body = head[match.end() :]
    word, sep, _ = body.partition(b" ")
    if not sep or not word or len(word) > 1024:
        return False
    try:
        word.decode("utf-8")
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The vectors are raw float32, not text; a character cut by the end of the head is not.
        return exc.start < len(body) - 4
    return b"\x00" in body
