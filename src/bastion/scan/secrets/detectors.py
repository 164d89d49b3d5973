"""The token detectors: detect-secrets plugin patterns plus ML-platform tokens bastion defines.

Each :class:`TokenPattern` names its rule, a regular expression (the secret is ``group``), the
literal *anchors* one of which must occur in the text before the expression runs at all (this is
what keeps a scan of tens of thousands of files fast), and an optional validator. The expressions
of the providers detect-secrets knows are taken from its plugin classes, so they follow its
releases; the ML-platform ones (Hugging Face, OpenAI project keys, Anthropic, Weights & Biases,
MLflow, Cohere, Replicate, Kaggle, Databricks) are defined here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
from detect_secrets.plugins.basic_auth import BasicAuthDetector
from detect_secrets.plugins.discord import DiscordBotTokenDetector
from detect_secrets.plugins.github_token import GitHubTokenDetector
from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
from detect_secrets.plugins.jwt import JwtTokenDetector
from detect_secrets.plugins.mailchimp import MailchimpDetector
from detect_secrets.plugins.npm import NpmDetector
from detect_secrets.plugins.openai import OpenAIDetector
from detect_secrets.plugins.private_key import PrivateKeyDetector
from detect_secrets.plugins.pypi_token import PypiTokenDetector
from detect_secrets.plugins.sendgrid import SendGridDetector
from detect_secrets.plugins.slack import SlackDetector
from detect_secrets.plugins.square_oauth import SquareOAuthDetector
from detect_secrets.plugins.stripe import StripeDetector
from detect_secrets.plugins.telegram_token import TelegramBotTokenDetector
from detect_secrets.plugins.twilio import TwilioKeyDetector

from bastion.rules import Rule
from bastion.scan.secrets import rules as R
from bastion.scan.secrets.filters import is_placeholder, looks_random_token

#: The context a validator sees: the whole text and the match span of the secret.
Validator = Callable[[str, int, int], bool]


@dataclass(frozen=True)
class TokenPattern:
    """One way of recognising one kind of secret."""

    rule: Rule
    label: str
    regex: re.Pattern[str]
    anchors: tuple[str, ...]
    group: int = 0
    validate: Validator | None = None
    #: Anchors are looked up in the lower-cased text (for case-insensitive expressions).
    anchors_lower: bool = False
    #: Run the placeholder filter on the value (off where the format is fixed and checked).
    placeholder_check: bool = True


def _ds(plugin: type) -> tuple[re.Pattern[str], ...]:
    """The compiled expressions of a detect-secrets regex plugin."""
    return tuple(plugin.denylist)  # type: ignore[attr-defined]


_TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def _bounded(text: str, start: int, end: int) -> bool:
    """The match is a whole token: no token character glued before or after it."""
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    return before not in _TOKEN_CHARS and after not in _TOKEN_CHARS


def _bounded_random(text: str, start: int, end: int) -> bool:
    return _bounded(text, start, end) and looks_random_token(text[start:end])


def _bounded_mixed_case(text: str, start: int, end: int) -> bool:
    """Hugging Face user tokens are letters only: mixed case is their sign of randomness."""
    token = text[start:end].split("_", 1)[-1]
    return (
        _bounded(text, start, end)
        and any(c.islower() for c in token)
        and any(c.isupper() for c in token)
        and not is_placeholder(text[start:end])
    )


def _jwt(text: str, start: int, end: int) -> bool:
    token = text[start:end]
    parts = token.split(".")
    if len(parts) != 3 or len(parts[2]) < 16 or len(parts[1]) < 8:
        return False
    return JwtTokenDetector.is_formally_valid(token)


_KEY_BODY = re.compile(r"[A-Za-z0-9+/]{60,}")


def _private_key_body(text: str, start: int, end: int) -> bool:
    """A header alone is a parser constant or documentation; a key has a base64 body after it."""
    window = text[end : end + 600]
    if text.startswith("PuTTY", start):
        return "Private-Lines:" in text[end : end + 4000]
    if "service_account" in text and '"private_key"' in text[max(0, start - 40) : start]:
        return False  # reported once, as a Google Cloud service-account key
    return bool(_KEY_BODY.search(window.replace("\\n", "\n")))


def _service_account(text: str, start: int, end: int) -> bool:
    return '"service_account"' in text or "'service_account'" in text


def _kaggle(text: str, start: int, end: int) -> bool:
    return '"username"' in text[max(0, start - 300) : end + 300]


def _hex_token(text: str, start: int, end: int) -> bool:
    value = text[start:end]
    return _bounded(text, start, end) and any(c.isdigit() for c in value) and value.isalnum()


def _twilio(text: str, start: int, end: int) -> bool:
    body = text[start + 2 : end]
    return (
        _bounded(text, start, end)
        and any(c.isdigit() for c in body)
        and any(c.isalpha() for c in body)
    )


_GITLAB_PREFIXES = (
    "glpat-",
    "gldt-",
    "glft-",
    "glsoat-",
    "glrt-",
    "GR1348941",
    "glcbt-",
    "glimt-",
    "glptt-",
    "glagent-",
    "gloas-",
)
_AWS_ID, _AWS_SECRET = _ds(AWSKeyDetector)

PATTERNS: tuple[TokenPattern, ...] = (
    *(
        TokenPattern(R.PRIVATE_KEY, "private key", rx, (rx.pattern,), validate=_private_key_body)
        for rx in _ds(PrivateKeyDetector)
    ),
    TokenPattern(
        R.GCP_KEY,
        "Google Cloud service-account key",
        re.compile(r"""["']private_key_id["']\s*:\s*["']([0-9a-f]{40})["']"""),
        ("private_key_id",),
        group=1,
        validate=_service_account,
    ),
    TokenPattern(
        R.GCP_KEY,
        "Google API key",
        re.compile(r"AIza[0-9A-Za-z_\-]{35}"),
        ("AIza",),
        validate=_bounded,
    ),
    TokenPattern(R.AWS_KEY, "AWS access key id", _AWS_ID, ("AKIA", "ASIA", "ABIA", "ACCA", "A3T")),
    TokenPattern(
        R.AWS_KEY, "AWS secret access key", _AWS_SECRET, ("aws",), group=1, anchors_lower=True
    ),
    *(
        TokenPattern(R.AZURE_KEY, "Azure storage account key", rx, ("AccountKey=",))
        for rx in _ds(AzureStorageKeyDetector)
    ),
    *(
        TokenPattern(R.GITHUB_TOKEN, "GitHub token", rx, ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"))
        for rx in _ds(GitHubTokenDetector)
    ),
    TokenPattern(
        R.GITHUB_TOKEN,
        "GitHub fine-grained token",
        re.compile(r"github_pat_[A-Za-z0-9_]{82}"),
        ("github_pat_",),
    ),
    *(
        TokenPattern(
            R.GITLAB_TOKEN,
            "GitLab token",
            rx,
            _GITLAB_PREFIXES,
        )
        for rx in _ds(GitLabTokenDetector)
    ),
    *(
        TokenPattern(
            R.SLACK_TOKEN,
            "Slack token",
            rx,
            ("xox", "hooks.slack.com"),
            anchors_lower=True,
        )
        for rx in _ds(SlackDetector)
    ),
    *(
        TokenPattern(R.STRIPE_KEY, "Stripe live key", rx, ("sk_live_", "rk_live_"))
        for rx in _ds(StripeDetector)
    ),
    *(
        TokenPattern(R.TWILIO_KEY, "Twilio key", rx, ("AC", "SK"), validate=_twilio)
        for rx in _ds(TwilioKeyDetector)
    ),
    TokenPattern(
        R.JWT_TOKEN,
        "JSON Web Token",
        # detect-secrets' own expression ends lazily (it stops before the signature); this one
        # takes the three parts, and detect-secrets' validator checks them.
        re.compile(r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{16,}"),
        ("eyJ",),
        validate=_jwt,
    ),
    TokenPattern(
        R.ANTHROPIC_KEY,
        "Anthropic API key",
        re.compile(r"sk-ant-(?:api|admin)\d{2}-[A-Za-z0-9_\-]{60,}"),
        ("sk-ant-",),
        validate=_bounded,
    ),
    *(
        TokenPattern(R.OPENAI_KEY, "OpenAI API key", rx, ("T3BlbkFJ",))
        for rx in _ds(OpenAIDetector)
    ),
    TokenPattern(
        R.OPENAI_KEY,
        "OpenAI API key",
        re.compile(r"sk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{40,}"),
        ("sk-proj-", "sk-svcacct-", "sk-admin-"),
        validate=_bounded_random,
    ),
    TokenPattern(
        R.OPENAI_KEY,
        "OpenAI API key",
        re.compile(r"sk-[A-Za-z0-9]{48}"),
        ("sk-",),
        validate=_bounded_random,
    ),
    TokenPattern(
        R.HUGGINGFACE_TOKEN,
        "Hugging Face token",
        re.compile(r"hf_[A-Za-z0-9]{34,40}"),
        ("hf_",),
        validate=_bounded_mixed_case,
    ),
    TokenPattern(
        R.HUGGINGFACE_TOKEN,
        "Hugging Face organization token",
        re.compile(r"api_org_[A-Za-z0-9]{34}"),
        ("api_org_",),
        validate=_bounded_random,
    ),
    TokenPattern(
        R.WANDB_KEY,
        "Weights & Biases API key",
        re.compile(
            r"""(?:WANDB_API_KEY["']?\s*[:=]\s*["']?|wandb\.login\([^)]{0,80}?key\s*=\s*["'])"""
            r"([0-9a-f]{40})(?![0-9a-f])"
        ),
        ("wandb",),
        group=1,
        anchors_lower=True,
    ),
    TokenPattern(
        R.MLFLOW_CREDENTIALS,
        "MLflow tracking password or token",
        re.compile(r"""MLFLOW_TRACKING_(?:PASSWORD|TOKEN)["']?\s*[:=]\s*["']?([^\s"'$]{6,})"""),
        ("MLFLOW_TRACKING_",),
        group=1,
    ),
    TokenPattern(
        R.COHERE_KEY,
        "Cohere API key",
        re.compile(
            r"""(?:(?:COHERE_API_KEY|CO_API_KEY)["']?\s*[:=]\s*["']?"""
            r"""|cohere\.(?:Async)?Client(?:V2)?\(\s*(?:api_key\s*=\s*)?["'])"""
            r"([A-Za-z0-9]{40})(?![A-Za-z0-9])"
        ),
        ("cohere", "co_api_key"),
        group=1,
        anchors_lower=True,
    ),
    TokenPattern(
        R.REPLICATE_TOKEN,
        "Replicate API token",
        re.compile(r"r8_[A-Za-z0-9]{37}"),
        ("r8_",),
        validate=_bounded_random,
    ),
    TokenPattern(
        R.KAGGLE_KEY,
        "Kaggle API key",
        re.compile(r""""key"\s*:\s*"([0-9a-f]{32})\""""),
        ('"key"',),
        group=1,
        validate=_kaggle,
    ),
    TokenPattern(
        R.KAGGLE_KEY,
        "Kaggle API key",
        re.compile(r"""KAGGLE_KEY["']?\s*[:=]\s*["']?([0-9a-f]{32})(?![0-9a-f])"""),
        ("KAGGLE_KEY",),
        group=1,
    ),
    TokenPattern(
        R.DATABRICKS_TOKEN,
        "Databricks token",
        re.compile(r"dapi[0-9a-f]{32}(?:-\d)?"),
        ("dapi",),
        validate=_hex_token,
    ),
    *(
        TokenPattern(R.SERVICE_TOKEN, "PyPI token", rx, ("pypi-",), placeholder_check=False)
        for rx in _ds(PypiTokenDetector)
    ),
    *(
        TokenPattern(R.SERVICE_TOKEN, "npm token", rx, ("_authToken",), group=1)
        for rx in _ds(NpmDetector)
    ),
    *(
        TokenPattern(R.SERVICE_TOKEN, "SendGrid API key", rx, ("SG.",))
        for rx in _ds(SendGridDetector)
    ),
    *(
        TokenPattern(R.SERVICE_TOKEN, "Mailchimp API key", rx, ("-us",), validate=_hex_token)
        for rx in _ds(MailchimpDetector)
    ),
    *(
        TokenPattern(R.SERVICE_TOKEN, "Square OAuth secret", rx, ("sq0csp-",))
        for rx in _ds(SquareOAuthDetector)
    ),
    *(
        TokenPattern(
            R.SERVICE_TOKEN,
            "Discord bot token",
            rx,
            ("discord",),
            anchors_lower=True,
            validate=_bounded,
        )
        for rx in _ds(DiscordBotTokenDetector)
    ),
    *(
        TokenPattern(
            R.SERVICE_TOKEN,
            "Telegram bot token",
            rx,
            ("telegram",),
            anchors_lower=True,
            validate=_bounded,
        )
        for rx in _ds(TelegramBotTokenDetector)
    ),
)

#: detect-secrets' basic-auth URL expression (the password is group 1).
URL_CREDENTIALS_RE: re.Pattern[str] = _ds(BasicAuthDetector)[0]


def rules_of(patterns: Iterable[TokenPattern]) -> tuple[Rule, ...]:
    """The distinct rules a set of patterns can raise."""
    return tuple(dict.fromkeys(p.rule for p in patterns))
