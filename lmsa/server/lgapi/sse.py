"""A run's LangGraph stream items as the Server-Sent Events langgraph_sdk parses: ``event:
<mode>`` and ``data: <json>``; ``messages-tuple`` requested gives ``messages`` events with
``[message chunk, metadata]``, ``messages`` requested gives ``messages/metadata`` (once per
message), ``messages/partial`` (the message so far) and ``messages/complete``."""

from __future__ import annotations

import json
from typing import Any

from langchain_core.messages import BaseMessage, BaseMessageChunk

from lmsa.security.layer import SecurityLayer
from lmsa.server.lgapi.interrupts import shown_interrupt
from lmsa.server.lgapi.views import jsonable, message_view, unstored, values_view
from lmsa.server.views import redacted

SUPPORTED = {"values", "updates", "messages", "messages-tuple", "custom"}
"""Stream modes served; others a client asks for (``debug``, ``events``, ``tasks``,
``checkpoints``) are accepted and send nothing."""


def requested_modes(stream_mode: list[str] | str | None) -> list[str]:
    modes = [stream_mode] if isinstance(stream_mode, str) else list(stream_mode or ["values"])
    return [mode for mode in dict.fromkeys(modes) if mode in SUPPORTED]


def graph_modes(requested: list[str]) -> list[str]:
    """The LangGraph stream modes that produce the requested API modes (``values`` always:
    it carries the run's outcome)."""
    modes = {"messages" if mode == "messages-tuple" else mode for mode in requested}
    modes.add("values")
    return sorted(modes)


def frame(event: str, data: Any) -> dict[str, str]:
    return {"event": event, "data": json.dumps(data, ensure_ascii=False, default=str)}


class Framer:
    """Turns one run's stream items into ``(event, data)`` pairs."""

    def __init__(
        self, requested: list[str], security: SecurityLayer, stored: str, shown: str
    ) -> None:
        self.requested = set(requested)
        self.security = security
        self.stored = stored
        self.shown = shown
        self.messages: dict[str, BaseMessage] = {}
        self.last_values: Any = None
        self.interrupts: list[Any] = []

    def frames(self, mode: str, chunk: Any) -> list[tuple[str, Any]]:
        if mode == "values":
            shown = values_view(chunk, self.security)
            if isinstance(shown, dict) and "__interrupt__" in shown:
                self.interrupts.extend(shown["__interrupt__"])
            else:
                self.last_values = shown
            return [("values", shown)] if "values" in self.requested else []
        if mode == "updates":
            return [("updates", self._update(chunk))] if "updates" in self.requested else []
        if mode == "custom":
            return [("custom", redacted(jsonable(chunk), self.security))]
        if mode == "messages":
            return self._messages(chunk)
        return []

    def _update(self, chunk: Any) -> Any:
        if not isinstance(chunk, dict):
            return redacted(jsonable(chunk), self.security)
        shown: dict[str, Any] = {}
        for node, update in chunk.items():
            if node == "__interrupt__":
                items = update if isinstance(update, list | tuple) else [update]
                shown[node] = redacted(jsonable([shown_interrupt(i) for i in items]), self.security)
            else:
                shown[node] = values_view(update, self.security)
        return shown

    def _metadata(self, metadata: Any) -> Any:
        return unstored(redacted(jsonable(metadata), self.security), self.stored, self.shown)

    def _messages(self, chunk: Any) -> list[tuple[str, Any]]:
        message, metadata = chunk
        out: list[tuple[str, Any]] = []
        if "messages-tuple" in self.requested:
            out.append(
                ("messages", [message_view(message, self.security), self._metadata(metadata)])
            )
        if "messages" not in self.requested or not isinstance(message, BaseMessage):
            return out
        key = str(message.id)
        if key in self.messages and isinstance(message, BaseMessageChunk):
            self.messages[key] = self.messages[key] + message  # type: ignore[operator,assignment]
        else:
            if key not in self.messages:
                out.append(("messages/metadata", {key: {"metadata": self._metadata(metadata)}}))
            self.messages[key] = message
        event = "messages/partial" if isinstance(message, BaseMessageChunk) else "messages/complete"
        out.append((event, [message_view(self.messages[key], self.security)]))
        return out

    def wait_result(self, error: dict[str, Any] | None) -> Any:
        """What ``runs/wait`` answers: the error, the interrupts, else the last values."""
        if error is not None:
            return {"__error__": error}
        if self.interrupts:
            return {"__interrupt__": self.interrupts}
        return self.last_values if self.last_values is not None else {}
