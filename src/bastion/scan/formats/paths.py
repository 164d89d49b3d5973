"""Judging file names and addresses written inside model files (external data, op arguments).

Model formats name other files: ONNX tensors stored outside the model, TensorFlow ops that read
or write a path. A relative name inside the model's directory is how such formats normally
work; an absolute path, a ``..`` component, a drive letter, a UNC share or a URL reaches
outside it, which is how a model file reads ``/etc/passwd`` or writes a start-up script.

>>> path_concern("weights/w0.bin") is None
True
>>> path_concern("../../etc/passwd")
"'..' component"
"""

from __future__ import annotations

import re

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
_DRIVE = re.compile(r"^[A-Za-z]:")


def path_concern(path: str, *, local_schemes: tuple[str, ...] = ()) -> str | None:
    """Why ``path`` leaves the directory it is relative to, or ``None`` when it stays inside.

    ``local_schemes`` lists URL prefixes that stay in the process (TensorFlow's ``ram://``).
    """
    if "\x00" in path:
        return "NUL byte in the name"
    scheme = _SCHEME.match(path)
    if scheme:
        if path.startswith(local_schemes):
            return None
        return f"URL ({scheme.group(1).lower()}://)"
    if path.startswith(("\\\\", "//")):
        return "network share"
    if path.startswith(("/", "\\")):
        return "absolute path"
    if _DRIVE.match(path):
        return "drive letter"
    if path.startswith("~"):
        return "home directory"
    if ".." in re.split(r"[\\/]", path):
        return "'..' component"
    return None
