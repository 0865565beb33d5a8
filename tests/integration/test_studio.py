"""``langgraph dev`` serving the repository's ``langgraph.json``, as LangGraph Studio uses it.

The server runs as a subprocess (``python -m langgraph_cli dev``) against the scripted LM Studio
stub and a real Redis, and is driven only through ``langgraph_sdk``: a turn that needs
clarification ends interrupted, resuming it with a ``ClarificationAnswer`` finishes the turn, and
the thread's checkpoints land in Redis under a per-test key prefix, which proves the server uses
the checkpointer declared in ``langgraph.json`` instead of its own in-memory persistence.

The server runs in a temporary cwd so that neither a developer's ``.env`` (which ``langgraph dev``
loads over the process environment) nor the server's ``.langgraph_api`` cache touch the repo.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from langgraph_sdk import get_client

from tests.deps import require_module
from tests.integration.helpers import (
    STARTUP_TIMEOUT,
    StudioServer,
    keys_of,
    langgraph_dev_env,
    message_text,
    queue_of,
    start_langgraph_dev,
)
from tests.redis_support import REDIS_URL, fresh_key_prefix, require_redis
from tests.stubs.lmstudio import LMStudioStub

require_module("langgraph_api", "needs langgraph-cli[inmem] for `langgraph dev`")

require_redis()

pytestmark = pytest.mark.integration

GRAPH_ID = "assistant"
RUN_TIMEOUT = 60.0

QUESTION = "Which file do you mean?"
# Names no workspace file: an answer that did would (rightly) send the turn to the planner.
CLARIFICATION = "the one I wrote yesterday, please"
ANSWER = "Here is the scripted answer about notes.txt."


def intent(kind: str, confidence: float, *, question: str = "") -> dict[str, Any]:
    return {
        "reasoning": "The user wants something done to a file.",
        "intent": kind,
        "confidence": confidence,
        "entities": [],
        "language": "en",
        "needs_clarification": bool(question),
        "clarifying_question": question,
    }


SCENARIO: dict[str, Any] = {
    "model": "test-model",
    "IntentResult": [
        intent("file_operation", 0.3, question=QUESTION),
        intent("conversation", 0.95),
    ],
    "text": [ANSWER],
}


# ---- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL)
    yield client
    client.close()


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix no other test uses; its keys are deleted after the server has stopped."""
    yield from fresh_key_prefix("studio")


@pytest.fixture
def studio_stub() -> Iterator[LMStudioStub]:
    with LMStudioStub(scenario=SCENARIO) as running:
        yield running


@pytest.fixture
def studio_server(
    studio_stub: LMStudioStub, redis_prefix: str, tmp_path: Path
) -> Iterator[StudioServer]:
    """``langgraph dev`` on the repo's ``langgraph.json``, LLM calls going to the stub."""
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "notes.txt").write_text("The launch code is PINEAPPLE-42.\n", encoding="utf-8")
    env = langgraph_dev_env(
        LMSA_BASE_URL=studio_stub.base_url,
        LMSA_MODEL="test-model",
        LMSA_WORKSPACE=str(workspace),
        LMSA_REDIS_URL=REDIS_URL,
        LMSA_REDIS_KEY_PREFIX=redis_prefix,
    )
    server = start_langgraph_dev(env, tmp_path)
    try:
        print(f"\n[studio] langgraph dev ready at {server.url} in {server.startup_seconds:.1f} s")
        yield server
    finally:
        server.stop()


# ---- the test ------------------------------------------------------------------------------


@pytest.mark.timeout(STARTUP_TIMEOUT + 3 * RUN_TIMEOUT)
async def test_clarification_round_trip_through_langgraph_dev(
    studio_server: StudioServer,
    studio_stub: LMStudioStub,
    redis_client: redis.Redis,
    redis_prefix: str,
) -> None:
    client = get_client(url=studio_server.url)
    with studio_server.explained():
        assistants = await client.assistants.search(graph_id=GRAPH_ID)
        assert assistants, f"no assistant for graph {GRAPH_ID!r}"

        thread = await client.threads.create()
        thread_id = thread["thread_id"]

        # Turn 1: the intent is unclear, so the run stops at the clarify node's interrupt.
        first = await asyncio.wait_for(
            client.runs.wait(
                thread_id,
                GRAPH_ID,
                input={"messages": [{"role": "user", "content": "Fix it."}]},
            ),
            RUN_TIMEOUT,
        )
        assert isinstance(first, dict), first
        waited = first.get("__interrupt__") or []
        assert [i["value"]["question"] for i in waited] == [QUESTION], first

        state = await client.threads.get_state(thread_id)
        assert state["next"] == ["clarify"], state
        interrupts = state.get("interrupts") or [
            i for task in state["tasks"] for i in task.get("interrupts", [])
        ]
        assert len(interrupts) == 1, state
        request = interrupts[0]["value"]
        assert request == {
            "kind": "clarification",
            "question": QUESTION,
            "round": 1,
            "max_rounds": 2,
        }, request
        schema = interrupts[0].get("response_schema")
        if schema is not None:  # servers that forward interrupt(response_schema=...)
            assert schema.get("title") == "ClarificationAnswer", schema
            assert schema.get("required") == ["answer"], schema
        assert (await client.threads.get(thread_id))["status"] == "interrupted"

        # The paused thread lives in Redis, under this test's prefix (langgraph.json's
        # checkpointer), while the server is still running.
        keys = [key.decode() for key in keys_of(redis_client, redis_prefix)]
        assert any(thread_id in key for key in keys), (
            f"no Redis key for thread {thread_id} under prefix {redis_prefix!r}: {keys}"
        )

        # Turn 2: resume with the answer; stream values, updates and LLM tokens.
        events: list[tuple[str, Any]] = []

        async def consume() -> None:
            async for part in client.runs.stream(
                thread_id,
                GRAPH_ID,
                command={"resume": {"answer": CLARIFICATION}},
                stream_mode=["values", "updates", "messages-tuple"],
            ):
                events.append((part.event, part.data))

        await asyncio.wait_for(consume(), RUN_TIMEOUT)
        errors = [data for event, data in events if event == "error"]
        assert not errors, errors
        updated_nodes = [node for event, data in events if event == "updates" for node in data]
        assert updated_nodes[:3] == ["clarify", "classify_intent", "respond"], updated_nodes
        streamed = "".join(
            message_text(data[0])
            for event, data in events
            if event == "messages"
            and data[0].get("type") == "AIMessageChunk"
            and data[1].get("langgraph_node") == "respond"
        )
        assert streamed == ANSWER, json.dumps(events, default=str)[:4000]
        last_values = [data for event, data in events if event == "values"][-1]
        assert last_values["answer"] == ANSWER

        # The finished thread, as Studio shows it.
        final = await client.threads.get_state(thread_id)
        assert final["next"] == [], final
        assert not final.get("interrupts"), final
        values = final["values"]
        assert values["answer"] == ANSWER
        assert [(m["type"], message_text(m)) for m in values["messages"]] == [
            ("human", "Fix it."),
            ("ai", QUESTION),
            ("human", CLARIFICATION),
            ("ai", ANSWER),
        ]
        assert values["clarifications"] == [{"question": QUESTION, "answer": CLARIFICATION}]
        assert values["clarification_rounds"] == 1
        assert (await client.threads.get(thread_id))["status"] == "idle"

        # The stub saw: intent, intent again with the clarification answer, then the answer.
        bodies = studio_stub.chat_requests()
        assert [queue_of(body) for body in bodies] == ["IntentResult", "IntentResult", "text"]
        assert all(body["model"] == "test-model" for body in bodies)
        second_intent = bodies[1]["messages"]
        assert [(m["role"], m["content"]) for m in second_intent[-3:]] == [
            ("user", "Fix it."),
            ("assistant", QUESTION),
            ("user", CLARIFICATION),
        ], second_intent
        assert CLARIFICATION not in json.dumps(bodies[0]["messages"])

        # Every checkpoint of the thread, first to last, came back from Redis.
        history = await client.threads.get_history(thread_id, limit=100)
        assert len(history) >= 5, [h["metadata"].get("step") for h in history]
        keys = [key.decode() for key in keys_of(redis_client, redis_prefix)]
        assert any(thread_id in key for key in keys), keys
