"""Unit tests of the LLM layer's parts that need no server: error classes, queue, breaker,
complexity routing, history trimming, cache keys and entries, candidate order."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

from lmsa.config import EndpointSettings, Settings
from lmsa.llm import LLMProvider
from lmsa.llm.breaker import Breakers
from lmsa.llm.cache import CachedReply, ResponseCache, cache_key
from lmsa.llm.complexity import FAST, MAIN, approx_tokens, choose_role
from lmsa.llm.core import RouterCore
from lmsa.llm.endpoints import build_endpoints
from lmsa.llm.errors import (
    RETRYABLE,
    AllEndpointsFailed,
    Attempt,
    ErrorKind,
    QueueTimeout,
    classify,
    describe_llm_error,
    retry_after_seconds,
)
from lmsa.llm.queue import SlotQueue
from lmsa.llm.trimming import TRIM_NOTE, trim_history
from lmsa.testing import ScriptedChatModel

URL = "http://127.0.0.1:9/v1"


def status_error(status: int, message: str, headers: dict[str, str] | None = None) -> Exception:
    request = httpx.Request("POST", f"{URL}/chat/completions")
    response = httpx.Response(status, headers=headers or {}, request=request)
    body = {"error": {"message": message}}
    classes: dict[int, type[openai.APIStatusError]] = {
        400: openai.BadRequestError,
        401: openai.AuthenticationError,
        404: openai.NotFoundError,
        422: openai.UnprocessableEntityError,
        429: openai.RateLimitError,
    }
    cls = classes.get(status, openai.InternalServerError)
    return cls(message, response=response, body=body)


# ---- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (status_error(500, "boom"), ErrorKind.SERVER),
        (status_error(503, "busy"), ErrorKind.SERVER),
        (status_error(429, "slow down"), ErrorKind.RATE_LIMIT),
        (status_error(400, "No models loaded. Please load a model"), ErrorKind.NO_MODEL),
        (status_error(404, "No models loaded."), ErrorKind.NO_MODEL),
        (status_error(400, "context length of only 4096 tokens"), ErrorKind.CONTEXT),
        (status_error(400, "bad field"), ErrorKind.BAD_REQUEST),
        (status_error(401, "key"), ErrorKind.AUTH),
        (status_error(404, "no such model"), ErrorKind.NOT_FOUND),
        (status_error(422, "unprocessable"), ErrorKind.BAD_REQUEST),
        (httpx.ConnectError("refused"), ErrorKind.CONNECTION),
        (httpx.RemoteProtocolError("cut"), ErrorKind.CONNECTION),
        (TimeoutError(), ErrorKind.TIMEOUT),
        (ValueError("a bug"), ErrorKind.OTHER),
    ],
)
def test_errors_are_classified(error: Exception, kind: ErrorKind) -> None:
    assert classify(error) is kind


def test_only_transient_kinds_are_retried() -> None:
    assert {ErrorKind.CONNECTION, ErrorKind.TIMEOUT, ErrorKind.RATE_LIMIT, ErrorKind.SERVER} == (
        RETRYABLE
    )


def test_retry_after_is_read() -> None:
    assert retry_after_seconds(status_error(429, "x", {"retry-after": "2"})) == 2.0
    assert retry_after_seconds(status_error(429, "x", {"retry-after-ms": "150"})) == 0.15
    assert retry_after_seconds(status_error(429, "x")) is None


def test_user_messages_name_the_server_and_the_fix() -> None:
    no_model = describe_llm_error(status_error(400, "No models loaded."), URL)
    assert no_model and URL in no_model and "lms load" in no_model
    assert describe_llm_error(ValueError("bug"), URL) is None
    failed = AllEndpointsFailed(
        [
            Attempt("a", "http://a/v1", ErrorKind.SERVER, "A failed."),
            Attempt("b", "http://b/v1", ErrorKind.CONNECTION, "B failed."),
        ]
    )
    assert str(failed) == "All 2 LLM endpoints failed: [a] A failed. [b] B failed."
    single = AllEndpointsFailed([Attempt("a", "http://a/v1", ErrorKind.SERVER, "A failed.")] * 3)
    assert str(single) == "A failed."


# ---- queue ----------------------------------------------------------------------------------


async def test_queue_serves_interactive_before_background() -> None:
    queue = SlotQueue("q", 1)
    await queue.acquire(0, "c", 1)
    order: list[str] = []

    async def wait(name: str, priority: int) -> None:
        await queue.acquire(priority, name, 5)
        order.append(name)
        queue.release()

    background = asyncio.create_task(wait("background", 1))
    await asyncio.sleep(0)
    interactive = asyncio.create_task(wait("interactive", 0))
    await asyncio.sleep(0)
    queue.release()
    await asyncio.gather(background, interactive)
    assert order == ["interactive", "background"]
    assert queue.active == 0


async def test_queue_is_fair_across_conversations() -> None:
    queue = SlotQueue("q", 1)
    await queue.acquire(0, "busy", 1)
    order: list[str] = []

    async def wait(conversation: str, label: str) -> None:
        await queue.acquire(0, conversation, 5)
        order.append(label)
        queue.release()

    tasks = []
    for label in ("busy-1", "busy-2", "busy-3"):
        tasks.append(asyncio.create_task(wait("busy", label)))
        await asyncio.sleep(0)
    tasks.append(asyncio.create_task(wait("quiet", "quiet-1")))
    await asyncio.sleep(0)
    queue.release()
    await asyncio.gather(*tasks)
    assert order == ["busy-1", "quiet-1", "busy-2", "busy-3"]


async def test_queue_timeout_raises_and_leaks_no_slot() -> None:
    queue = SlotQueue("q", 1)
    await queue.acquire(0, "c", 1)
    with pytest.raises(QueueTimeout, match="busy"):
        await queue.acquire(0, "c", 0.01)
    assert queue.waiting == 0
    queue.release()
    assert queue.active == 0
    await queue.acquire(0, "c", 0.01)  # the slot is free again
    assert queue.active == 1


async def test_cancelled_waiter_leaves_the_queue() -> None:
    queue = SlotQueue("q", 1)
    await queue.acquire(0, "c", 1)
    waiter = asyncio.create_task(queue.acquire(0, "c", 5))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    queue.release()
    assert (queue.active, queue.waiting) == (0, 0)


# ---- breaker --------------------------------------------------------------------------------


async def _fail(breakers: Breakers, name: str, error: Exception) -> None:
    with pytest.raises(type(error)):
        async with breakers.guard(name):
            raise error


async def test_breaker_opens_after_consecutive_endpoint_failures_only() -> None:
    breakers = Breakers(threshold=2, cooldown=60, half_open_probes=1)
    await _fail(breakers, "e", status_error(400, "bad field"))
    await _fail(breakers, "e", status_error(400, "bad field"))
    assert await breakers.state("e") == "closed"  # bad requests say nothing about health
    await _fail(breakers, "e", status_error(500, "boom"))
    assert await breakers.allows("e")
    await _fail(breakers, "e", httpx.ConnectError("refused"))
    assert await breakers.state("e") == "opened"
    assert not await breakers.allows("e")


async def test_half_open_admits_a_limited_number_of_probes() -> None:
    breakers = Breakers(threshold=1, cooldown=0.05, half_open_probes=1)
    await _fail(breakers, "e", status_error(500, "boom"))
    await asyncio.sleep(0.06)
    assert await breakers.state("e") == "half-opened"
    release = asyncio.Event()

    async def probe() -> None:
        async with breakers.guard("e"):
            await release.wait()

    task = asyncio.create_task(probe())
    await asyncio.sleep(0.01)
    assert not await breakers.allows("e")  # one probe is in flight
    release.set()
    await task
    assert await breakers.state("e") == "closed"


async def test_requests_that_entered_before_the_first_failure_still_count() -> None:
    # In memory the breaker is only created by a failure; requests already under way when it
    # is created end on it as if it had existed when they started.
    breakers = Breakers(threshold=2, cooldown=60, half_open_probes=1)
    release = asyncio.Event()

    async def call(error: Exception | None) -> None:
        async with breakers.guard("e"):
            await release.wait()
            if error is not None:
                raise error

    first = asyncio.create_task(call(status_error(500, "boom")))
    second = asyncio.create_task(call(None))
    third = asyncio.create_task(call(httpx.ConnectError("refused")))
    await asyncio.sleep(0.01)
    assert await breakers.state("e") == "closed"
    release.set()
    results = await asyncio.gather(first, second, third, return_exceptions=True)
    assert [type(r).__name__ for r in results] == [
        "InternalServerError",
        "NoneType",
        "ConnectError",
    ]
    # failure, then a success that resets the count, then one failure: still closed
    assert await breakers.state("e") == "closed"
    await _fail(breakers, "e", status_error(500, "boom"))
    assert await breakers.state("e") == "opened"


# ---- complexity routing ---------------------------------------------------------------------


def _fmt(name: str) -> dict[str, Any]:
    return {"response_format": {"type": "json_schema", "json_schema": {"name": name}}}


@pytest.mark.parametrize(
    ("text", "params", "role"),
    [
        ("hi there", {}, FAST),
        ("classify me", _fmt("IntentResult"), FAST),
        ("check", _fmt("Validation"), FAST),
        ("plan it", _fmt("Plan"), MAIN),
        ("hi", {"tools": [{"type": "function"}]}, MAIN),
        ("a" * 1000, {}, MAIN),
        ("look:\n```py\nx=1\n```", {}, MAIN),
    ],
)
def test_role_follows_the_request_shape(text: str, params: dict[str, Any], role: str) -> None:
    messages = [HumanMessage(content=text)]
    tokens = approx_tokens(messages)
    assert choose_role(messages, params, ["IntentResult", "Validation"], tokens) == role


# ---- trimming -------------------------------------------------------------------------------


def test_trim_keeps_system_prompt_and_current_turn() -> None:
    messages = [
        SystemMessage(content="system"),
        *[HumanMessage(content=f"old {i} " * 100) for i in range(6)],
        AIMessage(content="", tool_calls=[{"name": "t", "args": {}, "id": "1"}]),
        ToolMessage(content="result", tool_call_id="1"),
        HumanMessage(content="now"),
    ]
    trimmed = trim_history(messages, budget=approx_tokens(messages[:1]) + 400)
    assert trimmed[0].content == "system"
    assert trimmed[1].content == TRIM_NOTE
    assert trimmed[-1].content == "now"
    assert approx_tokens(trimmed) <= approx_tokens(messages[:1]) + 400
    assert not any(isinstance(m, ToolMessage) for m in trimmed[2:3])
    halved = trim_history(messages, budget=None)
    assert len(halved) < len(messages) + 1


# ---- cache ----------------------------------------------------------------------------------


def test_cache_key_covers_model_messages_schema_tools_and_params() -> None:
    messages = [HumanMessage(content="x")]
    base = cache_key("m", messages, {"temperature": 0})
    assert base == cache_key("m", [HumanMessage(content="x")], {"temperature": 0})
    assert base != cache_key("other", messages, {"temperature": 0})
    assert base != cache_key("m", [HumanMessage(content="y")], {"temperature": 0})
    assert base != cache_key("m", messages, {"temperature": 0, **_fmt("Plan")})
    assert base != cache_key("m", messages, {"temperature": 0, "tools": [{"n": 1}]})
    assert base != cache_key("m", messages, {"temperature": 0.5})


def test_cached_reply_round_trips_and_replays() -> None:
    message = AIMessage(
        content="", tool_calls=[{"name": "f", "args": {"a": 1}, "id": "c1", "type": "tool_call"}]
    )
    reply = CachedReply.loads(CachedReply(message).dumps())
    assert reply.message.tool_calls[0]["args"] == {"a": 1}
    (chunk,) = reply.replay()
    assert chunk.tool_call_chunks[0]["name"] == "f"
    streamed = CachedReply(
        AIMessage(content="a b"), (AIMessageChunk(content="a "), AIMessageChunk(content="b"))
    )
    assert [c.content for c in CachedReply.loads(streamed.dumps()).replay()] == ["a ", "b"]


async def test_single_flight_runs_once_for_concurrent_callers() -> None:
    cache = ResponseCache(size=8, ttl=60)
    calls = 0

    async def compute() -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return "value"

    results = await asyncio.gather(*(cache.single_flight("k", compute) for _ in range(5)))
    assert results == ["value"] * 5 and calls == 1


async def test_memory_cache_hits() -> None:
    cache = ResponseCache(size=8, ttl=60)
    assert await cache.get("k") is None
    await cache.put("k", CachedReply(AIMessage(content="v")))
    hit = await cache.get("k")
    assert hit is not None and hit.copy_message().content == "v"


# ---- registry and order ---------------------------------------------------------------------


def test_legacy_settings_and_endpoint_records(tmp_path: Path) -> None:
    legacy = Settings(
        workspace=tmp_path,
        base_url="http://a/v1",
        model="m",
        fallbacks=[EndpointSettings(base_url="http://b/v1")],
    )
    names = [(e.name, e.base_url, e.resolved_model) for e in build_endpoints(legacy)]
    assert names == [("primary", "http://a/v1", "m"), ("fallback1", "http://b/v1", None)]
    records = Settings(
        workspace=tmp_path,
        endpoints=[EndpointSettings(base_url="http://c/v1", name="c", roles=["fast"])],
        llm_max_concurrency=2,
    )
    (only,) = build_endpoints(records)
    assert (only.name, only.roles, only.max_concurrency) == ("c", frozenset({"fast"}), 2)


def _core(tmp_path: Path, strategy: str, *records: EndpointSettings) -> RouterCore:
    settings = Settings(workspace=tmp_path, endpoints=list(records), routing_strategy=strategy)  # type: ignore[arg-type]
    return RouterCore(settings, build_endpoints(settings))


def test_least_busy_and_unhealthy_last(tmp_path: Path) -> None:
    a = EndpointSettings(base_url="http://a/v1", model="m", name="a")
    b = EndpointSettings(base_url="http://b/v1", model="m", name="b")
    core = _core(tmp_path, "least_busy", a, b)
    core.slots["a"].active = 3
    assert [e.name for e in core.order(MAIN)] == ["b", "a"]
    core.endpoints[1].healthy = False
    assert [e.name for e in core.order(MAIN)] == ["a", "b"]


def test_fast_role_falls_back_to_main_endpoints(tmp_path: Path) -> None:
    main = EndpointSettings(base_url="http://a/v1", model="m", name="main")
    fast = EndpointSettings(base_url="http://b/v1", model="m", name="fast", roles=["fast"])
    core = _core(tmp_path, "priority", main, fast)
    assert [e.name for e in core.order(FAST)] == ["fast", "main"]
    assert [e.name for e in core.order(MAIN)] == ["main", "fast"]


async def test_custom_model_is_used_directly(tmp_path: Path) -> None:
    llm = ScriptedChatModel(script={"text": ["hi"]})
    provider = LLMProvider(Settings(workspace=tmp_path), chat_model=llm)
    assert await provider.model(role="fast") is llm
