"""Build joblib-style streams by hand: NumPy arrays written inline after a wrapper's BUILD.

``joblib.load`` reads each array's bytes from the file right after the ``BUILD`` of a
``NumpyArrayWrapper`` (and an object array as a nested pickle), with the attributes the wrapper
ended up with. Every helper here lets one of those attributes lie, so a test can check that the
scanner resumes exactly where the loader does. Nothing is ever loaded.
"""

from __future__ import annotations

from tests.redteam import pk

WRAPPER = pk.sg("joblib.numpy_pickle", "NumpyArrayWrapper")


def dtype(typestr: str, *, elsize: int = -1, flags: int = 0, builds: tuple[int, ...] = ()) -> bytes:
    """``numpy.dtype(typestr, False, True)`` with a version-3 state; ``builds`` adds more BUILDs
    (each with these flags) to show which state the loader keeps."""
    order = "|" if typestr.lstrip("<>|=")[:1] in "bBuiSVO?" else "<"

    def state(f: int) -> bytes:
        return pk.tup(
            pk.i(3), pk.u(order), pk.NONE, pk.NONE, pk.NONE, pk.i(elsize), pk.i(-1), pk.i(f)
        )

    out = pk.call(pk.glob("numpy", "dtype"), pk.u(typestr), pk.FALSE, pk.TRUE)
    out += state(flags) + pk.BUILD
    for extra in builds:
        out += state(extra) + pk.BUILD
    return out


def shape(*dims: int) -> bytes:
    """A literal shape tuple."""
    return pk.tup(*(pk.i(d) if -(2**31) <= d < 2**31 else _long(d) for d in dims))


def _long(n: int) -> bytes:
    raw = n.to_bytes((n.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(raw)]) + raw


def wrapper(attrs: dict[str, bytes]) -> bytes:
    """``NumpyArrayWrapper.__new__`` then BUILD with ``attrs`` (the way joblib writes it)."""
    return WRAPPER + pk.EMPTY_TUPLE + pk.NEWOBJ + pk.dict_of(attrs) + pk.BUILD


def attrs(
    typestr: bytes, dims: bytes, *, aligned: bytes | None = None, mmap: bytes = pk.FALSE
) -> dict[str, bytes]:
    """The attribute dict of a wrapper (``aligned``: the alignment attribute's value, if any)."""
    out = {
        "subclass": pk.glob("numpy", "ndarray"),
        "shape": dims,
        "order": pk.u("C"),
        "dtype": typestr,
        "allow_mmap": mmap,
    }
    if aligned is not None:
        out["numpy_array_alignment_bytes"] = aligned
    return out


def noops(length: int) -> bytes:
    """``length`` bytes of opcodes that leave the stack as it was."""
    if length % 2:
        return b"K\x000" + b"N0" * ((length - 3) // 2)
    return b"N0" * (length // 2)
