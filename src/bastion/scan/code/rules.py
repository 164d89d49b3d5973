"""Rules for ML code (``BST-CODE-NNN``): unsafe loading, remote code, injection, exposure.

Each rule's ``doc`` is its documentation (``bastion rules explain BST-CODE-001``). The checks that
raise them live in one module per concept (:mod:`.loading`, :mod:`.hub`, :mod:`.execution`,
:mod:`.network`, :mod:`.archives`); they share the AST facts of :mod:`.facts`.
"""

from __future__ import annotations

from bastion.core import Confidence, References, Severity
from bastion.rules import PATH_ESCAPE, UNSAFE_ARTIFACT, Rule

_DESERIALIZE = UNSAFE_ARTIFACT
_REMOTE_CODE = References(
    cwe=("CWE-94", "CWE-829"),
    owasp=("ML06:2023", "LLM03:2025"),
    atlas=("AML.T0010.001", "AML.T0010.003", "AML.T0011.000"),
    nist=("MANAGE 3.1", "MAP 4.1"),
)
_UNPINNED = References(
    cwe=("CWE-494", "CWE-829"),
    owasp=("ML06:2023", "ML10:2023", "LLM03:2025", "LLM04:2025"),
    atlas=("AML.T0010.003", "AML.T0058"),
    nist=("MANAGE 3.2", "MAP 4.1", "NISTAML.051"),
)
_INJECTION = References(
    cwe=("CWE-78", "CWE-77", "CWE-95"),
    owasp=("LLM05:2025",),
    atlas=("AML.T0050",),
    nist=("MEASURE 2.7",),
)
_TRANSPORT = References(
    cwe=("CWE-295", "CWE-319"),
    owasp=("ML06:2023", "LLM03:2025"),
    atlas=("AML.T0010.002", "AML.T0010.003"),
    nist=("MEASURE 2.7", "MAP 4.1"),
)
_CLEARTEXT = References(
    cwe=("CWE-319", "CWE-494"),
    owasp=("ML06:2023", "LLM03:2025", "LLM04:2025"),
    atlas=("AML.T0010.002", "AML.T0010.003"),
    nist=("MANAGE 3.2", "MAP 4.1"),
)
_EXPOSED = References(
    cwe=("CWE-306", "CWE-1327"),
    owasp=("ML05:2023", "LLM10:2025"),
    atlas=("AML.T0040", "AML.T0049"),
    nist=("MEASURE 2.7", "MANAGE 4.1"),
)
_SUPPRESSION = References(cwe=("CWE-710",), nist=("MEASURE 3.1",))


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
        f"BST-CODE-{number:03d}",
        title,
        severity,
        "code",
        doc=doc,
        remediation=remediation,
        references=references,
        confidence=confidence,
    )


TORCH_LOAD_UNSAFE = _rule(
    1,
    "torch.load with weights_only=False",
    Severity.HIGH,
    """
    ``torch.load(..., weights_only=False)`` unpickles the checkpoint with the full pickle
    machine: any callable the file names runs on load (CVE-2025-32434 shows even the restricted
    loader needs care). The call opts out explicitly of the safe loader that PyTorch uses by
    default since 2.6. Also raised for ``pickle_module=`` overrides. Reported at low severity
    when the same function saved that very file or buffer just before (a round trip).
    """,
    "Use weights_only=True (save state_dicts, not whole modules); if the file needs custom "
    "classes, allow them with torch.serialization.add_safe_globals, or convert to safetensors.",
    _DESERIALIZE,
)
TORCH_LOAD_DEFAULT = _rule(
    2,
    "torch.load without an explicit weights_only",
    Severity.LOW,
    """
    ``torch.load`` without ``weights_only``. Since PyTorch 2.6 the default is ``True`` (only
    tensors and allow-listed types are unpickled), so on a current PyTorch this call is safe;
    on PyTorch < 2.6, still pinned by many projects and images, the default was ``False`` and
    the same line executes whatever the checkpoint contains. Saying ``weights_only=True`` makes
    the code safe on every version and documents the intent. Raised at medium severity when
    the value is computed at run time.
    """,
    "Pass weights_only=True explicitly (and require torch>=2.6).",
    _DESERIALIZE,
    Confidence.MEDIUM,
)
PICKLE_LOAD = _rule(
    3,
    "Pickle-based deserialization of data that is not a trusted literal path",
    Severity.HIGH,
    """
    ``pickle``/``cPickle``/``_pickle``, ``dill``, ``cloudpickle``, ``joblib.load``,
    ``pandas.read_pickle``, ``shelve.open`` and ``jsonpickle.decode`` execute code named by the
    data. The call reads something that is not a literal local path in the code (an argument,
    a downloaded file, a URL, bytes from elsewhere), so whoever controls that data controls the
    process. Round trips are not reported: data produced by ``dumps``/``dump`` in the same
    function, or a path the same function just wrote with ``dump``/``save``.
    """,
    "Load weights and data with formats that cannot run code (safetensors, JSON, Parquet, "
    "skops with trusted types); if pickle is unavoidable, verify a signature or digest of the "
    "file before loading it.",
    _DESERIALIZE,
    Confidence.MEDIUM,
)
NUMPY_ALLOW_PICKLE = _rule(
    4,
    "numpy.load with allow_pickle=True on untrusted data",
    Severity.HIGH,
    """
    ``numpy.load(..., allow_pickle=True)`` unpickles object arrays from ``.npy``/``.npz``
    files. The default (``False``) refuses them; turning it on for a file that is not a
    literal local path lets the file run code.
    """,
    "Keep allow_pickle=False and store numeric arrays; convert object arrays to a safe format.",
    _DESERIALIZE,
    Confidence.MEDIUM,
)
YAML_UNSAFE = _rule(
    5,
    "yaml.load without a safe loader",
    Severity.HIGH,
    """
    ``yaml.unsafe_load`` and ``yaml.load``/``load_all`` with ``Loader=yaml.Loader``,
    ``UnsafeLoader`` or no loader construct arbitrary Python objects (``!!python/object/apply``)
    from the document. ``FullLoader``/``full_load`` is reported at medium severity: it was
    exploitable before PyYAML 5.4 (CVE-2020-14343) and still builds more than configs need.
    """,
    "Use yaml.safe_load (or Loader=yaml.SafeLoader / CSafeLoader).",
    _DESERIALIZE,
)
TRUST_REMOTE_CODE = _rule(
    6,
    "trust_remote_code=True runs code from the model repository",
    Severity.HIGH,
    """
    ``trust_remote_code=True`` (transformers ``from_pretrained``/``pipeline``, datasets
    ``load_dataset``, sentence-transformers…) downloads Python files from the Hub repository and
    imports them. Whoever can push to that repository, or take over its name, runs code in the
    training or serving process; without a pinned ``revision`` the code can change at any time.
    """,
    "Avoid remote code; if needed, pin revision= to a reviewed commit hash and vendor the code.",
    _REMOTE_CODE,
)
HF_UNPINNED = _rule(
    7,
    "Hugging Face download without a pinned commit revision",
    Severity.MEDIUM,
    """
    ``from_pretrained``, ``hf_hub_download``, ``snapshot_download``, ``load_dataset`` and
    ``pipeline(model=…)`` fetch the repository's current ``main`` unless ``revision=`` names a
    commit. A branch or tag moves: a compromised or renamed repository silently changes the
    model, the data or the remote code you load. Only a 40-hex commit hash pins it. Loads of
    local directories (``./…``, absolute paths, ``local_files_only=True``) are not reported.
    """,
    'Pass revision="<40-hex commit sha>" and update it deliberately.',
    _UNPINNED,
    Confidence.MEDIUM,
)
DYNAMIC_EVAL = _rule(
    8,
    "eval/exec/compile of a value that is not a literal",
    Severity.MEDIUM,
    """
    ``eval``, ``exec`` and ``compile`` of a string that is not a literal in the code run whatever
    that string says. In ML code the string is often model output (an LLM "tool call"), a config
    value or a notebook parameter: anyone who controls it runs code (``compile`` alone is
    reported at low severity; it only builds the code object).
    """,
    "Parse data with ast.literal_eval, json or a real parser; never execute model output.",
    _INJECTION,
    Confidence.MEDIUM,
)
SHELL_INJECTION = _rule(
    9,
    "Shell command built from variables",
    Severity.HIGH,
    """
    ``os.system``, ``os.popen``, ``subprocess.getoutput`` and ``subprocess.*(shell=True)`` hand
    the string to ``/bin/sh``; when it is built from variables (an f-string, ``+``, ``%``,
    ``format``), a value with ``;``, ``|`` or ``$( )`` runs extra commands. Literal commands
    are not reported.
    """,
    "Pass an argument list to subprocess.run without shell=True (shlex.quote if a shell is "
    "unavoidable).",
    _INJECTION,
)
TLS_DISABLED = _rule(
    10,
    "TLS certificate verification disabled",
    Severity.HIGH,
    """
    ``verify=False`` (requests, httpx), ``ssl=False``/``verify_ssl=False`` (aiohttp),
    ``ssl._create_unverified_context``, ``ssl.CERT_NONE`` or ``check_hostname = False`` accept
    any certificate: anyone on the path can serve a different model, dataset or package, or
    read the tokens sent with the request.
    """,
    "Keep verification on; for a private CA pass verify='/path/to/ca.pem' (or set "
    "REQUESTS_CA_BUNDLE / SSL_CERT_FILE).",
    _TRANSPORT,
)
HTTP_DOWNLOAD = _rule(
    11,
    "Model or data downloaded over plain HTTP",
    Severity.MEDIUM,
    """
    A model, dataset or file is fetched from an ``http://`` URL (``urlretrieve``, ``requests``,
    ``torch.hub`` helpers, ``keras.utils.get_file``, ``pandas.read_*``, ``wget``/``curl`` in
    notebooks). Nothing authenticates the server or protects the bytes in transit, and pickled
    models execute what they contain. Local addresses (``localhost``, ``127.0.0.1``) are not
    reported.
    """,
    "Use https:// and verify a published digest (sha256) of what was downloaded.",
    _CLEARTEXT,
)
TAR_EXTRACT = _rule(
    12,
    "tarfile extraction without a filter",
    Severity.MEDIUM,
    """
    ``TarFile.extractall``/``extract`` without ``filter=`` (before Python 3.14) follow member
    names like ``../../.bashrc``, absolute paths and links out of the target directory
    (CVE-2007-4559): a downloaded model or dataset archive can overwrite files and plant code.
    """,
    "Pass filter='data' (Python 3.12+, backported to 3.8.17+), or validate every member first.",
    PATH_ESCAPE,
)
ZIP_EXTRACT = _rule(
    13,
    "zipfile extractall of an archive",
    Severity.LOW,
    """
    ``ZipFile.extractall`` sanitises member names, but still writes whatever the archive holds
    (no size bound: zip bombs; overwrites inside the target). Worth a look when the archive is
    downloaded.
    """,
    "Check the archive's digest first, extract into an empty directory, bound total size.",
    PATH_ESCAPE,
    Confidence.LOW,
)
KERAS_UNSAFE_LOAD = _rule(
    14,
    "Keras load_model with safe_mode=False",
    Severity.HIGH,
    """
    ``keras.models.load_model(..., safe_mode=False)`` deserializes ``Lambda`` layers, whose
    bytecode runs when the model is loaded or called. Safe mode, added in Keras 2.13 after
    CVE-2024-3660, exists to refuse exactly that.
    """,
    "Keep safe_mode=True; replace Lambda layers with registered custom layers.",
    _DESERIALIZE,
)
KERAS_UNSAFE_GLOBAL = _rule(
    15,
    "Keras unsafe deserialization enabled globally",
    Severity.HIGH,
    """
    ``keras.config.enable_unsafe_deserialization()`` turns safe mode off for every later load in
    the process, including models loaded by libraries.
    """,
    "Remove the call; load trusted legacy models in a separate, sandboxed process.",
    _DESERIALIZE,
)
MLFLOW_REMOTE = _rule(
    16,
    "MLflow model loaded from a remote URI",
    Severity.MEDIUM,
    """
    ``mlflow.pyfunc.load_model`` and the flavor ``load_model`` functions of ``runs:/``,
    ``models:/``, ``http(s)://``, ``s3://``, ``gs://``, ``dbfs:/``… import the model's Python
    code and unpickle its artifacts (cloudpickle). Whoever can write to that run or registry
    entry runs code in the loading process.
    """,
    "Load only registry versions you review (pin models:/name/<version>), verify signatures of "
    "artifacts, and prefer flavors stored as safetensors/ONNX.",
    _DESERIALIZE.merged(_UNPINNED),
    Confidence.MEDIUM,
)
GRADIO_SHARE = _rule(
    17,
    "Gradio app shared publicly (share=True)",
    Severity.MEDIUM,
    """
    ``launch(share=True)`` opens a public ``*.gradio.live`` tunnel to the app: anyone with the
    link can query the model (extraction, abuse of cost) and reach whatever the app can.
    """,
    "Remove share=True; deploy behind authentication (auth=…) or a gateway.",
    _EXPOSED,
)
EXPOSED_SERVER = _rule(
    18,
    "Server bound to all interfaces without authentication",
    Severity.MEDIUM,
    """
    A development server listens on ``0.0.0.0``/``::`` with no authentication in the call:
    ``app.run(host="0.0.0.0")`` (Flask, Dash), ``uvicorn.run(..., host="0.0.0.0")``, Gradio
    ``server_name="0.0.0.0"`` without ``auth=``, ``jupyter … --ip=0.0.0.0`` with an empty token,
    ``mlflow server/ui --host 0.0.0.0`` without ``--app-name basic-auth``, ``streamlit run``
    with ``--server.address 0.0.0.0``. Every host on the network can use the model, the
    notebook kernel or the tracking server (which also serves artifacts).
    """,
    "Bind to 127.0.0.1 and put the service behind an authenticating proxy or gateway.",
    _EXPOSED,
    Confidence.MEDIUM,
)
SUPPRESSION_NO_REASON = _rule(
    19,
    "Inline suppression without a reason",
    Severity.LOW,
    """
    A ``# bastion: ignore[RULE-ID]`` comment must say why (``# bastion: ignore[BST-CODE-003]
    cache written by this process``). Without a reason, or without a rule id, it suppresses
    nothing and is reported itself, so every accepted risk stays explained and reviewable.
    """,
    "Add the rule id(s) in brackets and a short reason after them.",
    _SUPPRESSION,
)
TORCH_HUB_REMOTE = _rule(
    20,
    "torch.hub.load runs code from a GitHub repository",
    Severity.MEDIUM,
    """
    ``torch.hub.load("owner/repo", …)`` downloads the repository and imports its ``hubconf.py``;
    ``trust_repo=True`` (high severity) skips even the first-use prompt. Without a pinned
    commit (``owner/repo:<sha>``) the code can change between runs.
    """,
    "Vendor the model code, or pin the repository to a reviewed commit and load weights only.",
    _REMOTE_CODE,
)

CODE_RULES: tuple[Rule, ...] = (
    TORCH_LOAD_UNSAFE,
    TORCH_LOAD_DEFAULT,
    PICKLE_LOAD,
    NUMPY_ALLOW_PICKLE,
    YAML_UNSAFE,
    TRUST_REMOTE_CODE,
    HF_UNPINNED,
    DYNAMIC_EVAL,
    SHELL_INJECTION,
    TLS_DISABLED,
    HTTP_DOWNLOAD,
    TAR_EXTRACT,
    ZIP_EXTRACT,
    KERAS_UNSAFE_LOAD,
    KERAS_UNSAFE_GLOBAL,
    MLFLOW_REMOTE,
    GRADIO_SHARE,
    EXPOSED_SERVER,
    SUPPRESSION_NO_REASON,
    TORCH_HUB_REMOTE,
)
