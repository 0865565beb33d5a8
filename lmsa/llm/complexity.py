"""Which role (``fast`` or ``main``) a request needs, decided without asking an LLM.

The decision uses only the request's shape: what schema it asks for (classification and
self-check schemas are small, closed questions), whether tools are bound (tool use needs the
stronger model), how long the prompt is, and whether the last user message carries code. It is
cheap and memoised on those features, so it adds microseconds per call. A caller who knows
better passes ``role=`` and skips the analysis.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from functools import lru_cache
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage

FAST = "fast"
MAIN = "main"

SMALL_PROMPT_TOKENS = 600
SHORT_USER_CHARS = 280


def approx_tokens(messages: Sequence[BaseMessage], extra: Any = None) -> int:
    """A deliberately high estimate (3 characters per token, plus per-message framing): it only
    decides whether a prompt fits a window, where guessing low costs a failed request."""
    chars = 0
    for message in messages:
        content = message.content
        chars += len(content) if isinstance(content, str) else len(str(content))
        tool_calls = getattr(message, "tool_calls", None)
        if tool_calls:
            chars += len(str(tool_calls))
    if extra:
        chars += len(str(extra))
    return chars // 3 + 4 * len(messages)


def schema_name(params: dict[str, Any]) -> str | None:
    response_format = params.get("response_format")
    if isinstance(response_format, dict):
        named = response_format.get("json_schema")
        if isinstance(named, dict) and named.get("name"):
            return str(named["name"])
        schema = response_format.get("schema")
        if isinstance(schema, dict) and schema.get("title"):
            return str(schema["title"])
    return None


def choose_role(
    messages: Sequence[BaseMessage],
    params: dict[str, Any],
    fast_schemas: Collection[str],
    prompt_tokens: int,
) -> str:
    last_user = next((m for m in reversed(messages) if isinstance(m, HumanMessage)), None)
    text = last_user.content if last_user is not None else ""
    return _role(
        schema_name(params),
        bool(params.get("tools")),
        prompt_tokens,
        text if isinstance(text, str) else str(text),
        frozenset(fast_schemas),
    )


@lru_cache(maxsize=4096)
def _role(
    schema: str | None,
    has_tools: bool,
    prompt_tokens: int,
    last_user: str,
    fast_schemas: frozenset[str],
) -> str:
    if has_tools:
        return MAIN
    if schema is not None:
        return FAST if schema in fast_schemas else MAIN
    # Free text: small talk and short questions over a small prompt.
    if prompt_tokens > SMALL_PROMPT_TOKENS or len(last_user) > SHORT_USER_CHARS:
        return MAIN
    if "```" in last_user or last_user.count("\n") > 3:
        return MAIN
    return FAST
