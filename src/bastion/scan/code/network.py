"""Checks for code that talks to the network: TLS off, plain-HTTP downloads, exposed servers.

``verify=False`` is judged only on HTTP client calls (``requests``/``httpx``/``urllib3``/
``aiohttp`` by name, or the HTTP verb methods of a session), because other libraries use a
``verify`` keyword for unrelated things. Servers are reported when they bind every interface and
the call sets up no authentication.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from urllib.parse import urlsplit

from bastion.scan.code import rules as R
from bastion.scan.code.base import TABLE, Hit, Site, is_false, is_true
from bastion.scan.code.facts import ModuleFacts, argument, keyword

_HTTP_LIBRARIES = ("requests.", "httpx.", "urllib3.", "aiohttp.")
_HTTP_METHODS = frozenset(
    {
        "get",
        "post",
        "put",
        "patch",
        "delete",
        "head",
        "options",
        "request",
        "send",
        "stream",
        "urlopen",
        "Client",
        "AsyncClient",
        "ClientSession",
        "TCPConnector",
        "PoolManager",
        "HTTPSConnectionPool",
        "ws_connect",
    }
)
_UNVERIFIED = frozenset(
    {"ssl._create_unverified_context", "ssl.CERT_NONE", "ssl._create_stdlib_context"}
)
#: Download functions and the (position, keyword) of their URL.
_DOWNLOADS: dict[str, tuple[int, str]] = {
    "urllib.request.urlretrieve": (0, "url"),
    "urllib.request.urlopen": (0, "url"),
    "urllib.request.Request": (0, "url"),
    "requests.get": (0, "url"),
    "requests.request": (1, "url"),
    "httpx.get": (0, "url"),
    "httpx.stream": (1, "url"),
    "wget.download": (0, "url"),
    "torch.hub.load_state_dict_from_url": (0, "url"),
    "torch.hub.download_url_to_file": (0, "url"),
    "torch.utils.model_zoo.load_url": (0, "url"),
    "torchvision.datasets.utils.download_url": (0, "url"),
    "torchvision.datasets.utils.download_and_extract_archive": (0, "url"),
    "keras.utils.get_file": (1, "origin"),
    "pandas.read_csv": (0, "filepath_or_buffer"),
    "pandas.read_json": (0, "path_or_buf"),
    "pandas.read_parquet": (0, "path"),
    "pandas.read_table": (0, "filepath_or_buffer"),
    "pandas.read_excel": (0, "io"),
    "pandas.read_feather": (0, "path"),
    "pandas.read_pickle": (0, "filepath_or_buffer"),
    "numpy.load": (0, "file"),
    "numpy.loadtxt": (0, "fname"),
    "fsspec.open": (0, "urlpath"),
    "datasets.load_dataset": (-1, "data_files"),
    "huggingface_hub.hf_hub_download": (-1, "endpoint"),
}
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})
_ALL_INTERFACES = frozenset({"0.0.0.0", "::", "[::]"})


def _http_client(site: Site) -> bool:
    qual = site.qual or ""
    return qual.startswith(_HTTP_LIBRARIES) or site.call.tail in _HTTP_METHODS


@TABLE.register(keywords=("verify", "verify_ssl", "ssl", "cert_reqs"))
def tls_off(site: Site, facts: ModuleFacts) -> Iterator[Hit]:
    """``verify=False`` and friends on HTTP client calls."""
    if not _http_client(site):
        return
    node, scope = site.node, site.call.scope
    for name in ("verify", "verify_ssl", "ssl"):
        if is_false(keyword(node, name)):
            yield Hit.at(
                node,
                R.TLS_DISABLED,
                f"{site.name}({name}=False) accepts any certificate.",
                f"{site.name}({name}=False)",
            )
            return
    reqs = keyword(node, "cert_reqs")
    if reqs is not None and facts.constant(reqs, scope) in {"CERT_NONE", "NONE"}:
        yield Hit.at(
            node,
            R.TLS_DISABLED,
            f"{site.name}(cert_reqs='CERT_NONE') accepts any certificate.",
            f"{site.name}(cert_reqs=CERT_NONE)",
        )


def tls_references(facts: ModuleFacts) -> Iterator[Hit]:
    """``ssl._create_unverified_context`` and ``ssl.CERT_NONE`` used anywhere."""
    for expr, scope in facts.references:
        qual = facts.qualname(expr, scope)
        if qual in _UNVERIFIED:
            yield Hit.at(
                expr,
                R.TLS_DISABLED,
                f"{qual} disables certificate verification.",
                qual,
            )


def tls_assignments(facts: ModuleFacts) -> Iterator[Hit]:
    """``session.verify = False`` / ``context.check_hostname = False``."""
    for assign in facts.attr_assigns:
        if assign.attr in {"verify", "check_hostname"} and is_false(assign.value):
            yield Hit.at(
                assign.node,
                R.TLS_DISABLED,
                f"Setting .{assign.attr} = False turns certificate verification off.",
                f".{assign.attr}=False",
            )


#: Names the reference and assignment checks need recorded during the AST pass.
REFERENCE_NAMES = frozenset({"_create_unverified_context", "CERT_NONE", "_create_stdlib_context"})


def plain_http(url: str) -> str | None:
    """The host of an ``http://`` URL that is not local (``None`` otherwise)."""
    if not url.lower().startswith("http://"):
        return None
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return "?"
    if host in _LOCAL_HOSTS or host.endswith(".localhost") or not host:
        return None
    return host


@TABLE.register(names=tuple(_DOWNLOADS))
def http_download(site: Site, facts: ModuleFacts) -> Iterator[Hit]:
    """A download whose URL literally starts with ``http://``."""
    assert site.qual is not None
    position, name = _DOWNLOADS[site.qual]
    url_expr = keyword(site.node, name) if position < 0 else argument(site.node, position, name)
    if url_expr is None:
        return
    prefix = facts.string_prefix(url_expr, site.call.scope)
    host = plain_http(prefix) if prefix else None
    if host:
        yield Hit.at(
            site.node,
            R.HTTP_DOWNLOAD,
            f"{site.name} fetches from http://{host} without TLS: the bytes can be swapped "
            "in transit.",
            f"{site.name}(http://{host})",
        )


@TABLE.register(tails=("launch",))
def gradio_launch(site: Site, facts: ModuleFacts) -> Iterator[Hit]:
    """Gradio ``launch(share=True)`` and ``launch(server_name="0.0.0.0")`` without ``auth``."""
    node, scope = site.node, site.call.scope
    if is_true(keyword(node, "share")):
        yield Hit.at(
            node,
            R.GRADIO_SHARE,
            "launch(share=True) publishes the app through a public gradio.live link.",
            "launch(share=True)",
        )
    server = keyword(node, "server_name")
    if server is not None and facts.constant(server, scope) in _ALL_INTERFACES:
        if keyword(node, "auth") is None and keyword(node, "auth_dependency") is None:
            yield Hit.at(
                node,
                R.EXPOSED_SERVER,
                "launch(server_name='0.0.0.0') without auth= serves the app to the network.",
                "launch(server_name=0.0.0.0)",
            )


@TABLE.register(tails=("run", "run_app", "run_server", "serve"))
def server_run(site: Site, facts: ModuleFacts) -> Iterator[Hit]:
    """``app.run(host="0.0.0.0")``, ``uvicorn.run(..., host="0.0.0.0")``, ``waitress.serve``."""
    host_expr = keyword(site.node, "host")
    if host_expr is None:
        return
    host = facts.constant(host_expr, site.call.scope)
    if host in _ALL_INTERFACES:
        yield Hit.at(
            site.node,
            R.EXPOSED_SERVER,
            f"{site.name}(host='{host}') listens on every interface with no authentication "
            "in sight.",
            f"{site.name}(host={host})",
        )


@TABLE.register(names=("wsgiref.simple_server.make_server",))
def make_server(site: Site, facts: ModuleFacts) -> Iterator[Hit]:
    """``make_server("0.0.0.0", port, app)``."""
    host = argument(site.node, 0, "host")
    if host is not None and facts.constant(host, site.call.scope) in _ALL_INTERFACES | {""}:
        yield Hit.at(
            site.node,
            R.EXPOSED_SERVER,
            "make_server binds every interface with no authentication.",
            "make_server(0.0.0.0)",
        )


@TABLE.register(
    names=(
        "http.server.HTTPServer",
        "http.server.ThreadingHTTPServer",
        "socketserver.TCPServer",
        "xmlrpc.server.SimpleXMLRPCServer",
    )
)
def socket_server(site: Site, facts: ModuleFacts) -> Iterator[Hit]:
    """``HTTPServer(("0.0.0.0", port), Handler)`` and the like."""
    address = argument(site.node, 0, "server_address")
    if isinstance(address, ast.Tuple) and address.elts:
        host = facts.constant(address.elts[0], site.call.scope)
        if host in _ALL_INTERFACES | {""}:
            yield Hit.at(
                site.node,
                R.EXPOSED_SERVER,
                f"{site.name} binds every interface ('{host}') with no authentication.",
                f"{site.name}({host or '0.0.0.0'})",
            )
