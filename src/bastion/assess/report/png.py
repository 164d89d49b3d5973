"""A minimal PNG encoder (8-bit grey or RGB) for the report's inline images.

Only what the report needs: an array in, PNG bytes out (zlib-compressed scanlines with filter
type 0), no dependency beyond the standard library and NumPy.

>>> import numpy as np
>>> encode_png(np.zeros((2, 2)))[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
True
"""

from __future__ import annotations

import base64
import struct
import zlib

import numpy as np

from bastion.assess.targets.interface import NDArray


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def to_pixels(image: NDArray, bounds: tuple[float, float]) -> NDArray:
    """Scale to 0..255 uint8, ``(h, w)`` grey or ``(h, w, 3)`` RGB; channel-first is moved."""
    arr = np.asarray(image, dtype=np.float64)
    if arr.ndim == 3 and arr.shape[0] in (1, 3) and arr.shape[-1] not in (1, 3):
        arr = np.moveaxis(arr, 0, -1)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    lo, hi = bounds
    scaled = np.clip((arr - lo) / max(hi - lo, 1e-12), 0, 1)
    return np.asarray(np.round(scaled * 255), dtype=np.uint8)


def encode_png(pixels: NDArray) -> bytes:
    """PNG bytes of a grey ``(h, w)`` or RGB ``(h, w, 3)`` uint8-compatible array."""
    arr = np.asarray(pixels)
    if arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    if arr.ndim == 2:
        colour, channels = 0, 1
    elif arr.ndim == 3 and arr.shape[2] == 3:
        colour, channels = 2, 3
    else:
        raise ValueError(f"cannot encode an array of shape {arr.shape} as PNG")
    h, w = arr.shape[:2]
    rows = arr.reshape(h, w * channels)
    raw = b"".join(b"\x00" + rows[i].tobytes() for i in range(h))
    header = struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def data_uri(image: NDArray, bounds: tuple[float, float]) -> str:
    """A ``data:image/png;base64,…`` URI of an image scaled from ``bounds``."""
    return (
        "data:image/png;base64," + base64.b64encode(encode_png(to_pixels(image, bounds))).decode()
    )
