"""What a thread's state may show over HTTP. The checkpoint keeps every tool's raw output (the
planner and validator need it), but a state view is read by whoever holds the API key, often a
browser or a log: tool output stays out of it, and every string passes the same credential
redaction the answer's output guard applies."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import BaseMessage
from pydantic_core import to_jsonable_python

from lmsa.security.layer import SecurityLayer
from lmsa.server.schemas import MessageOut

_RAW_OUTPUT = ("output", "full_output")


def redacted(value: Any, security: SecurityLayer) -> Any:
    """``value`` (JSON-like) with credentials in every string replaced by markers."""
    if isinstance(value, str):
        return security.redact_secrets(value)
    if isinstance(value, list):
        return [redacted(item, security) for item in value]
    if isinstance(value, dict):
        return {key: redacted(item, security) for key, item in value.items()}
    return value


def state_values(values: dict[str, Any], security: SecurityLayer) -> dict[str, Any]:
    """The state's non-message values, without tool output (``withheld`` marks where it was)."""
    shown = to_jsonable_python(values, fallback=str)
    results = shown.get("results")
    if isinstance(results, list):
        shown["results"] = [_without_output(result) for result in results]
    return redacted(shown, security)  # type: ignore[no-any-return]


def _without_output(result: Any) -> Any:
    if not isinstance(result, dict):
        return result
    kept = {key: item for key, item in result.items() if key not in _RAW_OUTPUT}
    if len(kept) != len(result):
        kept["output_withheld"] = True
    return kept


def message_out(message: Any, security: SecurityLayer) -> MessageOut:
    if isinstance(message, BaseMessage):
        content = redacted(to_jsonable_python(message.content, fallback=str), security)
        return MessageOut(type=message.type, content=content, id=message.id)
    return MessageOut(
        type="unknown", content=redacted(to_jsonable_python(message, fallback=str), security)
    )
