"""A scripted chat model for tests of lmsa and of apps that embed it.

LangChain's built-in fakes raise on ``bind_tools`` and know nothing of ``response_format``, so
they cannot drive a graph whose nodes ask for JSON by schema. :class:`ScriptedChatModel` answers
each call from a queue chosen by the requested schema's name (``"IntentResult"``, ``"Plan"``,
``"Validation"``; ``"text"`` for free text), records every call, and streams text word by word.
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from lmsa.llm.replies import structured_output

Reply = str | dict[str, Any] | list[Any] | BaseMessage | Exception
ReplyFactory = Callable[[Sequence[BaseMessage], dict[str, Any]], Reply]


class ScriptedChatModel(BaseChatModel):
    """Replies come from ``script[key]`` in order; the last reply repeats once a queue runs dry.

    ``key`` is the JSON schema name of the request's ``response_format`` or ``"text"``. A reply
    may be a string, a dict/list (sent as JSON), an ``AIMessage`` (e.g. with ``tool_calls``), an
    exception (raised), or a callable ``(messages, kwargs) -> reply``.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    script: dict[str, list[Any]] = Field(default_factory=dict)
    model_name: str = "scripted"
    calls: list[dict[str, Any]] = Field(default_factory=list)
    _positions: dict[str, int] = PrivateAttr(default_factory=dict)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        return self.bind(tools=list(tools), tool_choice=tool_choice, **kwargs)

    def with_structured_output(  # type: ignore[override]
        self, schema: type[BaseModel], *, include_raw: bool = False, **kwargs: Any
    ) -> Runnable[LanguageModelInput, Any]:
        """The same path lmsa uses against LM Studio: ``response_format`` + JSON parsing."""
        return structured_output(self, schema, include_raw=include_raw)

    def calls_for(self, key: str) -> list[dict[str, Any]]:
        return [call for call in self.calls if call["key"] == key]

    # -- scripting -------------------------------------------------------------------------

    @staticmethod
    def key_of(kwargs: dict[str, Any]) -> str:
        response_format = kwargs.get("response_format")
        if isinstance(response_format, dict):
            named = response_format.get("json_schema") or {}
            if isinstance(named, dict) and named.get("name"):
                return str(named["name"])
            schema = response_format.get("schema") or {}
            if isinstance(schema, dict) and schema.get("title"):
                return str(schema["title"])
        return "text"

    def _next_reply(self, messages: Sequence[BaseMessage], kwargs: dict[str, Any]) -> AIMessage:
        key = self.key_of(kwargs)
        with self._lock:
            queue = self.script.get(key)
            if not queue:
                raise LookupError(f"ScriptedChatModel has no reply scripted for {key!r}")
            position = self._positions.get(key, 0)
            reply = queue[min(position, len(queue) - 1)]
            self._positions[key] = position + 1
            self.calls.append({"key": key, "messages": list(messages), "kwargs": dict(kwargs)})
        if callable(reply) and not isinstance(reply, BaseMessage):
            reply = reply(messages, kwargs)
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, AIMessage):
            return reply
        if isinstance(reply, BaseMessage):
            return AIMessage(content=reply.content)
        if isinstance(reply, dict | list):
            return AIMessage(content=json.dumps(reply))
        return AIMessage(content=str(reply))

    # -- BaseChatModel ---------------------------------------------------------------------

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._next_reply(messages, kwargs))])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return self._generate(messages, stop, None, **kwargs)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        message = self._next_reply(messages, kwargs)
        for chunk in _chunks(message):
            if run_manager:
                run_manager.on_llm_new_token(str(chunk.message.content), chunk=chunk)
            yield chunk

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        message = self._next_reply(messages, kwargs)
        for chunk in _chunks(message):
            if run_manager:
                await run_manager.on_llm_new_token(str(chunk.message.content), chunk=chunk)
            yield chunk


def _chunks(message: AIMessage) -> list[ChatGenerationChunk]:
    text = message.content if isinstance(message.content, str) else json.dumps(message.content)
    words = text.split(" ")
    pieces = [w if i == len(words) - 1 else w + " " for i, w in enumerate(words)] if text else [""]
    chunks = [ChatGenerationChunk(message=AIMessageChunk(content=piece)) for piece in pieces]
    if message.tool_calls:
        chunks.append(
            ChatGenerationChunk(
                message=AIMessageChunk(
                    content="",
                    tool_call_chunks=[
                        {
                            "name": call["name"],
                            "args": json.dumps(call["args"]),
                            "id": call.get("id"),
                            "index": i,
                        }
                        for i, call in enumerate(message.tool_calls)
                    ],
                )
            )
        )
    return chunks
