"""One routed call as the router's parts see it, prepared once per call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from langchain_core.messages import BaseMessage


@dataclass
class Request:
    """One routed call, prepared once."""

    messages: list[BaseMessage]
    stop: list[str] | None
    params: dict[str, Any]
    role: str
    priority: int
    conversation: str
    tokens: int
    cache_key: str | None
    buffered: bool  # JSON/tool calls: delivered whole, so requested whole even when streamed
