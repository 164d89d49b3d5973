"""Archives: zip (and its flavours), tar and 7z, walked member by member without extraction.

Every member is detected by content and handed to the right analyzer; structural tricks that
hide members from other tools (entries the directory does not list, names that differ between
headers, overlapping data, escaping paths, links) are findings of their own.
"""

from __future__ import annotations

import posixpath
import tarfile
import zlib
from collections.abc import Callable

from bastion.core import ArtifactKind, Confidence, Severity, SkipReason
from bastion.errors import AnalysisLimitError, MalformedInputError
from bastion.rules import MALFORMED_ARTIFACT, PATH_ESCAPE, RESOURCE_ABUSE, Rule
from bastion.scan.blob import Blob, BytesBlob, FileBlob, SliceBlob
from bastion.scan.formats import zipread
from bastion.scan.formats.torch_tar import LEGACY_MEMBERS, analyze_legacy_member
from bastion.scan.interface import AnalysisContext, Analyzer

ZIP_ANOMALY = Rule(
    "BST-ARC-001",
    "Archive structure hides or disguises members",
    Severity.MEDIUM,
    "models",
    doc="""
    The zip archive is irregular in a way loaders tolerate and scanners often do not: entries
    present in local headers but missing from the central directory, a member whose name differs
    between its local header and the directory, duplicate names, overlapping member data, or a
    directory that does not match its entries. Each trick has been used to hide a payload from
    one tool while another (PyTorch's loader, a streaming unzip) still reads it. bastion reads
    members the lenient way and analyzes all of them; the irregularity itself is reported.
    """,
    remediation="Re-create the archive with a standard tool from trusted contents.",
    references=MALFORMED_ARTIFACT,
)

PATH_TRAVERSAL = Rule(
    "BST-ARC-002",
    "Archive member escapes the extraction directory",
    Severity.HIGH,
    "models",
    doc="""
    A member name is absolute, contains ``..`` components, a drive letter or backslashes, or a
    tar member is a link pointing outside the archive ("zip slip", CWE-22/CWE-59). Extracting
    the archive (model hubs, ``tarfile.extractall`` without a filter) writes outside the target
    directory, for example over a Python module or a shell start-up file.
    """,
    remediation="Do not extract this archive; use extraction filters (tarfile 'data' filter).",
    references=PATH_ESCAPE,
)

ARCHIVE_BOMB = Rule(
    "BST-ARC-003",
    "Archive exceeds decompression limits",
    Severity.HIGH,
    "models",
    doc="""
    Decompressing a member exceeded the size or ratio bounds (a decompression bomb, CWE-409),
    or the archive declares more members than allowed. Loading it can exhaust memory or disk.
    """,
    remediation="Reject the file; legitimate models do not compress at bomb ratios.",
    references=RESOURCE_ABUSE,
)

ENCRYPTED_MEMBER = Rule(
    "BST-ARC-004",
    "Archive member is encrypted and cannot be checked",
    Severity.MEDIUM,
    "models",
    doc="""
    A member is encrypted (or its data does not decompress), so its content cannot be analyzed.
    Unknown is not safe: a payload can sit in such a member if any loader reads it.
    """,
    remediation="Obtain an unencrypted copy and scan that.",
    references=MALFORMED_ARTIFACT,
    confidence=Confidence.MEDIUM,
)

CRC_MISMATCH = Rule(
    "BST-ARC-005",
    "Archive member does not match its checksum",
    Severity.MEDIUM,
    "models",
    doc="""
    The CRC-32 recorded for a member does not match its data: the member was altered after the
    archive was written (loaders that skip CRC checks still read the altered data).
    """,
    remediation="Treat the archive as tampered; re-download it from a trusted source.",
    references=MALFORMED_ARTIFACT,
)

ARCHIVE_RULES = (ZIP_ANOMALY, PATH_TRAVERSAL, ARCHIVE_BOMB, ENCRYPTED_MEMBER, CRC_MISMATCH)

#: Members at most this big get their CRC verified (they are read in full anyway).
_CRC_CHECK_BYTES = 64 * 1024 * 1024

#: Claims a member for special handling: returns the format it was handled as (or ``True``),
#: or a false value to let the member be detected and dispatched normally.
MemberRouter = Callable[[zipread.ZipEntry, Blob, AnalysisContext], "str | bool | None"]


def unsafe_member_name(name: str) -> str | None:
    """Why a member name would escape an extraction directory, or ``None``."""
    if not name:
        return "empty name"
    if "\x00" in name:
        return "NUL byte in name"
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    if "\\" in name:
        parts = name.replace("\\", "/").split("/")
        if ".." in parts:
            return "'..' component behind backslashes"
    if ".." in name.split("/"):
        return "'..' component"
    return None


def check_member_name(ctx: AnalysisContext, name: str) -> None:
    """Report a member name that escapes the extraction directory."""
    why = unsafe_member_name(name)
    if why:
        ctx.report(
            PATH_TRAVERSAL.finding(
                ctx.location(),
                f"Member {name!r} escapes the extraction directory ({why}).",
                evidence=name,
            )
        )


def too_deep(ctx: AnalysisContext, name: str) -> bool:
    """Report a member nested deeper than bastion analyzes (42.zip-style nesting, a payload
    at the bottom): unknown is not safe, so it is a finding, not only a skip."""
    if ctx.depth + 1 <= ctx.limits.max_depth:
        return False
    child = ctx.child(name)
    detail = f"nested deeper than {ctx.limits.max_depth} archive levels"
    child.report(
        ARCHIVE_BOMB.finding(
            child.location(),
            f"Member {name!r} is {detail}; its content was not analyzed.",
            evidence="nesting-depth",
        )
    )
    child.skip(SkipReason.LIMIT, detail)
    return True


def walk_zip(blob: Blob, ctx: AnalysisContext, route: MemberRouter | None = None) -> list[str]:
    """Analyze every member of a zip; ``route`` may claim members for special handling.

    Returns the member names seen (for flavour checks by the caller).
    """
    listing = zipread.list_entries(blob, ctx.limits)
    _report_anomalies(ctx, listing)
    names: list[str] = []
    for entry in zipread.iter_members(blob, listing):
        ctx.deadline.check()
        names.append(entry.name)
        check_member_name(ctx, entry.name)
        if too_deep(ctx, entry.name):
            continue
        try:
            member = zipread.member_blob(blob, entry, ctx.limits)
        except AnalysisLimitError as exc:
            _bomb(ctx, entry.name, str(exc))
            continue
        except MalformedInputError as exc:
            ctx.child(entry.name).skip(SkipReason.UNSUPPORTED, str(exc))
            continue
        if _declared_bomb(ctx, entry):
            continue
        if entry.method != zipread.STORED:
            try:
                ctx.budget.spend(entry.size, entry.compressed_size)
            except AnalysisLimitError as exc:
                _bomb(ctx, entry.name, f"{exc}; the remaining members were not analyzed")
                break
        handled = route(entry, member, ctx) if route is not None else None
        if handled:
            formats: tuple[str, ...] = (handled if isinstance(handled, str) else "routed",)
        else:
            formats = ctx.dispatch(member, entry.name)
        _after_member(ctx, entry, member, formats)
    return names


def _declared_bomb(ctx: AnalysisContext, entry: zipread.ZipEntry) -> bool:
    if entry.method != zipread.STORED and entry.compressed_size and entry.size > 64 << 20:
        ratio = entry.size / max(entry.compressed_size, 1)
        if ratio > ctx.limits.max_compression_ratio:
            _bomb(
                ctx,
                entry.name,
                f"declares {entry.size} bytes from {entry.compressed_size} (ratio {ratio:.0f}:1)",
            )
            return True
    return False


def _bomb(ctx: AnalysisContext, name: str, detail: str) -> None:
    child = ctx.child(name)
    child.report(
        ARCHIVE_BOMB.finding(
            child.location(), f"Member {name!r}: {detail}.", evidence=detail.split(":")[0]
        )
    )
    child.skip(SkipReason.LIMIT, detail)


def _after_member(
    ctx: AnalysisContext, entry: zipread.ZipEntry, member: Blob, formats: tuple[str, ...]
) -> None:
    """Verify the CRC of members small enough to re-read; report ones that do not inflate."""
    if formats and formats[0] == "tensor-data":
        return
    if entry.size > _CRC_CHECK_BYTES:
        return
    try:
        crc = 0
        with member.open() as stream:
            while chunk := stream.read(1 << 20):
                crc = zlib.crc32(chunk, crc)
    except MalformedInputError as exc:
        child = ctx.child(entry.name)
        flag = " (encryption flag set)" if entry.encrypted else ""
        child.report(
            ENCRYPTED_MEMBER.finding(
                child.location(),
                f"Member {entry.name!r} could not be decompressed{flag}: {exc}.",
                evidence=entry.name,
            )
        )
        return
    except (AnalysisLimitError, OSError):
        return
    if crc != entry.crc:
        child = ctx.child(entry.name)
        child.report(
            CRC_MISMATCH.finding(
                child.location(),
                f"Member {entry.name!r} has CRC-32 {crc:08x}, the archive records {entry.crc:08x}.",
                evidence=entry.name,
            )
        )


def _report_anomalies(ctx: AnalysisContext, listing: zipread.ZipListing) -> None:
    for anomaly in listing.anomalies:
        severity = (
            Severity.HIGH
            if anomaly.kind in {"hidden-entry", "name-mismatch", "ambiguous-directory"}
            else None
        )
        ctx.report(
            ZIP_ANOMALY.finding(
                ctx.location(),
                f"Zip {anomaly.kind.replace('-', ' ')}: {anomaly.detail}.",
                evidence=f"{anomaly.kind}:{anomaly.member or ''}",
                severity=severity,
            )
        )


class ZipAnalyzer(Analyzer):
    """Plain zip archives and NumPy ``.npz`` files."""

    name = "zip"
    formats = ("zip", "npz")
    rules = ARCHIVE_RULES
    kind = ArtifactKind.ARCHIVE

    def analyze(self, blob: Blob, ctx: AnalysisContext) -> None:
        """Walk every member."""
        walk_zip(blob, ctx)


def _starts_like_pickle(member: Blob) -> bool:
    head = member.head(2)
    return len(head) == 2 and head[0] == 0x80 and 1 <= head[1] <= 5


class TarAnalyzer(Analyzer):
    """Tar archives (also legacy PyTorch tar checkpoints), without extracting anything."""

    name = "tar"
    formats = ("tar",)
    rules = ARCHIVE_RULES
    kind = ArtifactKind.ARCHIVE

    def analyze(self, blob: Blob, ctx: AnalysisContext) -> None:
        """Walk members; links and special files are checked, regular files dispatched."""
        random_access = isinstance(blob, FileBlob | SliceBlob | BytesBlob)
        count = 0
        with blob.open() as stream:
            try:
                archive = tarfile.open(fileobj=stream, mode="r:" if random_access else "r|")
            except tarfile.TarError as exc:
                raise MalformedInputError(f"unreadable tar archive: {exc}") from exc
            try:
                for info in archive:
                    count += 1
                    if count > ctx.limits.max_members:
                        raise AnalysisLimitError("members", f"more than {ctx.limits.max_members}")
                    ctx.deadline.check()
                    self._member(blob, archive, info, ctx, random_access)
            except tarfile.TarError as exc:
                ctx.skip(SkipReason.MALFORMED, f"tar archive breaks after {count} members: {exc}")

    def _member(
        self,
        blob: Blob,
        archive: tarfile.TarFile,
        info: tarfile.TarInfo,
        ctx: AnalysisContext,
        random_access: bool,
    ) -> None:
        check_member_name(ctx, info.name)
        if info.issym() or info.islnk():
            target = info.linkname
            joined = posixpath.normpath(posixpath.join(posixpath.dirname(info.name), target))
            if target.startswith("/") or joined.startswith(".."):
                ctx.report(
                    PATH_TRAVERSAL.finding(
                        ctx.location(),
                        f"Member {info.name!r} is a link to {target!r}, outside the archive.",
                        evidence=f"{info.name}->{target}",
                    )
                )
            return
        if info.isdev() or info.isfifo():
            ctx.report(
                PATH_TRAVERSAL.finding(
                    ctx.location(),
                    f"Member {info.name!r} is a device or FIFO; extraction creates it.",
                    evidence=info.name,
                    severity=Severity.MEDIUM,
                )
            )
            return
        if not info.isfile() or too_deep(ctx, info.name):
            return
        if random_access and not info.issparse():
            member: Blob = SliceBlob(blob, info.offset_data, info.size)
        else:
            if info.size > ctx.limits.max_member_bytes:
                _bomb(ctx, info.name, f"{info.size} bytes exceeds the member limit")
                return
            handle = archive.extractfile(info)
            if handle is None:
                return
            member = BytesBlob(handle.read(ctx.limits.max_member_bytes))
        if info.name in LEGACY_MEMBERS and _starts_like_pickle(member):
            # torch.load's legacy tar reader: pickles interleaved with raw storage bytes
            ctx.nested(
                info.name, member, "pickle", lambda b, c: analyze_legacy_member(info.name, b, c)
            )
            return
        ctx.dispatch(member, info.name)


class SevenZipAnalyzer(Analyzer):
    """7z archives, read in memory through ``py7zr`` when it is installed."""

    name = "7z"
    formats = ("7z",)
    rules = ARCHIVE_RULES
    kind = ArtifactKind.ARCHIVE

    def analyze(self, blob: Blob, ctx: AnalysisContext) -> None:
        """Extract members in memory (bounded) and dispatch them."""
        try:
            import py7zr
            from py7zr.io import BytesIOFactory
        except ImportError:
            ctx.skip(
                SkipReason.MISSING_DEPENDENCY,
                "7z archives need py7zr: pip install 'bastion-ml[archives]'",
                format="7z",
            )
            return
        with blob.open() as stream:
            try:
                with py7zr.SevenZipFile(stream, mode="r") as archive:
                    if archive.needs_password():
                        ctx.report(
                            ENCRYPTED_MEMBER.finding(
                                ctx.location(), "The 7z archive is encrypted.", evidence="7z"
                            )
                        )
                        ctx.skip(SkipReason.ENCRYPTED, "password-protected 7z archive")
                        return
                    infos = archive.list()
                    if len(infos) > ctx.limits.max_members:
                        raise AnalysisLimitError("members", f"{len(infos)} members")
                    total = sum(i.uncompressed or 0 for i in infos)
                    if total > ctx.limits.max_total_decompressed:
                        raise AnalysisLimitError("decompressed-size", f"declares {total} bytes")
                    factory = BytesIOFactory(ctx.limits.max_member_bytes)
                    archive.extractall(factory=factory)
            except (
                py7zr.exceptions.Bad7zFile,
                py7zr.exceptions.UnsupportedCompressionMethodError,
                EOFError,
                ValueError,
                KeyError,
            ) as exc:
                raise MalformedInputError(f"unreadable 7z archive: {exc}") from exc
        for name in sorted(factory.products):
            check_member_name(ctx, name)
            if too_deep(ctx, name):
                continue
            product = factory.products[name]
            product.seek(0)
            ctx.dispatch(BytesBlob(product.read()), name)
