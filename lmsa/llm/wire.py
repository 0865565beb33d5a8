"""The request path for whole (non-streamed) chat completions: one JSON body over httpx.

Why by hand: under load (``benchmarks/load.py``, 500 conversations on one instance) the openai
SDK's request pipeline is the largest share of lmsa's own event-loop time. It walks every
message through its TypedDict transform, builds a pydantic model of the reply, and
langchain-openai then hops to a thread to turn that model into a ``ChatResult``. None of it
adds anything for an OpenAI-compatible server that takes and returns plain JSON.

What stays shared with langchain-openai, so nothing about the wire format is reinvented:
``ChatOpenAI._get_request_payload`` builds the body (message conversion, tools,
``response_format``, ``max_completion_tokens``), ``ChatOpenAI._create_chat_result`` reads the
reply (tool calls, usage, finish reason), and HTTP errors are raised through the openai client's
own ``_make_status_error_from_response``, so the router classifies and words every failure
exactly as on the SDK path. The body is encoded before a queue slot is taken and the reply is
read after the slot is given back: a prediction slot is only held for the exchange itself.

Streams keep the SDK path (SSE parsing, in-band errors): their cost is spread over the tokens.
A payload that is not plain JSON (say, a pydantic class bound as ``response_format`` by a host
app) also goes the SDK way, which knows how to convert it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import httpx
import openai
from langchain_core.messages import AIMessage, BaseMessage
from langchain_openai import ChatOpenAI

from lmsa.llm.tls import ssl_context_for

SDK_ONLY = ("extra_body", "extra_headers", "extra_query", "timeout")
"""Call options the openai SDK merges into the request rather than sending as body fields."""


class WireClient:
    """Whole completions against one endpoint, sharing one connection pool."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        timeout: httpx.Timeout,
        max_connections: int,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self.http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/",
            headers=headers,
            timeout=timeout,
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            transport=transport,
            verify=ssl_context_for(base_url),
        )

    @staticmethod
    def encode(
        chat: ChatOpenAI,
        messages: Sequence[BaseMessage],
        stop: list[str] | None,
        params: dict[str, Any],
    ) -> bytes | None:
        """The request body, or None when only the SDK can send this payload."""
        if any(key in params for key in SDK_ONLY):
            return None
        payload = chat._get_request_payload(list(messages), stop=stop, **params)
        if "messages" not in payload:  # langchain-openai chose the Responses API
            return None
        payload.pop("stream", None)
        payload.pop("stream_options", None)
        try:
            return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        except (TypeError, ValueError):
            return None

    async def post(self, chat: ChatOpenAI, body: bytes) -> dict[str, Any]:
        """One exchange; HTTP errors come back as the openai SDK's exception classes."""
        response = await self.http.post("chat/completions", content=body)
        if response.status_code >= 400:
            raise chat.root_async_client._make_status_error_from_response(response)
        try:
            data = json.loads(response.content)
        except ValueError as error:
            raise _bad_body(response, "is not JSON") from error
        if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
            raise _bad_body(response, "has no choices")
        return data

    @staticmethod
    def decode(chat: ChatOpenAI, data: dict[str, Any]) -> AIMessage:
        """The reply as LangChain sees it; ``response_metadata`` carries the finish reason and
        model as ``BaseChatModel`` would have merged them in."""
        result = chat._create_chat_result(data)
        generation = result.generations[0]
        message = generation.message
        if not isinstance(message, AIMessage):
            message = AIMessage(content=message.content)
        metadata = dict(generation.generation_info or {})
        llm_output = result.llm_output or {}
        for key in ("model_name", "model_provider", "system_fingerprint"):
            if llm_output.get(key):
                metadata.setdefault(key, llm_output[key])
        message.response_metadata = {**metadata, **message.response_metadata}
        return message

    async def aclose(self) -> None:
        await self.http.aclose()


def _bad_body(response: httpx.Response, problem: str) -> openai.APIResponseValidationError:
    """A 2xx reply lmsa cannot read: the server misbehaved, so it counts like a 5xx."""
    return openai.APIResponseValidationError(
        response=response, body=response.text[:500], message=f"The reply body {problem}."
    )
