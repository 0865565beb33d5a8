"""Turns state into JSON for ``--json`` output and scripts."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import BaseMessage


def jsonable(value: Any) -> Any:
    if isinstance(value, BaseMessage):
        data: dict[str, Any] = {"type": value.type, "content": value.content}
        if value.id:
            data["id"] = value.id
        tool_calls = getattr(value, "tool_calls", None)
        if tool_calls:
            data["tool_calls"] = tool_calls
        return data
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
