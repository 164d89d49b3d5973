"""Write a large PyTorch zip checkpoint without allocating or writing its tensor bytes.

The checkpoint has the layout ``torch.save`` produces (``<name>/data.pkl`` describing every
tensor through ``torch._utils._rebuild_tensor_v2`` and persistent storage ids, ``data/<key>``
storage members, ``version``, ``byteorder``) but the storages are holes in a sparse file: the
writer seeks over them. Members are stored (not compressed) with their true CRC-32, computed
once per size from a reused zero buffer; offsets past 4 GiB use ZIP64 records.

Usage: ``python bench/big_checkpoint.py OUT.pt --gib 4``.
"""

from __future__ import annotations

import argparse
import io
import pickle
import struct
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

_CHUNK = 16 * 1024 * 1024
_U32 = 0xFFFFFFFF


@dataclass(frozen=True)
class _Storage:
    key: str
    numel: int


class _Tensor:
    """Pickles the way a float32 CPU tensor does inside ``torch.save``'s data.pkl."""

    def __init__(self, storage: _Storage, shape: tuple[int, int]) -> None:
        self.storage = storage
        self.shape = shape

    def __reduce__(self) -> tuple[object, ...]:
        import torch

        stride = (self.shape[1], 1)
        return (
            torch._utils._rebuild_tensor_v2,
            (self.storage, 0, self.shape, stride, False, OrderedDict()),
        )


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj: object) -> object:
        if isinstance(obj, _Storage):
            import torch

            return ("storage", torch.FloatStorage, obj.key, "cpu", obj.numel)
        return None


def _layers(total_bytes: int, tensor_bytes: int) -> Iterator[tuple[str, _Storage, tuple[int, int]]]:
    cols = 4096
    count = max(1, total_bytes // tensor_bytes)
    rows = tensor_bytes // 4 // cols
    for i in range(count):
        kind = ("q_proj", "k_proj", "v_proj", "o_proj")[i % 4]
        name = f"model.layers.{i // 4}.self_attn.{kind}.weight"
        yield name, _Storage(str(i), rows * cols), (rows, cols)


def _data_pkl(layers: list[tuple[str, _Storage, tuple[int, int]]]) -> bytes:
    state = OrderedDict((name, _Tensor(storage, shape)) for name, storage, shape in layers)
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=2).dump(state)
    return buffer.getvalue()


@cache
def _zero_crc(size: int) -> int:
    zeros = bytes(min(size, _CHUNK))
    crc = 0
    left = size
    while left:
        step = min(left, _CHUNK)
        crc = zlib.crc32(zeros[:step], crc)
        left -= step
    return crc


def write(path: Path, total_bytes: int, *, tensor_bytes: int = 256 * 1024 * 1024) -> int:
    """Write the checkpoint; returns the number of tensor bytes it describes."""
    layers = list(_layers(total_bytes, tensor_bytes))
    prefix = path.stem
    members: list[tuple[str, bytes | int]] = [(f"{prefix}/data.pkl", _data_pkl(layers))]
    members += [(f"{prefix}/byteorder", b"little"), (f"{prefix}/version", b"3\n")]
    members += [(f"{prefix}/data/{s.key}", s.numel * 4) for _, s, _ in layers]
    central = bytearray()
    with path.open("wb") as handle:
        handle.truncate(0)
        for name, content in members:
            raw = name.encode()
            size = content if isinstance(content, int) else len(content)
            crc = _zero_crc(size) if isinstance(content, int) else zlib.crc32(content)
            offset = handle.tell()
            handle.write(
                struct.pack(
                    "<4sHHHHHIIIHH", b"PK\x03\x04", 45, 0, 0, 0, 0x21, crc, size, size, len(raw), 0
                )
            )
            handle.write(raw)
            if isinstance(content, int):
                handle.seek(size, io.SEEK_CUR)  # a hole: nothing is written or allocated
            else:
                handle.write(content)
            extra = struct.pack("<HHQ", 0x0001, 8, offset) if offset >= _U32 else b""
            central += struct.pack(
                "<4sHHHHHHIIIHHHHHII",
                b"PK\x01\x02",
                45,
                45,
                0,
                0,
                0,
                0x21,
                crc,
                size,
                size,
                len(raw),
                len(extra),
                0,
                0,
                0,
                0,
                min(offset, _U32),
            )
            central += raw + extra
        cd_offset = handle.tell()
        handle.write(central)
        count = len(members)
        if cd_offset >= _U32:
            eocd64 = handle.tell()
            handle.write(
                struct.pack(
                    "<4sQHHIIQQQQ",
                    b"PK\x06\x06",
                    44,
                    45,
                    45,
                    0,
                    0,
                    count,
                    count,
                    len(central),
                    cd_offset,
                )
            )
            handle.write(struct.pack("<4sIQI", b"PK\x06\x07", 0, eocd64, 1))
        handle.write(
            struct.pack(
                "<4sHHHHIIH",
                b"PK\x05\x06",
                0,
                0,
                count,
                count,
                len(central),
                min(cd_offset, _U32),
                0,
            )
        )
    return sum(s.numel * 4 for _, s, _ in layers)


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--gib", type=float, default=1.0, help="tensor bytes, in GiB")
    args = parser.parse_args()
    tensors = write(args.out, int(args.gib * 1024**3))
    size = args.out.stat().st_size
    print(f"{args.out}: {tensors / 1024**3:.2f} GiB of tensors described, {size} bytes long")


if __name__ == "__main__":
    main()
