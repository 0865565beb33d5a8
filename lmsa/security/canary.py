"""Canary tokens: a random marker placed in system prompts. The model has no reason to ever
repeat it, so its appearance in an answer or a tool call means the system prompt leaked."""

from __future__ import annotations

import secrets

_PREFIX = "lmsa-canary-"


def new_canary() -> str:
    return _PREFIX + secrets.token_hex(8)


def contains_canary(text: str, canary: str) -> bool:
    """Also catches the token with its parts split by spaces or changed case."""
    if not canary:
        return False
    if canary in text:
        return True
    squeezed = "".join(text.split()).lower()
    return canary.lower() in squeezed or canary[len(_PREFIX) :].lower() in squeezed


def redact_canary(text: str, canary: str) -> str:
    if not canary:
        return text
    return text.replace(canary, "[REDACTED:canary]").replace(
        canary[len(_PREFIX) :], "[REDACTED:canary]"
    )
