"""HDF5 containers: legacy Keras ``.h5`` models, Keras weights files, and any other HDF5 file.

The file is opened read-only with h5py and only its structure is read: links, dataset
creation properties and root attributes. No dataset data is read and nothing is loaded, so no
external file is opened through a link, no external storage is read and no filter plugin is
loaded (HDF5 loads plugins only to run a filter pipeline, and filters are only listed here, with
``H5Pget_filter``, never applied). What is checked:

* features that make a loader read *other* files: external links, external raw storage,
  virtual datasets whose sources are in other files;
* datasets that declare far more data than the file could hold (memory exhaustion on load);
* filters that need a plugin shared library;
* a user block with content in front of the superblock (polyglots), analyzed as its own artifact;
* Keras' ``model_config`` and ``training_config`` root attributes, walked like any Keras config.

The walk is bounded by object count and the deadline. It uses HDF5's own link and object visits
(``H5Lvisit``/``H5Ovisit`` through h5py's low-level API), which never follow external or soft
links and visit a hard-linked object once, so cycles of groups terminate.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO

from bastion.core import Severity, SkipReason
from bastion.errors import AnalysisLimitError, MalformedInputError
from bastion.scan.blob import Blob, BytesBlob
from bastion.scan.formats.keras import (
    check_config,
    config_limit,
    parse_config,
    report_issues,
)
from bastion.scan.formats.keras_knowledge import resource_scope
from bastion.scan.formats.keras_rules import (
    CONFIG_RULES,
    HDF5_DECLARED_SIZE,
    HDF5_EXTERNAL_LINK,
    HDF5_EXTERNAL_STORAGE,
    HDF5_FILTER_PLUGIN,
    HDF5_RULES,
    HDF5_UNREADABLE,
    HDF5_USER_BLOCK,
    HDF5_VIRTUAL_SOURCE,
    MALFORMED_CONFIG,
    OVERSIZED_CONFIG,
)
from bastion.scan.interface import AnalysisContext, Analyzer

#: Filters HDF5 builds in (deflate, shuffle, fletcher32, szip, nbit, scaleoffset) + h5py's LZF.
BUILTIN_FILTERS = frozenset({1, 2, 3, 4, 5, 6, 32000})
#: The Keras root attributes that hold JSON configs.
KERAS_ATTRIBUTES = ("model_config", "training_config")

_MAX_IN_MEMORY = 1 << 30
_MAX_USERBLOCK = 64 << 20
_DECLARED_MIN = 1 << 30
_DECLARED_RATIO = 64
_SHOWN = 5
_ERRORS = (OSError, KeyError, ValueError, RuntimeError, TypeError)


class Hdf5Analyzer(Analyzer):
    """Any HDF5 file: cross-file references, resource bombs, plugins, user blocks, Keras configs."""

    name = "hdf5"
    formats = ("hdf5",)
    rules = HDF5_RULES + CONFIG_RULES

    def analyze(self, blob: Blob, ctx: AnalysisContext) -> None:
        """Open the file with h5py (structure only) and check it."""
        try:
            import h5py
        except ImportError:
            ctx.skip(
                SkipReason.MISSING_DEPENDENCY,
                "HDF5 files need h5py: pip install h5py",
                format="hdf5",
            )
            return
        with _seekable(blob, ctx) as stream:
            try:
                handle = h5py.File(stream, "r")
            except _ERRORS as exc:
                ctx.report(
                    HDF5_UNREADABLE.finding(
                        ctx.location(),
                        f"The HDF5 library cannot open the file: {exc}.",
                        evidence="unopenable",
                    )
                )
                raise MalformedInputError(f"HDF5 file cannot be opened: {exc}") from exc
            with handle:
                _check_userblock(handle, blob, ctx)
                _Tree(h5py, handle, ctx, blob.size).walk()
                for attribute in KERAS_ATTRIBUTES:
                    _check_keras_attribute(h5py, handle, attribute, ctx)


@contextmanager
def _seekable(blob: Blob, ctx: AnalysisContext) -> Iterator[BinaryIO]:
    """A seekable stream over the blob (decompressed members are read into memory, bounded)."""
    stream = blob.open()
    try:
        if stream.seekable():
            yield stream
            return
        limit = min(_MAX_IN_MEMORY, ctx.limits.max_member_bytes)
        data = stream.read(limit + 1)
        if len(data) > limit:
            raise AnalysisLimitError("hdf5-bytes", f"compressed HDF5 member exceeds {limit} bytes")
        yield io.BytesIO(data)
    finally:
        stream.close()


def _check_userblock(handle: Any, blob: Blob, ctx: AnalysisContext) -> None:
    size = int(handle.userblock_size)
    if size <= 0:
        return
    data = blob.read_at(0, min(size, _MAX_USERBLOCK))
    if not data.strip(b"\x00"):
        return
    ctx.report(
        HDF5_USER_BLOCK.finding(
            ctx.location(offset=0),
            f"The first {size} bytes (the HDF5 user block) hold data that HDF5 ignores and "
            "other readers see; it is analyzed as <userblock>.",
            evidence=f"userblock {size}",
        )
    )
    ctx.dispatch(BytesBlob(data), "<userblock>")


class _Tree:
    """Bounded walk with h5py's low-level API: HDF5 visits each link and object once."""

    def __init__(self, h5py: Any, handle: Any, ctx: AnalysisContext, size: int | None) -> None:
        self.h5py = h5py
        self.root = h5py.h5g.open(handle.id, b"/")
        self.ctx = ctx
        self.file_size = size or 0
        self.budget = ctx.limits.max_members
        self.count = 0
        self.unreadable: list[str] = []

    def walk(self) -> None:
        """Report external links (link pass), then check every dataset (object pass)."""
        try:
            stopped = self.root.links.visit(self._link, info=True)
            if stopped is None:
                self.count = 0
                stopped = self.h5py.h5o.visit(self.root, self._object, info=True)
        except _ERRORS as exc:
            self.unreadable.append(f"object tree: {exc}")
            stopped = None
        self._finish()
        if stopped is not None:
            raise AnalysisLimitError("hdf5-objects", f"more than {self.budget} objects")

    def _tick(self) -> bool:
        """Count one visit; ``True`` once the budget is spent (which stops the visit)."""
        self.count += 1
        if self.count % 256 == 0:
            self.ctx.deadline.check()
        return self.count > self.budget

    def _link(self, name: bytes, info: Any) -> object | None:
        if self._tick():
            return "limit"
        if info.type == self.h5py.h5l.TYPE_EXTERNAL:
            path = "/" + name.decode("utf-8", "replace")
            try:
                filename, target = self.root.links.get_val(name)
            except _ERRORS as exc:
                self.unreadable.append(f"{path}: {exc}")
                return None
            self._external_link(path, _text(filename), _text(target))
        return None

    def _object(self, name: bytes, info: Any) -> object | None:
        if self._tick():
            return "limit"
        if info.type != self.h5py.h5o.TYPE_DATASET:
            return None
        path = "/" + name.decode("utf-8", "replace")
        try:
            self._dataset(self.h5py.h5d.open(self.root, name), path)
        except _ERRORS as exc:
            self.unreadable.append(f"{path}: {exc}")
        return None

    def _external_link(self, path: str, filename: str, target: str) -> None:
        scope = resource_scope(filename)
        self.ctx.report(
            HDF5_EXTERNAL_LINK.finding(
                self.ctx.location(),
                f"{path} is an external link to {target!r} in file {filename!r}"
                + (f" ({scope} location)" if scope else "")
                + "; opening it reads that file.",
                evidence=f"{path} -> {filename}:{target}",
                severity=Severity.HIGH if scope else None,
                properties={"object": path, "file": filename},
            )
        )

    def _dataset(self, dataset: Any, path: str) -> None:
        plist = dataset.get_create_plist()
        external = [
            (_text(n), int(o), int(z))
            for n, o, z in (plist.get_external(i) for i in range(plist.get_external_count()))
        ]
        if external:
            self._external_storage(path, external)
        virtual = plist.get_layout() == self.h5py.h5d.VIRTUAL
        if virtual:
            sources = [
                (_text(plist.get_virtual_filename(i)), _text(plist.get_virtual_dsetname(i)))
                for i in range(plist.get_virtual_count())
            ]
            outside = [(f, d) for f, d in sources if f != "."]
            if outside:
                self._virtual(path, outside)
        self._filters(plist, path)
        if not external and not virtual:
            shape = dataset.get_space().shape
            self._declared_size(shape, int(dataset.get_type().get_size()), path)

    def _external_storage(self, path: str, files: list[tuple[str, int, int]]) -> None:
        scopes = [s for s in (resource_scope(name) for name, _, _ in files) if s]
        shown = ", ".join(f"{name!r}@{offset}" for name, offset, _ in files[:_SHOWN])
        self.ctx.report(
            HDF5_EXTERNAL_STORAGE.finding(
                self.ctx.location(),
                f"Dataset {path} keeps its data in {len(files)} external file(s): {shown}"
                + (f" ({scopes[0]} location)" if scopes else "")
                + "; reading the dataset reads those files.",
                evidence=f"{path} -> {files[0][0]}",
                severity=Severity.HIGH if scopes else None,
                properties={"object": path, "files": [name for name, _, _ in files[:50]]},
            )
        )

    def _virtual(self, path: str, sources: list[tuple[str, str]]) -> None:
        scopes = [s for s in (resource_scope(name) for name, _ in sources) if s]
        shown = ", ".join(f"{f!r}:{d}" for f, d in sources[:_SHOWN])
        self.ctx.report(
            HDF5_VIRTUAL_SOURCE.finding(
                self.ctx.location(),
                f"Virtual dataset {path} maps {len(sources)} source(s) from other files: {shown}"
                + (f" ({scopes[0]} location)" if scopes else "")
                + ".",
                evidence=f"{path} -> {sources[0][0]}",
                severity=Severity.HIGH if scopes else None,
                properties={"object": path, "files": sorted({f for f, _ in sources})[:50]},
            )
        )

    def _filters(self, plist: Any, path: str) -> None:
        for index in range(min(int(plist.get_nfilters()), 32)):
            code, _flags, _values, label = plist.get_filter(index)
            if int(code) in BUILTIN_FILTERS:
                continue
            text = label.decode("utf-8", "replace") if isinstance(label, bytes) else str(label)
            self.ctx.report(
                HDF5_FILTER_PLUGIN.finding(
                    self.ctx.location(),
                    f"Dataset {path} is encoded with filter {code} ({text or 'unnamed'}), which "
                    "HDF5 loads from a plugin library to read it.",
                    evidence=f"{path}: filter {code}",
                    properties={"object": path, "filter": int(code)},
                )
            )

    def _declared_size(self, shape: tuple[int, ...] | None, itemsize: int, path: str) -> None:
        if not shape:
            return
        declared = math.prod(int(n) for n in shape) * itemsize
        if declared < _DECLARED_MIN or declared <= _DECLARED_RATIO * max(self.file_size, 1):
            return
        self.ctx.report(
            HDF5_DECLARED_SIZE.finding(
                self.ctx.location(),
                f"Dataset {path} declares shape {tuple(shape)} ({declared} bytes) in a file of "
                f"{self.file_size} bytes; loading it allocates the declared size.",
                evidence=f"{path}: {tuple(shape)}",
                properties={"object": path, "declared_bytes": declared},
            )
        )

    def _finish(self) -> None:
        if not self.unreadable:
            return
        self.ctx.report(
            HDF5_UNREADABLE.finding(
                self.ctx.location(),
                f"{len(self.unreadable)} HDF5 object(s) could not be read and were not checked: "
                + "; ".join(self.unreadable[:_SHOWN])[:600]
                + ".",
                evidence=f"unreadable objects: {self.unreadable[0].split(':', 1)[0]}",
            )
        )
        self.ctx.skip(SkipReason.MALFORMED, f"{len(self.unreadable)} unreadable HDF5 objects")
        self.unreadable = []


def _check_keras_attribute(h5py: Any, handle: Any, name: str, ctx: AnalysisContext) -> None:
    """Walk the JSON of a Keras root attribute (``model_config``, ``training_config``)."""
    try:
        if name not in handle.attrs:
            return
        attribute = h5py.h5a.open(handle.id, name.encode())
        limit = config_limit(ctx)
        if attribute.get_storage_size() > limit:
            _too_big(ctx, name, limit)
            return
        value = handle.attrs[name]
    except _ERRORS as exc:
        ctx.report(
            HDF5_UNREADABLE.finding(
                ctx.location(),
                f"Root attribute {name} cannot be read: {exc}.",
                evidence=f"attribute {name}",
            )
        )
        return
    text = _attribute_text(value)
    if text is None:
        ctx.report(
            MALFORMED_CONFIG.finding(
                ctx.location(),
                f"Root attribute {name} is a {type(value).__name__}, not a JSON string.",
                evidence=f"{name}: not a string",
            )
        )
        return
    if len(text) > config_limit(ctx):
        _too_big(ctx, name, config_limit(ctx))
        return
    config = parse_config(text, ctx, f"attribute {name}")
    if config is not None:
        report_issues(ctx, check_config(config, ctx, container="hdf5"))


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _attribute_text(value: object) -> bytes | str | None:
    if hasattr(value, "shape") and getattr(value, "size", 0) == 1 and hasattr(value, "item"):
        value = value.item()
    return value if isinstance(value, bytes | str) else None


def _too_big(ctx: AnalysisContext, name: str, limit: int) -> None:
    ctx.report(
        OVERSIZED_CONFIG.finding(
            ctx.location(),
            f"Root attribute {name} is larger than {limit} bytes; it was not parsed, so code "
            "in it would go unseen.",
            evidence=f"{name}: oversized",
            severity=Severity.HIGH,
        )
    )
    ctx.skip(SkipReason.LIMIT, f"attribute {name} exceeds {limit} bytes")
