"""Rules for hard-coded credentials (``BST-SEC-NNN``), one per kind of secret.

A separate rule per provider lets a project disable or suppress one kind (say, JWTs in test
fixtures) without losing the others. Every finding's evidence is redacted
(:mod:`bastion.scan.secrets.redact`): the raw value never reaches a report.
"""

from __future__ import annotations

from bastion.core import Confidence, References, Severity
from bastion.rules import Rule

#: Hard-coded secret in code, configs, notebooks (STANDARDS.md §0, last row).
SECRET_REFS = References(
    cwe=("CWE-798",),
    owasp=("LLM02:2025",),
    atlas=("AML.T0055",),
    nist=("MEASURE 2.7", "MANAGE 4.1"),
)
_PASSWORD_REFS = SECRET_REFS.merged(References(cwe=("CWE-259",)))
_KEY_REFS = SECRET_REFS.merged(References(cwe=("CWE-321",)))

_ROTATE = (
    "Revoke and rotate the credential now (it is in the repository history), then load it at "
    "run time from a secret manager or an environment variable that is not committed."
)

_COMMON_DOC = """
    Anyone who can read the repository, a CI log, a wheel or a container layer built from it
    can use the credential. Removing the line does not help once it was committed: the value is
    in the history and must be revoked. bastion never prints the value: evidence shows at most
    the first four characters, the length and a short hash (for long random tokens only).
"""


def _rule(
    number: int,
    title: str,
    doc: str,
    *,
    severity: Severity = Severity.HIGH,
    confidence: Confidence = Confidence.HIGH,
    references: References = SECRET_REFS,
    remediation: str = _ROTATE,
) -> Rule:
    return Rule(
        f"BST-SEC-{number:03d}",
        title,
        severity,
        "secrets",
        doc=doc + _COMMON_DOC,
        remediation=remediation,
        references=references,
        confidence=confidence,
    )


PRIVATE_KEY = _rule(
    1,
    "Private key committed",
    """
    A PEM/OpenSSH/PGP/PuTTY private key block (detect-secrets ``PrivateKeyDetector``). A private
    key signs or decrypts for whoever holds it: TLS server identity, SSH access, model signing.
    """,
    severity=Severity.CRITICAL,
    references=_KEY_REFS,
)
AWS_KEY = _rule(
    2,
    "AWS access key",
    """
    An AWS access key id (``AKIA``/``ASIA``/``ABIA``/``ACCA``…) or a 40-character secret access
    key assigned next to an ``aws…key`` name (detect-secrets ``AWSKeyDetector`` patterns).
    """,
    severity=Severity.CRITICAL,
)
AZURE_KEY = _rule(
    3,
    "Azure storage account key",
    """
    An ``AccountKey=`` value of an Azure storage connection string (detect-secrets
    ``AzureStorageKeyDetector``): full read/write access to the storage account, often where
    training data and models live.
    """,
    severity=Severity.CRITICAL,
)
GCP_KEY = _rule(
    4,
    "Google Cloud credential",
    """
    A Google Cloud service-account key file (JSON with ``"type": "service_account"`` and a
    ``private_key_id``) or a Google API key (``AIza…``).
    """,
    severity=Severity.CRITICAL,
)
GITHUB_TOKEN = _rule(
    5,
    "GitHub token",
    """
    A GitHub personal, OAuth, user-to-server, server-to-server or refresh token
    (``ghp_``/``gho_``/``ghu_``/``ghs_``/``ghr_``, detect-secrets ``GitHubTokenDetector``) or a
    fine-grained ``github_pat_`` token.
    """,
)
GITLAB_TOKEN = _rule(
    6,
    "GitLab token",
    """
    A GitLab personal, deploy, runner, CI/CD or OAuth token (``glpat-``, ``gldt-``, ``glrt-``…,
    detect-secrets ``GitLabTokenDetector``).
    """,
)
SLACK_TOKEN = _rule(
    7,
    "Slack token or webhook",
    """
    A Slack API token (``xoxb-``, ``xoxp-``…) or an incoming-webhook URL (detect-secrets
    ``SlackDetector``): anyone can post into the workspace with it.
    """,
)
STRIPE_KEY = _rule(
    8,
    "Stripe live key",
    """
    A Stripe live secret or restricted key (``sk_live_``/``rk_live_``, detect-secrets
    ``StripeDetector``).
    """,
    severity=Severity.CRITICAL,
)
TWILIO_KEY = _rule(
    9,
    "Twilio credential",
    """
    A Twilio account SID or API key SID (``AC…``/``SK…`` + 32 characters, detect-secrets
    ``TwilioKeyDetector``), usually next to its auth token.
    """,
    confidence=Confidence.MEDIUM,
)
JWT_TOKEN = _rule(
    10,
    "JSON Web Token",
    """
    A syntactically valid JWT (header and payload decode as JSON; detect-secrets
    ``JwtTokenDetector``). It is a bearer credential until it expires; many never do.
    """,
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
)
URL_CREDENTIALS = _rule(
    11,
    "Password in a URL",
    """
    A URL with ``user:password@`` (detect-secrets ``BasicAuthDetector``): database, message
    broker, package index or artifact store credentials travel with every copy of the string.
    """,
    references=_PASSWORD_REFS,
)
GENERIC_SECRET = _rule(
    12,
    "Hard-coded secret in a secret-named setting",
    """
    A value assigned to a name that says it is a secret (``password``, ``api_key``,
    ``client_secret``, ``token``…) that is not a placeholder, a reference or a path, and that
    looks like a credential: random enough for a key or token (Shannon entropy above the
    detect-secrets ``Base64HighEntropyString``/``HexHighEntropyString`` thresholds), or a
    password of mixed characters. Placeholders (``EXAMPLE``, ``xxxx``, ``<your-key>``,
    ``${VAR}``, ``changeme``) are ignored.
    """,
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    references=_PASSWORD_REFS,
)
HUGGINGFACE_TOKEN = _rule(
    13,
    "Hugging Face token",
    """
    A Hugging Face user access token (``hf_`` + 34 characters) or an organization API token
    (``api_org_…``). Write tokens can replace models and datasets that others download and load:
    a supply-chain foothold, not only a data leak.
    """,
    severity=Severity.CRITICAL,
)
OPENAI_KEY = _rule(
    14,
    "OpenAI API key",
    """
    An OpenAI API key: legacy user keys (``sk-`` … ``T3BlbkFJ`` …, detect-secrets
    ``OpenAIDetector``), project keys (``sk-proj-…``), service-account and admin keys
    (``sk-svcacct-…``, ``sk-admin-…``). Usage is billed to the owner (denial of wallet).
    """,
)
ANTHROPIC_KEY = _rule(
    15,
    "Anthropic API key",
    """
    An Anthropic API or admin key (``sk-ant-api03-…``, ``sk-ant-admin01-…``).
    """,
)
WANDB_KEY = _rule(
    16,
    "Weights & Biases API key",
    """
    A 40-hex-digit Weights & Biases API key assigned to ``WANDB_API_KEY`` or passed as
    ``wandb.login(key=…)``. It reads and writes every run, artifact and model of the account.
    """,
)
MLFLOW_CREDENTIALS = _rule(
    17,
    "MLflow tracking credentials",
    """
    An MLflow tracking URI with ``user:password@``, or a literal ``MLFLOW_TRACKING_PASSWORD`` /
    ``MLFLOW_TRACKING_TOKEN``: access to experiments, registered models and their artifacts
    (which MLflow loads with pickle).
    """,
    references=_PASSWORD_REFS,
)
COHERE_KEY = _rule(
    18,
    "Cohere API key",
    """
    A 40-character Cohere API key assigned to ``COHERE_API_KEY``/``CO_API_KEY`` or passed to
    ``cohere.Client(…)``/``cohere.ClientV2(…)``.
    """,
)
REPLICATE_TOKEN = _rule(
    19,
    "Replicate API token",
    """
    A Replicate API token (``r8_`` + 37 characters).
    """,
)
KAGGLE_KEY = _rule(
    20,
    "Kaggle API key",
    """
    A Kaggle API key: the ``key`` of a ``kaggle.json`` credentials file (32 hex digits next to a
    ``username``), or a literal ``KAGGLE_KEY``.
    """,
)
DATABRICKS_TOKEN = _rule(
    21,
    "Databricks personal access token",
    """
    A Databricks personal access token (``dapi`` + 32 hex digits): workspace, cluster and MLflow
    registry access.
    """,
    severity=Severity.CRITICAL,
)
SERVICE_TOKEN = _rule(
    22,
    "Third-party service token",
    """
    A token with a distinctive format from one of the other detect-secrets plugins: PyPI and npm
    publish tokens (package takeover), SendGrid, Mailchimp, Square, Discord and Telegram bot
    tokens.
    """,
)

SECRET_RULES: tuple[Rule, ...] = (
    PRIVATE_KEY,
    AWS_KEY,
    AZURE_KEY,
    GCP_KEY,
    GITHUB_TOKEN,
    GITLAB_TOKEN,
    SLACK_TOKEN,
    STRIPE_KEY,
    TWILIO_KEY,
    JWT_TOKEN,
    URL_CREDENTIALS,
    GENERIC_SECRET,
    HUGGINGFACE_TOKEN,
    OPENAI_KEY,
    ANTHROPIC_KEY,
    WANDB_KEY,
    MLFLOW_CREDENTIALS,
    COHERE_KEY,
    REPLICATE_TOKEN,
    KAGGLE_KEY,
    DATABRICKS_TOKEN,
    SERVICE_TOKEN,
)
