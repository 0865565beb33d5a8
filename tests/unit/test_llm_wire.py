"""The hand-sent completion path must fail exactly like the openai SDK would, so routing (retry,
fall back, breaker) and the messages people read do not depend on which path a call took."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest
from langchain_core.messages import HumanMessage
from langchain_openai import ChatOpenAI
from pydantic import BaseModel

from lmsa.config import Settings
from lmsa.llm.clients import SDK_FIELDS, Clients, DeferredSDK, make_chat_openai
from lmsa.llm.endpoints import build_endpoints
from lmsa.llm.errors import ErrorKind, classify, describe_llm_error, retry_after_seconds
from lmsa.llm.wire import WireClient

BASE = "http://llm.test/v1"
REPLY = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "model": "m",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "length"}
    ],
    "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
}


def chat() -> ChatOpenAI:
    # No socket-option probe (it opens a socket, which unit tests forbid).
    return ChatOpenAI(
        base_url=BASE,
        api_key="secret",
        model="m",
        max_retries=0,
        http_socket_options=(),  # type: ignore[arg-type]
    )


def wire(handler: Any) -> WireClient:
    return WireClient(
        BASE,
        "secret",
        httpx.Timeout(5.0),
        max_connections=4,
        transport=httpx.MockTransport(handler),
    )


def body_of(model: ChatOpenAI, **params: Any) -> bytes:
    body = WireClient.encode(model, [HumanMessage(content="hello")], None, params)
    assert body is not None
    return body


async def test_a_reply_is_read_as_langchain_reads_it() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=REPLY)

    model = chat()
    client = wire(handler)
    message = WireClient.decode(model, await client.post(model, body_of(model, max_tokens=7)))
    await client.aclose()

    assert message.content == "hi"
    usage = message.usage_metadata or {}
    assert (usage["input_tokens"], usage["output_tokens"], usage["total_tokens"]) == (5, 1, 6)
    assert message.response_metadata["finish_reason"] == "length"
    assert message.response_metadata["model_name"] == "m"
    (request,) = seen
    assert str(request.url) == f"{BASE}/chat/completions"
    assert request.headers["authorization"] == "Bearer secret"
    sent = json.loads(request.content)
    assert sent["messages"] == [{"role": "user", "content": "hello"}]
    assert sent["max_completion_tokens"] == 7 and "stream" not in sent


@pytest.mark.parametrize(
    ("status", "payload", "headers", "error_class", "kind"),
    [
        (
            400,
            {"error": {"message": "No models loaded. Please load a model."}},
            {},
            openai.BadRequestError,
            ErrorKind.NO_MODEL,
        ),
        (
            400,
            {"error": {"message": "The context length of 4096 was exceeded"}},
            {},
            openai.BadRequestError,
            ErrorKind.CONTEXT,
        ),
        (401, {"error": {"message": "bad key"}}, {}, openai.AuthenticationError, ErrorKind.AUTH),
        (404, {"error": {"message": "no model"}}, {}, openai.NotFoundError, ErrorKind.NOT_FOUND),
        (
            429,
            {"error": {"message": "busy"}},
            {"Retry-After": "3"},
            openai.RateLimitError,
            ErrorKind.RATE_LIMIT,
        ),
        (503, {"error": {"message": "down"}}, {}, openai.InternalServerError, ErrorKind.SERVER),
    ],
)
async def test_http_errors_are_the_sdks_errors(
    status: int,
    payload: dict[str, Any],
    headers: dict[str, str],
    error_class: type,
    kind: ErrorKind,
) -> None:
    model = chat()
    client = wire(lambda request: httpx.Response(status, json=payload, headers=headers))
    with pytest.raises(error_class) as raised:
        await client.post(model, body_of(model))
    await client.aclose()
    assert classify(raised.value) is kind
    assert describe_llm_error(raised.value, BASE)
    if headers:
        assert retry_after_seconds(raised.value) == 3.0


@pytest.mark.parametrize("content", [b"<html>proxy error</html>", b'{"object": "error"}'])
async def test_an_unreadable_success_counts_as_a_server_fault(content: bytes) -> None:
    model = chat()
    client = wire(lambda request: httpx.Response(200, content=content))
    with pytest.raises(openai.APIResponseValidationError) as raised:
        await client.post(model, body_of(model))
    await client.aclose()
    assert classify(raised.value) is ErrorKind.SERVER


async def test_a_refused_connection_is_a_connection_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    model = chat()
    client = wire(handler)
    with pytest.raises(httpx.ConnectError) as raised:
        await client.post(model, body_of(model))
    await client.aclose()
    assert classify(raised.value) is ErrorKind.CONNECTION


class Answer(BaseModel):
    text: str


def test_payloads_only_the_sdk_can_send_are_left_to_it() -> None:
    model = chat()
    messages = [HumanMessage(content="hello")]
    assert WireClient.encode(model, messages, None, {"response_format": Answer}) is None
    assert WireClient.encode(model, messages, None, {"extra_body": {"top_k": 5}}) is None
    plain = {"type": "json_schema", "json_schema": {"name": "Answer", "schema": {}}}
    assert WireClient.encode(model, messages, ["\n"], {"response_format": plain}) is not None


def test_every_httpx_request_error_is_a_connection_failure() -> None:
    """The SDK wraps them all as APIConnectionError; undecodable or redirect-looping replies
    must fall back too, not end the turn."""
    request = httpx.Request("POST", f"{BASE}/chat/completions")
    for error in (
        httpx.DecodingError("bad gzip", request=request),
        httpx.TooManyRedirects("loop", request=request),
    ):
        assert classify(error) is ErrorKind.CONNECTION


def test_the_routers_chat_model_builds_its_sdk_clients_only_when_they_are_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LANGCHAIN_OPENAI_TCP_KEEPALIVE", "0")  # no socket-option probe
    settings = Settings(base_url=BASE, api_key="secret", model="m", endpoints=[], fallbacks=[])
    (endpoint,) = build_endpoints(settings)
    endpoint.resolved_model = "m"
    model = Clients(settings).chat(endpoint)
    plain = make_chat_openai(endpoint, "m", settings)

    assert body_of(model, max_tokens=7) == body_of(plain, max_tokens=7)
    stand_ins = [getattr(model, field) for field in SDK_FIELDS]
    assert all(isinstance(stand_in, DeferredSDK) for stand_in in stand_ins)
    assert not stand_ins[0]._twin  # encoding a body needed no SDK client

    root = model.root_async_client.resolve()
    assert isinstance(root, openai.AsyncOpenAI)
    assert (root.base_url, root.api_key, root.max_retries) == (
        plain.root_async_client.base_url,
        plain.root_async_client.api_key,
        0,
    )
    assert model.async_client.resolve() is root.chat.completions
    assert model.async_client.create == root.chat.completions.create
    assert isinstance(model.root_client.resolve(), openai.OpenAI)
    assert len(stand_ins[0]._twin) == 1  # one twin for the four
