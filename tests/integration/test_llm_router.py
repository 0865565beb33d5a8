"""The routed LLM layer against real HTTP servers on loopback that inject faults by script.

Every test asserts what each server actually saw (chat requests counted by the stub), so a retry
that did not happen, or one too many, fails the test.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel

from lmsa.config import EndpointSettings, Settings
from lmsa.llm import AllEndpointsFailed, LLMProvider, LLMUnavailable, QueueTimeout
from lmsa.llm.errors import ErrorKind
from lmsa.llm.streaming import CONTINUE_PROMPT
from lmsa.llm.structured import ainvoke_structured
from lmsa.llm.trimming import TRIM_NOTE
from lmsa.observability.metrics import REGISTRY
from tests.integration.helpers import ask, closed_port_url
from tests.stubs.lmstudio import NO_MODELS_LOADED_MESSAGE, LMStudioStub

pytestmark = pytest.mark.integration

FAST_RETRIES = {"llm_retry_base_delay": 0.01, "llm_retry_max_delay": 0.05}


def endpoint(url: str, **fields: Any) -> EndpointSettings:
    return EndpointSettings(base_url=url, model="test-model", **fields)


def settings(*endpoints: EndpointSettings, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "endpoints": list(endpoints),
        "max_retries": 2,
        "llm_health_interval": 0,
        **FAST_RETRIES,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
async def stubs() -> AsyncIterator[tuple[LMStudioStub, LMStudioStub]]:
    async with (
        LMStudioStub({"text": ["primary says hi"]}) as a,
        LMStudioStub({"text": ["backup says hi"]}) as b,
    ):
        yield a, b


async def stream_text(provider: LLMProvider, text: str = "hello") -> list[str]:
    model = await provider.model()
    return [str(chunk.content) async for chunk in model.astream([HumanMessage(content=text)])]


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


# ---- retries on one endpoint ------------------------------------------------------------------


async def test_5xx_burst_is_retried_on_the_same_endpoint(stubs: Any) -> None:
    a, b = stubs
    a.set_scenario({"text": [{"status": 500}, {"status": 503}, "recovered"]})
    provider = LLMProvider(settings(endpoint(a.base_url), endpoint(b.base_url)))
    retries_before = sample("lmsa_llm_retries_total", endpoint="endpoint0", reason="server_error")

    reply = await ask(provider)

    assert reply.content == "recovered"
    assert (a.count(), b.count()) == (3, 0)
    after = sample("lmsa_llm_retries_total", endpoint="endpoint0", reason="server_error")
    assert after - retries_before == 2


async def test_5xx_burst_longer_than_the_retries_falls_back(stubs: Any) -> None:
    a, b = stubs
    a.set_scenario({"text": [{"status": 500}]})
    provider = LLMProvider(settings(endpoint(a.base_url), endpoint(b.base_url)))

    reply = await ask(provider)

    assert reply.content == "backup says hi"
    assert reply.response_metadata["lmsa_endpoint"] == "endpoint1"
    assert (a.count(), b.count()) == (3, 1)  # max_retries=2 -> 3 attempts, then the backup


async def test_timeout_is_honoured_retried_then_falls_back(stubs: Any) -> None:
    a, b = stubs
    a.set_scenario({"text": [{"content": "too late", "delay_ms": 3000}]})
    provider = LLMProvider(
        settings(endpoint(a.base_url), endpoint(b.base_url), request_timeout=0.3, max_retries=1)
    )

    reply = await ask(provider)

    assert reply.content == "backup says hi"
    assert (a.count(), b.count()) == (2, 1)


async def test_connection_reset_is_retried(stubs: Any) -> None:
    a, b = stubs
    a.set_scenario({"text": [{"reset": True}, "after the reset"]})
    provider = LLMProvider(settings(endpoint(a.base_url), endpoint(b.base_url)))

    reply = await ask(provider)

    assert reply.content == "after the reset"
    assert (a.count(), b.count()) == (2, 0)


async def test_429_retry_after_is_honoured_on_the_same_endpoint(stubs: Any) -> None:
    a, b = stubs
    a.set_scenario({"text": [{"status": 429, "retry_after": 0.2}, "after waiting"]})
    provider = LLMProvider(settings(endpoint(a.base_url), endpoint(b.base_url)))

    reply = await ask(provider)

    assert reply.content == "after waiting"
    assert (a.count(), b.count()) == (2, 0)


async def test_429_asking_too_long_a_wait_falls_back_at_once(stubs: Any) -> None:
    a, b = stubs
    a.set_scenario({"text": [{"status": 429, "retry_after": 120}]})
    provider = LLMProvider(
        settings(endpoint(a.base_url), endpoint(b.base_url), llm_retry_after_cap=5)
    )

    reply = await ask(provider)

    assert reply.content == "backup says hi"
    assert (a.count(), b.count()) == (1, 1)


@pytest.mark.parametrize("status", [400, 401, 404, 422])
async def test_client_errors_are_not_retried(stubs: Any, status: int) -> None:
    a, b = stubs
    a.set_scenario({"text": [{"status": status, "error": "scripted client error"}]})
    provider = LLMProvider(settings(endpoint(a.base_url), endpoint(b.base_url)))

    reply = await ask(provider)

    assert reply.content == "backup says hi"
    assert (a.count(), b.count()) == (1, 1)


async def test_no_models_loaded_is_not_retried_and_falls_back(stubs: Any) -> None:
    a, b = stubs
    a.set_scenario({"loaded": False, "text": ["unused"]})
    provider = LLMProvider(settings(endpoint(a.base_url), endpoint(b.base_url)))

    reply = await ask(provider)

    assert reply.content == "backup says hi"
    assert (a.count(), b.count()) == (1, 1)


async def test_no_models_loaded_everywhere_is_one_clear_message(stubs: Any) -> None:
    a, _ = stubs
    a.set_scenario({"loaded": False, "text": ["unused"]})
    provider = LLMProvider(settings(endpoint(a.base_url)))

    with pytest.raises(LLMUnavailable) as caught:
        await ask(provider)

    message = str(caught.value)
    assert "no model loaded" in message.lower() and a.base_url in message
    assert "\n" not in message
    assert a.count() == 1
    assert NO_MODELS_LOADED_MESSAGE not in message  # phrased for people, not echoed


# ---- context window -------------------------------------------------------------------------

OVERFLOW = {
    "status": 400,
    "error": "Trying to keep the first 9000 tokens when context the overflows. However, the "
    "model is loaded with context length of only 4096 tokens, which is not enough.",
}


async def test_context_overflow_falls_back_without_retry(stubs: Any) -> None:
    a, b = stubs
    a.set_scenario({"text": [OVERFLOW]})
    provider = LLMProvider(settings(endpoint(a.base_url), endpoint(b.base_url)))

    reply = await ask(provider)

    assert reply.content == "backup says hi"
    assert (a.count(), b.count()) == (1, 1)


async def test_known_small_window_is_skipped_without_a_request(stubs: Any) -> None:
    a, b = stubs
    provider = LLMProvider(
        settings(
            endpoint(a.base_url, context_window=2000),
            endpoint(b.base_url, context_window=100_000),
            llm_output_reserve=100,
        )
    )

    reply = await ask(provider, "word " * 3000)

    assert reply.content == "backup says hi"
    assert (a.count(), b.count()) == (0, 1)


async def test_history_is_trimmed_with_a_note_when_nothing_fits(stubs: Any) -> None:
    a, _ = stubs
    provider = LLMProvider(
        settings(endpoint(a.base_url, context_window=1500), llm_output_reserve=100)
    )
    history: list[BaseMessage] = [SystemMessage(content="You are terse.")]
    for turn in range(10):
        history += [HumanMessage(content=f"old {turn} " * 150), AIMessage(content="ok " * 50)]
    history.append(HumanMessage(content="the actual question"))
    model = await provider.model()

    reply = await model.ainvoke(history)

    assert reply.content == "primary says hi"
    (body,) = a.chat_requests()
    sent = body["messages"]
    assert sent[0]["content"] == "You are terse."
    assert sent[1]["content"] == TRIM_NOTE
    assert sent[-1]["content"] == "the actual question"
    assert len(sent) < len(history)


async def test_prompt_too_long_for_every_model_says_so(stubs: Any) -> None:
    a, _ = stubs
    provider = LLMProvider(settings(endpoint(a.base_url, context_window=500)))

    with pytest.raises(LLMUnavailable, match="too long for every configured model"):
        await ask(provider, "word " * 5000)
    assert a.count() == 0


async def test_context_window_is_learnt_from_lm_studio(stubs: Any) -> None:
    a, b = stubs
    a.set_scenario({"context_length": 1024, "text": ["unused"]})
    provider = LLMProvider(settings(endpoint(a.base_url), endpoint(b.base_url)))

    probes = await provider.health()

    assert [p.reachable for p in probes] == [True, True]
    assert provider.endpoints[0].context_window == 1024
    reply = await ask(provider, "word " * 2000)
    assert reply.content == "backup says hi"
    assert (a.count(), b.count()) == (0, 1)


# ---- streams --------------------------------------------------------------------------------


async def test_stream_failing_before_the_first_chunk_falls_back_cleanly(stubs: Any) -> None:
    a, b = stubs
    a.set_scenario({"text": [{"content": "never seen", "cut_after_chunks": 0}]})
    b.set_scenario({"text": ["backup streams this"]})
    provider = LLMProvider(settings(endpoint(a.base_url), endpoint(b.base_url), max_retries=0))

    text = "".join(await stream_text(provider))

    assert text == "backup streams this"
    assert (a.count(), b.count()) == (1, 1)


async def test_stream_cut_after_three_chunks_continues_on_the_backup(stubs: Any) -> None:
    a, b = stubs
    a.set_scenario({"text": [{"content": "one two three four five", "cut_after_chunks": 3}]})
    b.set_scenario({"text": ["four five"]})
    provider = LLMProvider(settings(endpoint(a.base_url), endpoint(b.base_url), max_retries=0))

    chunks = await stream_text(provider)

    assert "".join(chunks) == "one two three four five"
    assert (a.count(), b.count()) == (1, 1)
    continuation = b.chat_requests()[0]["messages"]
    assert continuation[-2] == {"role": "assistant", "content": "one two three "}
    assert continuation[-1]["content"] == CONTINUE_PROMPT


async def test_stream_cut_with_one_endpoint_resumes_on_it(stubs: Any) -> None:
    a, _ = stubs
    a.set_scenario(
        {"text": [{"content": "alpha beta gamma delta", "cut_after_chunks": 2}, "gamma delta"]}
    )
    provider = LLMProvider(settings(endpoint(a.base_url), max_retries=1))

    assert "".join(await stream_text(provider)) == "alpha beta gamma delta"
    assert a.count() == 2


# ---- dead endpoint and circuit breaker ------------------------------------------------------


async def test_dead_endpoint_opens_the_breaker_and_is_then_skipped(stubs: Any) -> None:
    _, b = stubs
    dead = closed_port_url()
    provider = LLMProvider(
        settings(
            endpoint(dead, name="dead"),
            endpoint(b.base_url, name="backup"),
            max_retries=2,
            llm_breaker_threshold=3,
            llm_breaker_cooldown=60,
        )
    )
    attempts_before = sample("lmsa_llm_requests_total", endpoint="dead", outcome="connection")

    assert (await ask(provider)).content == "backup says hi"  # pays 3 attempts, opens
    for _ in range(5):
        assert (await ask(provider)).content == "backup says hi"

    attempts = sample("lmsa_llm_requests_total", endpoint="dead", outcome="connection")
    assert attempts - attempts_before == 3  # later calls never touched the dead endpoint
    assert await provider.core.breakers.state("dead") == "opened"
    assert sample("lmsa_llm_breaker_state", endpoint="dead") == 2
    assert b.count() == 6


async def test_breaker_half_opens_and_closes_when_the_endpoint_recovers(stubs: Any) -> None:
    a, b = stubs
    a.set_scenario({"text": [{"status": 500}, {"status": 500}, "primary is back"]})
    provider = LLMProvider(
        settings(
            endpoint(a.base_url, name="flaky"),
            endpoint(b.base_url, name="backup"),
            max_retries=0,
            llm_breaker_threshold=2,
            llm_breaker_cooldown=0.3,
        )
    )
    assert (await ask(provider)).content == "backup says hi"
    assert (await ask(provider)).content == "backup says hi"
    assert await provider.core.breakers.state("flaky") == "opened"
    assert (await ask(provider)).content == "backup says hi"
    assert a.count() == 2  # skipped while open

    await asyncio.sleep(0.4)
    assert await provider.core.breakers.state("flaky") == "half-opened"
    assert (await ask(provider)).content == "primary is back"  # the probe
    assert await provider.core.breakers.state("flaky") == "closed"
    assert a.count() == 3


async def test_every_endpoint_down_is_one_clear_message() -> None:
    first, second = closed_port_url(), closed_port_url()
    provider = LLMProvider(settings(endpoint(first), endpoint(second), max_retries=0))

    with pytest.raises(AllEndpointsFailed) as caught:
        await ask(provider)

    message = str(caught.value)
    assert first in message and second in message and "LM Studio" in message
    assert "\n" not in message


async def test_single_dead_server_reads_like_before() -> None:
    url = closed_port_url()
    provider = LLMProvider(Settings(base_url=url, model="m", max_retries=0))

    with pytest.raises(LLMUnavailable) as caught:
        await ask(provider)

    assert str(caught.value).startswith(f"Could not reach an LLM server at {url}")


async def test_unreachable_server_without_model_fails_at_resolution() -> None:
    url = closed_port_url()
    provider = LLMProvider(Settings(base_url=url, llm_health_interval=0))

    with pytest.raises(LLMUnavailable) as caught:
        await provider.model_name()

    assert url in str(caught.value) and "LM Studio" in str(caught.value)


async def until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Wait for ``condition`` (state the background health loop changes); fail after
    ``timeout`` seconds with ``what``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def test_the_health_loop_marks_an_endpoint_down_and_up_again_by_itself() -> None:
    models = "/v1/models"
    first = LMStudioStub({"text": ["hi"]}).start()
    port = first.port
    provider = LLMProvider(settings(endpoint(first.base_url), llm_health_interval=0.05))
    second: LMStudioStub | None = None
    try:
        await ask(provider)  # the first call starts the loop; no request is made after it
        (ep,) = provider.endpoints

        def gauge() -> float | None:
            return REGISTRY.get_sample_value("lmsa_llm_endpoint_healthy", {"endpoint": ep.name})

        await until(lambda: first.count(models) >= 3, "probe rounds while the endpoint is up")
        assert ep.healthy and gauge() == 1

        await asyncio.to_thread(first.stop)
        await until(lambda: not ep.healthy, "the loop to notice the endpoint is down")
        assert gauge() == 0
        assert ep.last_probe is not None and not ep.last_probe.reachable

        second = await asyncio.to_thread(LMStudioStub({"text": ["back"]}, port=port).start)
        await until(lambda: ep.healthy, "the loop to notice the endpoint is back")
        assert gauge() == 1
        # Only the loop's probes reached either server after the first call.
        assert first.count() == 1 and second.count() == 0
        assert second.count(models) >= 1
    finally:
        await provider.aclose()
        first.stop()
        if second is not None:
            second.stop()


# ---- cache and single-flight ----------------------------------------------------------------


async def test_deterministic_call_is_cached(stubs: Any) -> None:
    a, _ = stubs
    provider = LLMProvider(settings(endpoint(a.base_url), temperature=0))
    hits_before = sample("lmsa_llm_cache_lookups_total", layer="memory", result="hit")

    first = await ask(provider)
    second = await ask(provider)

    assert first.content == second.content == "primary says hi"
    assert second.response_metadata.get("lmsa_cache") == "hit"
    assert a.count() == 1
    assert sample("lmsa_llm_cache_lookups_total", layer="memory", result="hit") > hits_before


async def test_non_deterministic_call_is_not_cached(stubs: Any) -> None:
    a, _ = stubs
    provider = LLMProvider(settings(endpoint(a.base_url), temperature=0.7))

    await ask(provider)
    await ask(provider)

    assert a.count() == 2


async def test_streamed_call_fills_the_cache_and_a_hit_replays_the_chunks(stubs: Any) -> None:
    a, _ = stubs
    a.set_scenario({"text": ["one two three"]})
    provider = LLMProvider(settings(endpoint(a.base_url), temperature=0))

    first = await stream_text(provider)
    second = await stream_text(provider)
    plain = await ask(provider)

    assert "".join(first) == "one two three"
    assert second == first  # same chunks, replayed
    assert plain.content == "one two three"
    assert a.count() == 1


class Verdict(BaseModel):
    complete: bool
    missing: str = ""


async def test_structured_output_is_cached_and_single_flighted(stubs: Any) -> None:
    a, _ = stubs
    a.set_scenario({"Verdict": [{"complete": True, "missing": ""}], "latency_ms": 300})
    provider = LLMProvider(settings(endpoint(a.base_url)))
    messages = [HumanMessage(content="done?")]

    results = await asyncio.gather(
        *(ainvoke_structured(provider, messages, Verdict) for _ in range(5))
    )
    again = await ainvoke_structured(provider, messages, Verdict)

    assert all(r == Verdict(complete=True) for r in [*results, again])
    assert a.count() == 1


# ---- queue ----------------------------------------------------------------------------------


async def test_queue_timeout_is_a_clear_error(stubs: Any) -> None:
    a, _ = stubs
    a.set_scenario({"text": [{"content": "slow", "delay_ms": 800}]})
    provider = LLMProvider(
        settings(endpoint(a.base_url, max_concurrency=1), llm_queue_timeout=0.2, max_retries=0)
    )

    outcomes = await asyncio.gather(
        ask(provider, "one"), ask(provider, "two"), return_exceptions=True
    )

    errors = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(errors) == 1 and isinstance(errors[0], AllEndpointsFailed)
    assert str(errors[0]) == str(QueueTimeout("endpoint0", 1, 0.2))
    assert [attempt.kind for attempt in errors[0].attempts] == [ErrorKind.QUEUE_TIMEOUT]
    assert a.count() == 1


async def test_a_full_endpoint_overflows_to_the_next_one(stubs: Any) -> None:
    a, b = stubs
    a.set_scenario({"text": [{"content": "slow primary", "delay_ms": 600}]})
    provider = LLMProvider(
        settings(
            endpoint(a.base_url, max_concurrency=1),
            endpoint(b.base_url),
            llm_queue_timeout=0.1,
            max_retries=0,
        )
    )

    replies = await asyncio.gather(ask(provider, "one"), ask(provider, "two"))

    assert sorted(r.content for r in replies) == ["backup says hi", "slow primary"]
    assert (a.count(), b.count()) == (1, 1)


# ---- routing --------------------------------------------------------------------------------


async def test_simple_work_goes_to_the_fast_role(stubs: Any) -> None:
    main, fast = stubs
    fast.set_scenario({"IntentResult": [{"intent": "x"}], "text": ["fast reply"]})
    main.set_scenario({"Plan": [{"steps": []}], "text": ["main reply"]})
    provider = LLMProvider(
        settings(
            endpoint(main.base_url, name="big", roles=["main"]),
            endpoint(fast.base_url, name="small", roles=["fast"]),
        )
    )

    def fmt(name: str) -> dict[str, Any]:
        return {"type": "json_schema", "json_schema": {"name": name, "schema": {}}}

    assert (await ask(provider, "hi!")).content == "fast reply"  # small talk
    assert (await ask(provider, "x", response_format=fmt("IntentResult"))).response_metadata[
        "lmsa_endpoint"
    ] == "small"
    assert (await ask(provider, "x", response_format=fmt("Plan"))).response_metadata[
        "lmsa_endpoint"
    ] == "big"
    long_question = "explain this code:\n```\n" + "x = 1\n" * 50 + "```"
    assert (await ask(provider, long_question)).content == "main reply"
    assert (await ask(provider, "hi!", role="main")).content == "main reply"
    assert (main.count(), fast.count()) == (3, 2)


async def test_round_robin_spreads_calls(stubs: Any) -> None:
    a, b = stubs
    provider = LLMProvider(
        settings(endpoint(a.base_url), endpoint(b.base_url), routing_strategy="round_robin")
    )

    for _ in range(4):
        await ask(provider)

    assert (a.count(), b.count()) == (2, 2)


async def test_cost_strategy_prefers_the_cheaper_endpoint(stubs: Any) -> None:
    a, b = stubs
    provider = LLMProvider(
        settings(
            endpoint(a.base_url, cost_per_1k_tokens=0.5),
            endpoint(b.base_url, cost_per_1k_tokens=0.0),
            routing_strategy="cost",
        )
    )

    for _ in range(3):
        await ask(provider)

    assert (a.count(), b.count()) == (0, 3)


async def test_latency_strategy_prefers_the_faster_endpoint(stubs: Any) -> None:
    a, b = stubs
    # 1 s: on a loaded machine (parallel test workers) the fast endpoint's first call, which
    # also opens the connection, can take a few hundred milliseconds by itself.
    a.set_scenario({"text": ["slow"], "latency_ms": 1000})
    provider = LLMProvider(
        settings(endpoint(a.base_url), endpoint(b.base_url), routing_strategy="latency")
    )

    # Unmeasured endpoints rank first, so both get measured, then the faster one wins.
    await ask(provider)
    await ask(provider)
    for _ in range(4):
        assert (await ask(provider)).content == "backup says hi"
    assert a.count() == 1


async def test_priority_is_the_fallback_order(stubs: Any) -> None:
    a, b = stubs
    provider = LLMProvider(
        settings(endpoint(a.base_url, priority=5), endpoint(b.base_url, priority=1))
    )

    assert (await ask(provider)).content == "backup says hi"
    assert (a.count(), b.count()) == (0, 1)


async def test_legacy_settings_become_endpoints(stubs: Any) -> None:
    a, b = stubs
    a.set_scenario({"text": [{"status": 500}]})
    provider = LLMProvider(
        Settings(
            base_url=a.base_url,
            model="test-model",
            fallbacks=[EndpointSettings(base_url=b.base_url)],
            max_retries=1,
            llm_health_interval=0,
            **FAST_RETRIES,
        )
    )

    assert await provider.model_name() == "test-model"
    assert (await ask(provider)).content == "backup says hi"
    assert [e.name for e in provider.endpoints] == ["primary", "fallback1"]
    assert (a.count(), b.count()) == (2, 1)


async def test_tools_pass_through_the_router(stubs: Any) -> None:
    a, _ = stubs
    a.set_scenario(
        {"text": [{"tool_calls": [{"name": "lookup", "arguments": {"q": "x"}, "id": "c1"}]}]}
    )
    provider = LLMProvider(settings(endpoint(a.base_url)))
    router = await provider.model()

    def lookup(q: str) -> str:
        """Look something up."""
        return q

    reply = await router.bind_tools([lookup], tool_choice="lookup").ainvoke("find x")

    assert reply.tool_calls[0]["name"] == "lookup" and reply.tool_calls[0]["args"] == {"q": "x"}
    (body,) = a.chat_requests()
    assert body["tool_choice"] == "required"
    assert json.dumps(body["tools"]).count("lookup") == 1


async def test_a_whole_reply_keeps_usage_finish_reason_and_model(stubs: Any) -> None:
    a, _ = stubs
    provider = LLMProvider(settings(endpoint(a.base_url)))
    reply = await ask(provider, "hello there")
    assert reply.content == "primary says hi"
    assert reply.usage_metadata and reply.usage_metadata["total_tokens"] > 0
    assert reply.response_metadata["finish_reason"] == "stop"
    assert reply.response_metadata["lmsa_endpoint"] == provider.endpoints[0].name
    (body,) = a.chat_requests()
    assert body["model"] == "test-model" and "stream" not in body
    assert body["messages"] == [{"role": "user", "content": "hello there"}]


class Weather(BaseModel):
    city: str
    degrees: int


async def test_a_payload_only_the_sdk_can_encode_still_works(stubs: Any) -> None:
    """A host app binding a pydantic class as ``response_format`` (not plain JSON) is sent by
    the openai SDK, which turns the class into a JSON schema."""
    a, _ = stubs
    a.set_scenario({"Weather": [{"city": "Oslo", "degrees": 3}]})
    provider = LLMProvider(settings(endpoint(a.base_url)))
    reply = await ask(provider, "weather?", response_format=Weather)
    assert Weather.model_validate_json(str(reply.content)) == Weather(city="Oslo", degrees=3)
    (body,) = a.chat_requests()
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["name"] == "Weather"
