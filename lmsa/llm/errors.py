"""Failures of the LLM endpoint, phrased for the person at the keyboard.

Interfaces (CLI, HTTP) show :attr:`LLMUnavailable.args[0]` as-is, so every message says what was
tried and what to do about it, and never needs a traceback to be understood.
"""

from __future__ import annotations

import openai


class LLMUnavailable(RuntimeError):
    """The LLM endpoint cannot serve a turn (not running, no model loaded, bad key)."""


NO_MODEL_LOADED_MARKER = "no models loaded"


def not_reachable_message(base_url: str, reason: str) -> str:
    return (
        f"Could not reach an LLM server at {base_url} ({reason}). Start LM Studio, load a model "
        "and enable its local server (Developer tab, or `lms server start`), or point "
        "LMSA_BASE_URL at another OpenAI-compatible server."
    )


def no_model_message(base_url: str) -> str:
    return (
        f"The LLM server at {base_url} is running but has no model loaded. Load one in LM Studio "
        "(or run `lms load <model>`), or set LMSA_MODEL to a model the server can load."
    )


def describe_llm_error(error: BaseException, base_url: str) -> str | None:
    """A user-facing sentence for an expected endpoint failure; None for a genuine bug."""
    if isinstance(error, LLMUnavailable):
        return str(error)
    if isinstance(error, openai.APIConnectionError | openai.APITimeoutError):
        reason = "timed out" if isinstance(error, openai.APITimeoutError) else "connection failed"
        return not_reachable_message(base_url, reason)
    if isinstance(error, openai.AuthenticationError | openai.PermissionDeniedError):
        return (
            f"The LLM server at {base_url} refused the API key. Set LMSA_API_KEY to the token "
            "LM Studio shows under its server settings."
        )
    if isinstance(error, openai.APIStatusError):
        message = _error_message(error)
        if NO_MODEL_LOADED_MARKER in message.lower():
            return no_model_message(base_url)
        if isinstance(error, openai.NotFoundError):
            return (
                f"The LLM server at {base_url} does not know the requested model ({message}). "
                "Set LMSA_MODEL to one that `lmsa doctor` lists."
            )
        return f"The LLM server at {base_url} answered HTTP {error.status_code}: {message}"
    return None


def _error_message(error: openai.APIStatusError) -> str:
    body = error.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return str(inner.get("message") or inner)
        return str(inner)
    return str(error.message)
