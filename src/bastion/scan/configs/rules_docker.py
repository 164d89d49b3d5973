"""Rules for Dockerfiles and Containerfiles (``BST-DKR-NNN``).

The checks live in :mod:`.dockerfile_checks`; the parser in :mod:`.dockerfile`. Image-content
rules (root user, caches, health check) look only at the stages that end up in the final image:
the last stage and the stages it is built ``FROM``. Supply-chain rules (base images, downloads,
``pip install``) look at every stage, because what a builder stage fetches is what gets copied.
"""

from __future__ import annotations

from bastion.core import Confidence, References, Severity
from bastion.rules import Rule
from bastion.scan.configs import refs


def _rule(
    number: int,
    title: str,
    severity: Severity,
    doc: str,
    remediation: str,
    references: References,
    confidence: Confidence = Confidence.HIGH,
) -> Rule:
    return Rule(
        f"BST-DKR-{number:03d}",
        title,
        severity,
        "configs",
        doc=doc,
        remediation=remediation,
        references=references,
        confidence=confidence,
    )


ROOT_USER = _rule(
    1,
    "Image runs as root",
    Severity.MEDIUM,
    """
    The final stage sets no ``USER`` (so the container runs as the base image's user, root for
    almost every base image) or its last ``USER`` is ``root``/``0``. A process that is
    compromised through a malicious model file, a deserialization bug or a dependency then
    owns the container file system and has the easiest path out of it. An explicit ``USER
    root`` is reported as high; a missing ``USER`` as medium with medium confidence, because a
    few base images (distroless ``:nonroot``, Chainguard, Jupyter stacks) already switch to an
    unprivileged user and are recognized as such.
    """,
    "Create an unprivileged user and end the final stage with USER <name or uid>.",
    refs.PRIVILEGE,
)
BASE_LATEST = _rule(
    2,
    "Base image is :latest or untagged",
    Severity.MEDIUM,
    """
    ``FROM`` (or ``COPY --from=``) names an image by ``:latest`` or by no tag at all, which
    means ``:latest``. Each build can get a different image: a new major version, or whatever
    a compromised registry account pushed last. ``ARG`` defaults are substituted first, so
    ``FROM python:${PY}`` with ``ARG PY=latest`` is reported too; a reference whose tag
    comes from an ``ARG`` without a default cannot be judged and is left alone.
    """,
    "Pin a specific version tag and, better, the digest: FROM python:3.11-slim@sha256:<digest>.",
    refs.IMAGE_PIN,
)
BASE_NOT_DIGEST = _rule(
    3,
    "Base image is not pinned by digest",
    Severity.LOW,
    """
    The base image has a tag but no ``@sha256:`` digest. Tags are mutable: the publisher (or
    anyone with its registry credentials) can move ``3.11-slim`` to different content, and
    the build silently follows. A digest names exactly one image.
    """,
    "Append the digest (docker buildx imagetools inspect <image>) and update it deliberately.",
    refs.IMAGE_PIN,
)
CURL_PIPE_SHELL = _rule(
    4,
    "Remote script piped into a shell",
    Severity.HIGH,
    """
    A ``RUN`` downloads a script and executes it in one step (``curl … | sh``, ``wget -O- … |
    bash``, ``sh -c "$(curl …)"``, ``bash <(curl …)``). Nothing checks what was downloaded:
    whoever controls the server, the DNS answer or a proxy on the way runs code in the image
    build, with the build's credentials.
    """,
    "Download to a file, verify a pinned checksum or signature, then run it; or use a package.",
    refs.REMOTE_CODE,
)
ADD_REMOTE = _rule(
    5,
    "ADD fetches a remote URL without a checksum",
    Severity.MEDIUM,
    """
    ``ADD https://…`` downloads at build time with no integrity check unless BuildKit's
    ``--checksum=sha256:…`` is given. The content can change between builds or be replaced in
    transit. When the URL names a model or pickle file (``.pt``, ``.pkl``, ``.bin``,
    ``.ckpt``…) the finding is high: the image then ships an unverified model that runs code
    when it is loaded. Archives fetched by URL are not unpacked by ``ADD`` (only local ones
    are), so an ``ADD`` followed by an extraction step is just as unchecked.
    """,
    "Use ADD --checksum=sha256:<digest> <url>, or download and verify in a RUN step.",
    refs.MODEL_SOURCE.merged(refs.REMOTE_CODE),
)
SECRET_IN_BUILD = _rule(
    6,
    "Secret in ENV or ARG",
    Severity.HIGH,
    """
    An ``ENV`` or ``ARG`` with a secret-like name (``*_TOKEN``, ``*_API_KEY``, ``*PASSWORD*``,
    ``HF_TOKEN``, ``WANDB_API_KEY``, ``AWS_SECRET_ACCESS_KEY``…) has a literal value. ``ENV``
    values are stored in the image configuration and ``ARG`` values in its build history
    (``docker history``, provenance attestations): anyone who can pull the image can read
    them. A secret-named ``ARG`` without a value is reported as low: the value will be passed
    with ``--build-arg`` and still end up in the history. The value is never shown.
    """,
    "Use BuildKit secrets (RUN --mount=type=secret,id=hf_token …) and rotate the exposed value.",
    refs.SECRETS,
)
NO_HEALTHCHECK = _rule(
    7,
    "No HEALTHCHECK in the final image",
    Severity.LOW,
    """
    The final stage declares no ``HEALTHCHECK``, so a hung model server (a deadlocked worker,
    an exhausted GPU) keeps receiving traffic under plain Docker or Compose. Orchestrators with
    their own probes (Kubernetes ``livenessProbe``) do not need it; ``HEALTHCHECK NONE`` is
    taken as a deliberate choice and not reported.
    """,
    "Add HEALTHCHECK CMD curl -f http://localhost:<port>/health || exit 1 (or a probe).",
    refs.MONITORING,
    Confidence.MEDIUM,
)
PACKAGE_CACHE = _rule(
    8,
    "Package manager cache left in the image",
    Severity.LOW,
    """
    ``apt-get install`` without ``rm -rf /var/lib/apt/lists/*`` in the same ``RUN``, ``apk
    add`` without ``--no-cache``, or ``pip install`` without ``--no-cache-dir`` (and without
    ``PIP_NO_CACHE_DIR`` or a BuildKit cache mount) leaves the package index and downloaded
    archives in a layer: a larger image, and stale package metadata for whoever extends it.
    Only stages that end up in the final image are checked.
    """,
    "Clean up in the same RUN (rm -rf /var/lib/apt/lists/*), use --no-cache-dir / --no-cache.",
    refs.HYGIENE,
)
PIP_UNPINNED = _rule(
    9,
    "pip install of unpinned packages",
    Severity.MEDIUM,
    """
    A ``pip install`` (``pip3``, ``python -m pip``, ``uv pip``) names packages without an
    exact ``==`` version: each build resolves whatever is newest, including a malicious
    release or a typosquat's takeover. Requirement files (``-r``), constraint files (``-c``),
    local paths and wheels are not judged here (the dependency analyzer reads the files).
    Packaging tools (``pip``, ``setuptools``, ``wheel``) upgraded unpinned are reported as low.
    """,
    "Pin exact versions (pkg==1.2.3), ideally with hashes (--require-hashes) or a lock file.",
    refs.REMOTE_CODE,
)
PIP_EXTRA_INDEX = _rule(
    10,
    "pip --extra-index-url (dependency confusion)",
    Severity.HIGH,
    """
    ``--extra-index-url`` (or ``PIP_EXTRA_INDEX_URL``) makes pip pick the highest version of a
    name from *any* index. Anyone can publish an internal package's name on PyPI with a higher
    version and have it installed instead: the dependency-confusion attack that hit PyTorch's
    nightly ``torchtriton`` in December 2022.
    """,
    "Use a single --index-url that proxies PyPI (or pin with hashes and --no-deps).",
    refs.INDEX_CONFUSION,
)
PIP_TRUSTED_HOST = _rule(
    11,
    "pip TLS verification disabled or plain-HTTP index",
    Severity.MEDIUM,
    """
    ``--trusted-host`` (or ``PIP_TRUSTED_HOST``) turns off certificate checks for a host, and an
    ``--index-url``/``--extra-index-url`` over ``http://`` has none to begin with: a network
    attacker can serve any package.
    """,
    "Serve the index over HTTPS with a valid certificate (add the CA with --cert if private).",
    refs.TRANSPORT,
)
SUDO = _rule(
    12,
    "sudo in the image",
    Severity.MEDIUM,
    """
    ``sudo`` is run or installed. Build steps already run as root; sudo inside an image mainly
    lets an unprivileged runtime user become root again, undoing ``USER``, and its setuid
    binary is one more privilege-escalation surface.
    """,
    "Run root steps before USER; do not install sudo in runtime images.",
    refs.PRIVILEGE,
)
WORLD_WRITABLE = _rule(
    13,
    "World-writable permissions",
    Severity.MEDIUM,
    """
    ``chmod 777`` (any mode with the others-write bit, or ``o+w``/``a+w``) or ``COPY/ADD
    --chmod=777`` makes files writable by every user in the container. A model or code
    directory that any process can rewrite lets a compromised low-privilege process replace
    the model that the server loads next (a backdoor without touching the registry).
    """,
    "Give ownership to the runtime user (chown / COPY --chown) and use 755/644-style modes.",
    refs.PERMISSIONS,
)
EXPOSE_SSH = _rule(
    14,
    "SSH port exposed",
    Severity.MEDIUM,
    """
    ``EXPOSE 22`` advertises an SSH server in the container: another network service, another
    set of credentials to leak, and an interactive way in that bypasses the orchestrator's
    audit (``kubectl exec`` is logged; a login over SSH is not).
    """,
    "Remove the SSH server; use docker exec / kubectl exec for debugging.",
    References(cwe=("CWE-284", "CWE-1327"), nist=("SSDF PO.5",)),
)
HTTP_DOWNLOAD = _rule(
    15,
    "Download over plain HTTP during the build",
    Severity.MEDIUM,
    """
    ``curl``/``wget`` in a ``RUN`` fetch an ``http://`` URL (not loopback). Anyone on the path
    can replace the file: a model, a dataset, a tarball of code baked into the image.
    """,
    "Use https:// and verify a pinned checksum of what was downloaded.",
    refs.TRANSPORT.merged(refs.MODEL_SOURCE),
)

DOCKER_RULES: tuple[Rule, ...] = (
    ROOT_USER,
    BASE_LATEST,
    BASE_NOT_DIGEST,
    CURL_PIPE_SHELL,
    ADD_REMOTE,
    SECRET_IN_BUILD,
    NO_HEALTHCHECK,
    PACKAGE_CACHE,
    PIP_UNPINNED,
    PIP_EXTRA_INDEX,
    PIP_TRUSTED_HOST,
    SUDO,
    WORLD_WRITABLE,
    EXPOSE_SSH,
    HTTP_DOWNLOAD,
)
