"""Checks for code that pulls models, data or code from a hub: Hugging Face and ``torch.hub``.

``trust_remote_code=True`` imports Python from the repository; any download without a commit
``revision`` follows a branch that can move under you. Only literal repository ids are judged:
a name computed at run time may be a local directory, and guessing would bury real findings.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from bastion.core import Confidence, Severity
from bastion.scan.code import rules as R
from bastion.scan.code.base import TABLE, Hit, Site, is_false, is_true, short
from bastion.scan.code.facts import ModuleFacts, argument, has_kwargs_splat, keyword

_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")
_FILE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".safetensors", ".json", ".h5", ".onnx", ".gguf")
#: ``datasets`` packaged builders: they read local or given files, not a Hub repository.
_PACKAGED_BUILDERS = frozenset(
    {
        "csv",
        "json",
        "parquet",
        "text",
        "arrow",
        "pandas",
        "imagefolder",
        "audiofolder",
        "videofolder",
        "webdataset",
        "sql",
        "generator",
        "xml",
        "spark",
    }
)
#: Hub entry points: (position, keyword) of the repository id.
_HUB_CALLS: dict[str, tuple[int, str]] = {
    "huggingface_hub.hf_hub_download": (0, "repo_id"),
    "huggingface_hub.snapshot_download": (0, "repo_id"),
    "datasets.load_dataset": (0, "path"),
    "transformers.pipeline": (1, "model"),
    "sentence_transformers.SentenceTransformer": (0, "model_name_or_path"),
}


@TABLE.register(keywords=("trust_remote_code",))
def trust_remote_code(site: Site, facts: ModuleFacts) -> Iterator[Hit]:
    """Any call passing ``trust_remote_code=True`` (or a value computed at run time)."""
    value = keyword(site.node, "trust_remote_code")
    if value is None or is_false(value) or (isinstance(value, ast.Constant) and not value.value):
        return
    if is_true(value):
        yield Hit.at(
            site.node,
            R.TRUST_REMOTE_CODE,
            f"{short(site.name)}(trust_remote_code=True) imports Python code from the model "
            "repository.",
            f"{site.name}(trust_remote_code=True)",
        )
    else:
        yield Hit.at(
            site.node,
            R.TRUST_REMOTE_CODE,
            f"{short(site.name)}(trust_remote_code=<expr>): remote code runs whenever the value is "
            "true; make sure callers cannot enable it for untrusted repositories.",
            f"{site.name}(trust_remote_code=<expr>)",
            severity=Severity.LOW,
            confidence=Confidence.LOW,
        )


def looks_like_repo_id(value: str, *, dataset: bool = False) -> bool:
    """``org/name`` or a legacy single-name id, not a path, URL or file name."""
    if not value or value.startswith((".", "/", "~")) or "\\" in value or ":" in value:
        return False
    if value.lower().endswith(_FILE_SUFFIXES):
        return False
    if dataset and value in _PACKAGED_BUILDERS:
        return False
    return bool(_REPO_ID.match(value))


def _unpinned(site: Site, facts: ModuleFacts, repo_expr: ast.expr | None) -> Iterator[Hit]:
    node = site.node
    if is_true(keyword(node, "local_files_only")):
        return
    repo = facts.constant(repo_expr, site.call.scope) if repo_expr is not None else None
    if not isinstance(repo, str):
        return
    if not looks_like_repo_id(repo, dataset=site.qual == "datasets.load_dataset"):
        return
    revision = keyword(node, "revision")
    if revision is None:
        if has_kwargs_splat(node):
            return
        yield Hit.at(
            node,
            R.HF_UNPINNED,
            f"{short(site.name)}('{repo}') without revision= follows the repository's main branch.",
            f"{site.name}({repo})",
        )
        return
    pinned = facts.constant(revision, site.call.scope)
    if isinstance(pinned, str) and not _COMMIT.match(pinned):
        yield Hit.at(
            node,
            R.HF_UNPINNED,
            f"{short(site.name)}('{repo}', revision='{pinned}'): a branch or tag, not a "
            "commit hash; it can be moved.",
            f"{site.name}({repo}, revision={pinned})",
        )


@TABLE.register(tails=("from_pretrained",))
def from_pretrained(site: Site, facts: ModuleFacts) -> Iterator[Hit]:
    """``*.from_pretrained("org/name")`` without a commit ``revision``."""
    yield from _unpinned(site, facts, argument(site.node, 0, "pretrained_model_name_or_path"))


@TABLE.register(names=tuple(_HUB_CALLS))
def hub_download(site: Site, facts: ModuleFacts) -> Iterator[Hit]:
    """``hf_hub_download``, ``snapshot_download``, ``load_dataset``, ``pipeline``…"""
    assert site.qual is not None
    position, name = _HUB_CALLS[site.qual]
    yield from _unpinned(site, facts, argument(site.node, position, name))


@TABLE.register(names=("torch.hub.load", "torch.hub.list", "torch.hub.help"))
def torch_hub(site: Site, facts: ModuleFacts) -> Iterator[Hit]:
    """``torch.hub.load("owner/repo[:ref]", ...)`` from GitHub."""
    node = site.node
    source = facts.constant(keyword(node, "source") or ast.Constant("github"), site.call.scope)
    if source == "local":
        return
    repo = facts.constant(argument(node, 0, "repo_or_dir") or ast.Constant(None), site.call.scope)
    if not isinstance(repo, str) or "/" not in repo or repo.startswith((".", "/", "~")):
        return
    ref = repo.split(":", 1)[1] if ":" in repo else ""
    trust = is_true(keyword(node, "trust_repo"))
    if _COMMIT.match(ref) and not trust:
        return
    yield Hit.at(
        node,
        R.TORCH_HUB_REMOTE,
        f"torch.hub loads and runs hubconf.py from GitHub repository '{repo}'"
        + (" with trust_repo=True" if trust else "")
        + ("" if _COMMIT.match(ref) else " (not pinned to a commit)")
        + ".",
        f"torch.hub({repo})",
        severity=Severity.HIGH if trust else None,
    )
