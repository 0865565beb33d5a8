"""Failures of the LLM endpoints: classified for the router, phrased for the person at the keyboard.

Interfaces (CLI, HTTP) show :attr:`LLMUnavailable.args[0]` as-is, so every message says what was
tried and what to do about it, and never needs a traceback to be understood.

The router needs a second view of the same errors: :func:`classify` sorts an exception into an
:class:`ErrorKind`, and the kind decides whether the attempt is retried on the same endpoint,
counts against its circuit breaker, or sends the call straight on to the next endpoint.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:  # imported where an error is classified: the CLI's no-server path skips it
    import openai


class LLMUnavailable(RuntimeError):
    """The LLM endpoint cannot serve a turn (not running, no model loaded, bad key)."""


NO_MODEL_LOADED_MARKER = "no models loaded"
_CONTEXT_MARKERS = (
    "context length",
    "context_length",
    "context window",
    "maximum context",
    "n_ctx",
    "too many tokens",
    "prompt is too long",
    "exceeds the context",
)


class ErrorKind(enum.Enum):
    CONNECTION = "connection"
    TIMEOUT = "timeout"
    RATE_LIMIT = "rate_limit"
    SERVER = "server_error"
    NO_MODEL = "no_model"
    CONTEXT = "context_overflow"
    AUTH = "auth"
    NOT_FOUND = "not_found"
    BAD_REQUEST = "bad_request"
    STREAM_CUT = "stream_cut"
    QUEUE_TIMEOUT = "queue_timeout"
    BREAKER_OPEN = "breaker_open"
    OTHER = "other"


RETRYABLE = frozenset(
    {ErrorKind.CONNECTION, ErrorKind.TIMEOUT, ErrorKind.RATE_LIMIT, ErrorKind.SERVER}
)
"""Worth another attempt on the same endpoint. 400/401/404/422, "No models loaded" and context
overflow are not: the same request would fail the same way, so the router falls back at once."""

TRIPS_BREAKER = frozenset(
    {
        ErrorKind.CONNECTION,
        ErrorKind.TIMEOUT,
        ErrorKind.RATE_LIMIT,
        ErrorKind.SERVER,
        ErrorKind.NO_MODEL,
        ErrorKind.STREAM_CUT,
    }
)
"""Say something about the endpoint's health (a bad request says something about the request)."""


class QueueTimeout(LLMUnavailable):
    """No slot on an endpoint freed up within the queue timeout."""

    def __init__(self, endpoint: str, limit: int, waited: float) -> None:
        super().__init__(
            f"The LLM endpoint {endpoint} was busy: all {limit} of its prediction slots stayed "
            f"taken for {waited:g} s. Try again shortly, raise LMSA_LLM_QUEUE_TIMEOUT, or raise "
            "the endpoint's max_concurrency (LM Studio's Max Concurrent Predictions)."
        )
        self.endpoint = endpoint


class BreakerOpen(LLMUnavailable):
    """The endpoint failed repeatedly and is cooling down; it is skipped without a request."""

    kind = ErrorKind.BREAKER_OPEN

    def __init__(self, endpoint: str, base_url: str, cooldown: float) -> None:
        super().__init__(
            f"The LLM server at {base_url} failed several times in a row, so lmsa stopped "
            f"sending it requests for {cooldown:g} s (circuit breaker of endpoint {endpoint}). "
            "Check that LM Studio is running with a model loaded; lmsa tries it again by itself."
        )
        self.endpoint = endpoint


class StreamInterrupted(LLMUnavailable):
    """A stream broke after tokens had already been delivered."""


@dataclass(frozen=True)
class Attempt:
    """One endpoint's failure within a routed call, kept for the final error message."""

    endpoint: str
    base_url: str
    kind: ErrorKind
    message: str


class AllEndpointsFailed(LLMUnavailable):
    """Every endpoint that could serve the call failed; the message names each failure."""

    def __init__(self, attempts: Sequence[Attempt]) -> None:
        self.attempts = list(attempts)
        # One endpoint: its own message, so the single-server case reads exactly as before.
        last_per_endpoint: dict[str, Attempt] = {}
        for attempt in self.attempts:
            last_per_endpoint[attempt.endpoint] = attempt
        if len(last_per_endpoint) == 1:
            message = next(iter(last_per_endpoint.values())).message
        else:
            parts = [f"[{a.endpoint}] {a.message}" for a in last_per_endpoint.values()]
            message = f"All {len(parts)} LLM endpoints failed: " + " ".join(parts)
        super().__init__(message)


class ContextTooLong(LLMUnavailable):
    """The prompt does not fit any endpoint's context window, even after trimming history."""

    def __init__(self, tokens: int, largest: int | None) -> None:
        where = f"the largest configured window is {largest:,} tokens" if largest else "no window"
        super().__init__(
            f"The request is too long for every configured model (about {tokens:,} tokens; "
            f"{where}). Shorten the input, or load the model in LM Studio with a larger "
            "context length."
        )


def classify(error: BaseException) -> ErrorKind:
    """Which kind of failure ``error`` is, as far as routing is concerned."""
    import openai

    if isinstance(error, QueueTimeout):
        return ErrorKind.QUEUE_TIMEOUT
    if isinstance(error, BreakerOpen):
        return ErrorKind.BREAKER_OPEN
    if isinstance(error, openai.APITimeoutError | httpx.TimeoutException | TimeoutError):
        return ErrorKind.TIMEOUT
    if isinstance(error, openai.APIConnectionError | httpx.RequestError):
        return ErrorKind.CONNECTION
    if isinstance(error, openai.APIStatusError):
        text = _error_message(error).lower()
        status = error.status_code
        if NO_MODEL_LOADED_MARKER in text:
            return ErrorKind.NO_MODEL
        if any(marker in text for marker in _CONTEXT_MARKERS):
            return ErrorKind.CONTEXT
        if status == 429:
            return ErrorKind.RATE_LIMIT
        if status in (408, 409) or status >= 500:
            return ErrorKind.SERVER
        if status in (401, 403):
            return ErrorKind.AUTH
        if status == 404:
            return ErrorKind.NOT_FOUND
        return ErrorKind.BAD_REQUEST
    if isinstance(error, openai.APIError):
        # In-band error events inside a stream carry no status; LM Studio sends them when a
        # prediction crashes, so treat them like a 5xx.
        text = str(error).lower()
        if any(marker in text for marker in _CONTEXT_MARKERS):
            return ErrorKind.CONTEXT
        return ErrorKind.SERVER
    if isinstance(error, asyncio.IncompleteReadError | ConnectionError):
        return ErrorKind.CONNECTION
    return ErrorKind.OTHER


def is_endpoint_failure(error: BaseException) -> bool:
    """Whether another endpoint might succeed (False: a bug in lmsa or the caller; re-raise)."""
    return isinstance(error, LLMUnavailable) or classify(error) is not ErrorKind.OTHER


def retry_after_seconds(error: BaseException) -> float | None:
    """The server's ``Retry-After`` (seconds form) on a 429/503, if it sent one."""
    response = getattr(error, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    for name in ("retry-after-ms", "retry-after"):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value)
        except ValueError:
            return None
        return seconds / 1000 if name == "retry-after-ms" else seconds
    return None


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
    import openai

    if isinstance(error, LLMUnavailable):
        return str(error)
    kind = classify(error)
    if kind is ErrorKind.TIMEOUT:
        return not_reachable_message(base_url, "timed out")
    if kind is ErrorKind.CONNECTION:
        return not_reachable_message(base_url, "connection failed")
    if kind is ErrorKind.AUTH:
        return (
            f"The LLM server at {base_url} refused the API key. Set LMSA_API_KEY to the token "
            "LM Studio shows under its server settings."
        )
    if isinstance(error, openai.APIStatusError):
        message = _error_message(error)
        if kind is ErrorKind.NO_MODEL:
            return no_model_message(base_url)
        if kind is ErrorKind.CONTEXT:
            return (
                f"The LLM server at {base_url} said the request does not fit the model's context "
                f"window ({message}). Load the model with a larger context length."
            )
        if kind is ErrorKind.RATE_LIMIT:
            return (
                f"The LLM server at {base_url} is overloaded (HTTP 429: {message}). Try again "
                "shortly."
            )
        if kind is ErrorKind.NOT_FOUND:
            return (
                f"The LLM server at {base_url} does not know the requested model ({message}). "
                "Set LMSA_MODEL to one that `lmsa doctor` lists."
            )
        return f"The LLM server at {base_url} answered HTTP {error.status_code}: {message}"
    if isinstance(error, openai.APIError):
        return f"The LLM server at {base_url} failed while answering: {error.message}"
    if kind is not ErrorKind.OTHER:
        return not_reachable_message(base_url, "the connection broke")
    return None


def _error_message(error: openai.APIStatusError) -> str:
    body = error.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return str(inner.get("message") or inner)
        return str(inner)
    return str(error.message)
