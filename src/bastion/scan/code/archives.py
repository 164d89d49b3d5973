"""Checks for archive extraction: ``tarfile`` without a filter, ``zipfile.extractall``.

``extractall`` is a method, so the receiver's type matters: only receivers this module can see
being opened (``tarfile.open(...)``, ``with zipfile.ZipFile(...) as z``, a name assigned from
those in the same function) are judged. An unknown ``x.extractall()`` is not guessed at.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from bastion.scan.code import rules as R
from bastion.scan.code.base import TABLE, Hit, Site
from bastion.scan.code.facts import ModuleFacts, Scope, has_kwargs_splat, keyword

_TAR_OPENERS = frozenset(
    {
        "tarfile.open",
        "tarfile.TarFile",
        "tarfile.TarFile.open",
        "tarfile.TarFile.taropen",
        "tarfile.TarFile.gzopen",
        "tarfile.TarFile.bz2open",
        "tarfile.TarFile.xzopen",
    }
)
_ZIP_OPENERS = frozenset({"zipfile.ZipFile", "zipfile.PyZipFile"})


def archive_kind(expr: ast.expr, facts: ModuleFacts, scope: Scope, depth: int = 0) -> str | None:
    """``"tar"`` or ``"zip"`` when ``expr`` is visibly an opened archive."""
    if depth > 4:
        return None
    if isinstance(expr, ast.Call):
        qual = facts.qualname(expr.func, scope)
        if qual in _TAR_OPENERS:
            return "tar"
        if qual in _ZIP_OPENERS:
            return "zip"
        return None
    if isinstance(expr, ast.Name):
        values = facts.values_of(expr.id, scope)
        if not values:
            return None
        kinds = {archive_kind(value, facts, owner, depth + 1) for value, owner in values}
        return kinds.pop() if len(kinds) == 1 else None
    return None


@TABLE.register(tails=("extractall", "extract"))
def extract(site: Site, facts: ModuleFacts) -> Iterator[Hit]:
    """``TarFile.extractall/extract`` without ``filter=``; ``ZipFile.extractall``."""
    func = site.node.func
    if not isinstance(func, ast.Attribute):
        return
    kind = archive_kind(func.value, facts, site.call.scope)
    method = func.attr
    if kind == "tar":
        if keyword(site.node, "filter") is None and not has_kwargs_splat(site.node):
            yield Hit.at(
                site.node,
                R.TAR_EXTRACT,
                f"TarFile.{method}() without filter= follows ../ names, absolute paths and "
                "links out of the target directory.",
                f"tarfile.{method}()",
            )
    elif kind == "zip" and method == "extractall":
        yield Hit.at(
            site.node,
            R.ZIP_EXTRACT,
            "ZipFile.extractall() writes every member, unbounded in size.",
            "zipfile.extractall()",
        )


@TABLE.register(names=("shutil.unpack_archive",))
def unpack_archive(site: Site, facts: ModuleFacts) -> Iterator[Hit]:
    """``shutil.unpack_archive`` without ``filter=`` (tar formats extract unfiltered)."""
    if keyword(site.node, "filter") is None and not has_kwargs_splat(site.node):
        yield Hit.at(
            site.node,
            R.TAR_EXTRACT,
            "shutil.unpack_archive() without filter= extracts tar archives unfiltered.",
            "shutil.unpack_archive()",
        )
