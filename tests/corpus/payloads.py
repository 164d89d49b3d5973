"""Inert payload objects for real serializers, and injection into streams real libraries wrote.

``pickle``, ``joblib`` and ``numpy`` only call ``__reduce__`` when they *write* an object, and
``__reduce__`` here just returns a tuple: nothing runs while the corpus is generated. Were the
result ever loaded, the call would create the sample's marker file and nothing else.
"""

from __future__ import annotations

import os
import subprocess

from tests.corpus.pickle_asm import Asm


class SystemCall:
    """Pickles as ``os.system(command)`` (written as ``posix.system``, as CPython names it)."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (self.command,))


class PopenCall:
    """Pickles as ``subprocess.Popen(argv)``."""

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv

    def __reduce__(self) -> tuple[object, tuple[list[str]]]:
        return (subprocess.Popen, (self.argv,))


def payload_ops(command: str, protocol: int = 2) -> bytes:
    """Opcodes (no ``PROTO``) that call ``os.system(command)`` and drop the result."""
    return Asm(protocol, header=False).call("os", "system", command).pop().bytes()


def inject(stream: bytes, command: str) -> bytes:
    """``stream`` with a payload run first, the way ``fickling --inject`` does.

    The original object is still what the stream returns, so the file keeps working as a model.
    Only unframed protocol 2/3 streams (what ``torch.save`` writes) are accepted.
    """
    if len(stream) < 2 or stream[0] != 0x80 or stream[1] not in (2, 3):
        raise ValueError("inject() expects an unframed protocol 2 or 3 pickle")
    return stream[:2] + payload_ops(command, stream[1]) + stream[2:]
