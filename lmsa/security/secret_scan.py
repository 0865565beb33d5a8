"""Finds credentials in text with the ``detect-secrets`` plugins (cloud keys, private keys, JWTs,
service tokens, keyword assignments, high-entropy strings) and replaces them with markers.

The plugins are used directly (``analyze_string``) rather than through ``detect_secrets.scan``:
the scan front-end keeps global settings, applies file-oriented filters and costs milliseconds
per call, while the plugins' own regexes are what recognise secrets. Two deliberate choices:

- ``HexHighEntropyString`` is left out: it flags every git commit id and checksum, which users
  and tool output mention constantly. Hex API keys are still caught by ``KeywordDetector`` when
  they are assigned to a key-like name.
- High-entropy base64 runs are searched without requiring quotes (detect-secrets' "eager" ad-hoc
  mode), with a minimum length of 20, so pasted tokens are caught in prose too.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from lmsa.security.deferred import deferred

_PEM_BLOCK = deferred(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY"
    r"(?: BLOCK)?-----|\Z)",
    re.DOTALL,
)
_BASE64_RUN = deferred(r"[A-Za-z0-9+/_-]{20,}={0,2}")
_BASE64_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_-"
_ENTROPY_LIMIT = 4.5
_MARKER = "[REDACTED:{kind}]"
REDACTION_PREFIX = _MARKER.split("{", 1)[0]


@dataclass(frozen=True)
class SecretFinding:
    kind: str
    value: str


def _entropy(data: str) -> float:
    counts: dict[str, int] = {}
    for ch in data:
        counts[ch] = counts.get(ch, 0) + 1
    length = len(data)
    return -sum(c / length * math.log2(c / length) for c in counts.values())


@lru_cache(maxsize=1)
def _plugins() -> tuple[Any, ...]:
    # Imported on first use: detect-secrets pulls in requests and yaml.
    from detect_secrets.plugins.artifactory import ArtifactoryDetector
    from detect_secrets.plugins.aws import AWSKeyDetector
    from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
    from detect_secrets.plugins.basic_auth import BasicAuthDetector
    from detect_secrets.plugins.discord import DiscordBotTokenDetector
    from detect_secrets.plugins.github_token import GitHubTokenDetector
    from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
    from detect_secrets.plugins.jwt import JwtTokenDetector
    from detect_secrets.plugins.keyword import KeywordDetector
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

    classes = (
        AWSKeyDetector, ArtifactoryDetector, AzureStorageKeyDetector, BasicAuthDetector,
        DiscordBotTokenDetector, GitHubTokenDetector, GitLabTokenDetector, JwtTokenDetector,
        KeywordDetector, MailchimpDetector, NpmDetector, OpenAIDetector, PrivateKeyDetector,
        PypiTokenDetector, SendGridDetector, SlackDetector, SquareOAuthDetector, StripeDetector,
        TelegramBotTokenDetector, TwilioKeyDetector,
    )  # fmt: skip
    return tuple(cls() for cls in classes)


# Substrings every secret of a kind contains: a substring test is ~100x cheaper than the plugin's
# regex scan, and keeps the whole scan well under a millisecond for ordinary text.
_MARKERS: dict[str, tuple[str, ...]] = {
    "aws_access_key": ("AKIA", "ASIA", "ABIA", "ACCA", "A3T", "aws", "AWS"),
    "artifactory_credentials": ("AKC", "AP"),
    "azure_storage_account_access_key": ("AccountKey",),
    "basic_auth_credentials": ("://",),
    "discord_bot_token": (".",),
    "github_token": ("gh",),
    "gitlab_token": ("gl", "GR1348941"),
    "json_web_token": ("eyJ",),
    "mailchimp_access_key": ("-us",),
    "npm_tokens": ("_authToken",),
    "openai_token": ("T3BlbkFJ",),
    "pypi_token": ("pypi-",),
    "sendgrid_api_key": ("SG.",),
    "slack_token": ("xox", "XOX", "hooks.slack"),
    "square_oauth_secret": ("sq0",),
    "stripe_access_key": ("_live_",),
    "telegram_bot_token": (":",),
    "twilio_api_key": ("AC", "SK"),
}
_KEYWORDS = ("pass", "pwd", "secret", "token", "key", "auth", "credential")


def _kind(secret_type: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", secret_type.lower()).strip("_")


_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.+/=")


def _whole_token(text: str, start: int, end: int) -> str:
    """Extends a match to the end of its token: some plugin regexes stop early (detect-secrets'
    JWT pattern ends lazily), and a half-redacted token still leaks most of the secret."""
    while end < len(text) and text[end] in _TOKEN_CHARS:
        end += 1
    return text[start:end].rstrip(".")


def _regex_values(plugin: Any, text: str) -> list[str]:
    values = []
    for regex in plugin.denylist:
        for match in regex.finditer(text):
            groups = [g for g in match.groups() if g]
            longest = max(groups, key=len) if groups else ""
            if len(longest) >= 12:  # an assignment pattern: the group is the secret itself
                values.append(longest)
            else:
                values.append(_whole_token(text, match.start(), match.end()))
    return values


def _keyword_values(plugin: Any, text: str) -> list[str]:
    from detect_secrets.plugins.keyword import CONFIG_DENYLIST_REGEX_TO_GROUP

    values = []
    for line in text.splitlines():
        if len(line) > 500:
            continue  # minified blobs: the keyword regexes are slow there and rarely right
        for mapping in (None, CONFIG_DENYLIST_REGEX_TO_GROUP):
            for value in plugin.analyze_string(line, denylist_regex_to_group=mapping):
                value = value.strip()
                if value and not any(ch.isspace() for ch in value):
                    values.append(value)
    return values


def find_secrets(text: str) -> list[SecretFinding]:
    """Every credential-looking value in ``text`` (each value once)."""
    findings: dict[str, SecretFinding] = {}
    if "PRIVATE KEY" in text or "PuTTY-User-Key" in text:
        for block in _PEM_BLOCK.finditer(text):
            findings[block.group(0)] = SecretFinding("private_key", block.group(0))
    lowered = text.lower()
    for plugin in _plugins():
        kind = _kind(plugin.secret_type)
        if kind == "private_key":
            continue  # whole PEM blocks are handled above; the plugin only names the header
        if kind == "secret_keyword":
            if not any(word in lowered for word in _KEYWORDS):
                continue
        elif not any(marker in text for marker in _MARKERS.get(kind, ("",))):
            continue
        try:
            values = (
                _keyword_values(plugin, text)
                if kind == "secret_keyword"
                else _regex_values(plugin, text)
            )
        except Exception:  # a plugin bug must not take the guard down
            continue
        for value in values:
            if len(value) >= 6 and value not in findings:
                findings[value] = SecretFinding(kind, value)
    long_token = max(map(len, text.split()), default=0) >= 20
    for match in _BASE64_RUN.finditer(text) if long_token else ():
        value = match.group(0)
        if value in findings or any(value in f.value for f in findings.values()):
            continue
        has_mix = any(c.isdigit() for c in value) and any(c.isupper() for c in value)
        if has_mix and _entropy(value) > _ENTROPY_LIMIT:
            findings[value] = SecretFinding("high_entropy_string", value)
    return list(findings.values())


def redact_values(text: str, findings: list[SecretFinding]) -> str:
    """``text`` with each finding's value replaced by a ``[REDACTED:<kind>]`` marker (longest
    first, so a value that contains another is replaced whole)."""
    for finding in sorted(findings, key=lambda f: len(f.value), reverse=True):
        text = text.replace(finding.value, _MARKER.format(kind=finding.kind))
    return text
