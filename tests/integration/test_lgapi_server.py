"""``lmsa serve`` speaks the LangGraph Server API: driven by langgraph_sdk (the client Studio,
agent-chat-ui and RemoteGraph are built on) and by httpx for what the SDK hides (headers, raw
SSE frames, CORS, ``text/plain`` bodies).

Two ``lmsa serve`` instances share Redis (checkpoints, thread records, turn leases) behind API
keys, as a scaled-out deployment does, against the scripted LM Studio stub."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.integration.helpers import (
    CHAT,
    COMPLETE,
    ServerProcess,
    intent,
    plan,
    server_env,
    sse_events,
    start_servers,
    step,
)
from tests.redis_support import REDIS_URL, fresh_key_prefix, require_redis
from tests.stubs.lmstudio import LMStudioStub

pytestmark = pytest.mark.integration
require_redis()

KEY_A = "lgapi-key-a-0123456789"
KEY_B = "lgapi-key-b-0123456789"
STUDIO = "https://smith.langchain.com"
ASSISTANT_ID = str(uuid.uuid5(uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8"), "assistant"))

CLARIFY = {
    "IntentResult": [
        intent("file_operation", 0.3, question="Which file should I summarise?"),
        intent("file_operation", entities=("notes.txt",)),
    ],
    "Plan": [plan(step("s1", "read_file", path="notes.txt"))],
    "Validation": [COMPLETE],
    "text": ["Summary: it holds the launch code."],
}


def write_scenario(name: str) -> dict[str, Any]:
    return {
        "IntentResult": [intent("file_operation")],
        "Plan": [plan(step("w1", "write_file", path=name, content="hello"))],
        "Validation": [COMPLETE],
        "text": [f"Handled {name}."],
    }


@pytest.fixture(scope="module")
def shared_stub() -> Iterator[LMStudioStub]:
    with LMStudioStub(scenario=CHAT) as running:
        yield running


@pytest.fixture(scope="module")
def key_prefix() -> Iterator[str]:
    yield from fresh_key_prefix("lgapi")


@pytest.fixture(scope="module")
def cluster(
    shared_stub: LMStudioStub, tmp_path_factory: pytest.TempPathFactory, key_prefix: str
) -> Iterator[list[ServerProcess]]:
    tmp_path = tmp_path_factory.mktemp("lgapi")
    env = server_env(
        shared_stub,
        tmp_path,
        LMSA_CHECKPOINTER="redis",
        LMSA_REDIS_URL=REDIS_URL,
        LMSA_REDIS_KEY_PREFIX=key_prefix,
        LMSA_API_KEYS=f"{KEY_A},{KEY_B}",
        LMSA_CORS_ORIGINS=STUDIO,
    )
    servers = start_servers(env, tmp_path, ["lg-0", "lg-1"])
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture
def stub(shared_stub: LMStudioStub) -> LMStudioStub:
    shared_stub.set_scenario(CHAT)
    shared_stub.reset()
    return shared_stub


@pytest.fixture
def server(cluster: list[ServerProcess], stub: LMStudioStub) -> ServerProcess:
    return cluster[0]


@pytest.fixture
def workspace(server: ServerProcess) -> Path:
    return Path(server.log_path).parent / "workspace"


@pytest.fixture
def sdk(server: ServerProcess) -> Any:
    from langgraph_sdk import get_sync_client

    return get_sync_client(url=server.url, api_key=KEY_A)


@pytest.fixture
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers={"X-Api-Key": KEY_A}, timeout=60) as client:
        yield client


def human(text: str) -> dict[str, Any]:
    return {"messages": [{"type": "human", "content": text}]}


def last_text(values: dict[str, Any]) -> str:
    return str(values["messages"][-1]["content"])


# ---- server, assistants ----------------------------------------------------------------------


def test_info_and_ok_answer_without_a_key(server: ServerProcess) -> None:
    assert httpx.get(f"{server.url}/ok").json() == {"ok": True}
    info = httpx.get(f"{server.url}/info").json()
    assert info["flags"]["assistants"] is True
    assert info["langgraph_py_version"]


def test_assistants_search_get_graph_and_schemas(sdk: Any) -> None:
    found = sdk.assistants.search(metadata={"created_by": "system"}, limit=10, offset=0)
    assert [a["assistant_id"] for a in found] == [ASSISTANT_ID]
    assert found[0]["graph_id"] == "assistant"
    assert sdk.assistants.search(graph_id="other") == []
    assert sdk.assistants.get("assistant")["assistant_id"] == ASSISTANT_ID
    graph = sdk.assistants.get_graph(ASSISTANT_ID, xray=True)
    node_ids = {node["id"] for node in graph["nodes"]}
    assert {"guard", "classify_intent", "respond"} <= node_ids
    schemas = sdk.assistants.get_schemas(ASSISTANT_ID)
    assert "messages" in schemas["input_schema"]["properties"]
    assert "messages" in schemas["state_schema"]["properties"]
    assert "max_clarify_rounds" in json.dumps(schemas["context_schema"])
    assert sdk.assistants.get_subgraphs(ASSISTANT_ID) == {}


def test_an_unknown_assistant_is_404(http: httpx.Client) -> None:
    assert http.get("/assistants/nope").status_code == 404


# ---- threads ---------------------------------------------------------------------------------


def test_thread_create_search_get_patch_delete(sdk: Any) -> None:
    tag = uuid.uuid4().hex
    made = sdk.threads.create(metadata={"tag": tag})
    thread_id = made["thread_id"]
    assert made["status"] == "idle" and made["metadata"] == {"tag": tag}
    again = sdk.threads.create(thread_id=thread_id, if_exists="do_nothing")
    assert again["thread_id"] == thread_id
    with pytest.raises(httpx.HTTPStatusError) as exists:
        sdk.threads.create(thread_id=thread_id)
    assert exists.value.response.status_code == 409
    assert [t["thread_id"] for t in sdk.threads.search(metadata={"tag": tag})] == [thread_id]
    assert sdk.threads.search(metadata={"tag": tag}, status="busy") == []
    patched = sdk.threads.update(thread_id, metadata={"title": "x"})
    assert patched["metadata"] == {"tag": tag, "title": "x"}
    assert sdk.threads.get(thread_id)["metadata"]["title"] == "x"
    sdk.threads.delete(thread_id)
    with pytest.raises(httpx.HTTPStatusError) as gone:
        sdk.threads.get(thread_id)
    assert gone.value.response.status_code == 404
    assert sdk.threads.search(metadata={"tag": tag}) == []


def test_another_key_sees_no_thread_of_mine(sdk: Any, server: ServerProcess) -> None:
    tag = uuid.uuid4().hex
    thread_id = sdk.threads.create(metadata={"tag": tag})["thread_id"]
    with httpx.Client(base_url=server.url, headers={"X-Api-Key": KEY_B}) as other:
        assert other.get(f"/threads/{thread_id}").status_code == 404
        assert other.post(f"/threads/{thread_id}/state/checkpoint", json={}).status_code == 404
        listed = other.post("/threads/search", json={"metadata": {"tag": tag}})
        assert listed.status_code == 200 and listed.json() == []
    assert httpx.get(f"{server.url}/threads/{thread_id}").status_code == 401
    bearer = httpx.get(
        f"{server.url}/threads/{thread_id}", headers={"Authorization": f"Bearer {KEY_A}"}
    )
    assert bearer.status_code == 200


# ---- runs ------------------------------------------------------------------------------------


def test_stream_values_updates_and_message_tuples(sdk: Any, stub: LMStudioStub) -> None:
    thread_id = sdk.threads.create()["thread_id"]
    parts = list(
        sdk.runs.stream(
            thread_id,
            "assistant",
            input=human("tell me a story"),
            stream_mode=["values", "updates", "messages-tuple"],
        )
    )
    names = [part.event for part in parts]
    assert names[0] == "metadata" and parts[0].data["run_id"]
    assert {"values", "updates", "messages"} <= set(names)
    tuples = [part.data for part in parts if part.event == "messages"]
    chunk, metadata = tuples[0]
    assert chunk["type"] == "AIMessageChunk" and metadata["langgraph_node"] == "respond"
    assert metadata.get("thread_id") in (None, thread_id)
    assert "".join(c["content"] for c, _ in tuples) == "echo: tell me a story"
    updates = [part.data for part in parts if part.event == "updates"]
    assert any("respond" in update for update in updates)
    final = [part.data for part in parts if part.event == "values"][-1]
    assert last_text(final) == "echo: tell me a story"
    thread = sdk.threads.get(thread_id)
    assert thread["status"] == "idle"
    assert thread["metadata"]["graph_id"] == "assistant"
    assert last_text(thread["values"]) == "echo: tell me a story"
    listed = sdk.threads.search(metadata={"graph_id": "assistant"}, limit=100)
    assert thread_id in [t["thread_id"] for t in listed]


def test_sse_frames_headers_and_messages_mode(http: httpx.Client, stub: LMStudioStub) -> None:
    thread_id = http.post("/threads", json={}).json()["thread_id"]
    answer = http.post(
        f"/threads/{thread_id}/runs/stream",
        json={"assistant_id": ASSISTANT_ID, "input": human("hi"), "stream_mode": "messages"},
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/event-stream")
    events = sse_events(answer)
    run_id = json.loads(events[0][1])["run_id"]
    assert events[0][0] == "metadata"
    assert answer.headers["content-location"] == f"/threads/{thread_id}/runs/{run_id}"
    names = [name for name, _ in events]
    assert "messages/metadata" in names and "messages/partial" in names
    partials = [json.loads(data) for name, data in events if name == "messages/partial"]
    assert partials[-1][0]["content"] == "echo: hi"
    assert "values" not in names


def test_unknown_thread_is_404_unless_created(http: httpx.Client, stub: LMStudioStub) -> None:
    thread_id = str(uuid.uuid4())
    body = {"assistant_id": "assistant", "input": human("hello")}
    assert http.post(f"/threads/{thread_id}/runs/wait", json=body).status_code == 404
    made = http.post(f"/threads/{thread_id}/runs/wait", json={**body, "if_not_exists": "create"})
    assert made.status_code == 200, made.text
    assert last_text(made.json()) == "echo: hello"
    assert http.get(f"/threads/{thread_id}").json()["status"] == "idle"


def test_threadless_wait_leaves_no_thread(http: httpx.Client, stub: LMStudioStub) -> None:
    answer = http.post("/runs/wait", json={"assistant_id": "assistant", "input": human("yo")})
    assert answer.status_code == 200, answer.text
    assert last_text(answer.json()) == "echo: yo"
    thread_id = answer.headers["content-location"].split("/")[2]
    assert http.get(f"/threads/{thread_id}").status_code == 404


def test_a_busy_thread_answers_409(http: httpx.Client, stub: LMStudioStub, key_prefix: str) -> None:
    import hashlib

    thread_id = http.post("/threads", json={}).json()["thread_id"]
    owner = hashlib.sha256(KEY_A.encode()).hexdigest()[:16]
    lease = f"{{{key_prefix}:{owner}:{thread_id}}}:turn"
    store = redis.Redis.from_url(REDIS_URL)
    store.set(lease, "another-instance", ex=30)
    try:
        body = {"assistant_id": "assistant", "input": human("hello")}
        busy = http.post(f"/threads/{thread_id}/runs/stream", json=body)
        assert busy.status_code == 409
        assert http.post(f"/threads/{thread_id}/runs/wait", json=body).status_code == 409
    finally:
        store.delete(lease)
        store.close()
    assert http.post(f"/threads/{thread_id}/runs/wait", json=body).status_code == 200


def test_approval_shows_agent_inbox_and_resumes_with_a_decision(
    sdk: Any, stub: LMStudioStub, workspace: Path
) -> None:
    name = f"inbox-{uuid.uuid4().hex[:8]}.txt"
    stub.set_scenario(write_scenario(name))
    thread_id = sdk.threads.create()["thread_id"]
    paused = sdk.runs.wait(thread_id, "assistant", input=human(f"write {name}"))
    (pending,) = paused["__interrupt__"]
    value = pending["value"]
    assert value["action_requests"][0]["name"] == "write_file"
    args = value["action_requests"][0]["args"]
    assert (args["path"], args["content"]) == (name, "hello")
    assert value["review_configs"][0]["action_name"] == "write_file"
    assert value["review_configs"][0]["allowed_decisions"] == ["approve", "edit", "reject"]
    assert not (workspace / name).exists()
    thread = sdk.threads.get(thread_id)
    assert thread["status"] == "interrupted"
    (task_interrupts,) = thread["interrupts"].values()
    assert task_interrupts[0]["id"] == pending["id"]
    state = sdk.threads.get_state(thread_id)
    assert state["next"] == ["execute"]
    assert state["interrupts"][0]["value"]["action_requests"]
    assert state["tasks"][0]["interrupts"][0]["id"] == pending["id"]

    done = sdk.runs.wait(
        thread_id, "assistant", command={"resume": {"decisions": [{"type": "approve"}]}}
    )
    assert "__interrupt__" not in done
    assert (workspace / name).read_text(encoding="utf-8") == "hello"
    assert sdk.threads.get(thread_id)["status"] == "idle"


def test_a_decision_names_its_interrupt_and_a_replayed_one_is_409(
    sdk: Any, http: httpx.Client, stub: LMStudioStub, workspace: Path
) -> None:
    name = f"bound-{uuid.uuid4().hex[:8]}.txt"
    stub.set_scenario(write_scenario(name))
    thread_id = sdk.threads.create()["thread_id"]
    (pending,) = sdk.runs.wait(thread_id, "assistant", input=human(f"write {name}"))[
        "__interrupt__"
    ]
    decision = {"resume": {pending["id"]: {"decisions": [{"type": "approve"}]}}}
    done = sdk.runs.wait(thread_id, "assistant", command=decision)
    assert "__interrupt__" not in done
    assert (workspace / name).read_text(encoding="utf-8") == "hello"

    (workspace / name).unlink()
    replayed = http.post(
        f"/threads/{thread_id}/runs/wait", json={"assistant_id": "assistant", "command": decision}
    )
    assert replayed.status_code == 409, replayed.text
    assert replayed.json()["error"]["code"] == "stale_interrupt"
    assert not (workspace / name).exists()


def test_agent_inbox_ignore_rejects_the_call(sdk: Any, stub: LMStudioStub, workspace: Path) -> None:
    name = f"ignored-{uuid.uuid4().hex[:8]}.txt"
    stub.set_scenario(write_scenario(name))
    thread_id = sdk.threads.create()["thread_id"]
    paused = sdk.runs.wait(thread_id, "assistant", input=human(f"write {name}"))
    assert paused["__interrupt__"]
    parts = list(
        sdk.runs.stream(
            thread_id,
            "assistant",
            command={"resume": [{"type": "ignore", "args": None}]},
            stream_mode=["values", "updates"],
        )
    )
    assert "error" not in [part.event for part in parts]
    assert not (workspace / name).exists()
    results = sdk.threads.get_state(thread_id)["values"]["results"]
    assert results[-1]["approval"] == "rejected"


def test_clarification_is_a_question_answered_with_text(
    sdk: Any, http: httpx.Client, stub: LMStudioStub
) -> None:
    stub.set_scenario(CLARIFY)
    thread_id = sdk.threads.create()["thread_id"]
    asked = sdk.runs.wait(thread_id, "assistant", input=human("summarise the file"))
    (pending,) = asked["__interrupt__"]
    assert pending["value"]["question"] == "Which file should I summarise?"
    wrong = http.post(
        f"/threads/{thread_id}/runs/wait",
        json={"assistant_id": "assistant", "command": {"resume": {"decision": "approve"}}},
    )
    assert wrong.status_code == 200 and "__error__" in wrong.json()
    answered = sdk.runs.wait(thread_id, "assistant", command={"resume": "the notes.txt one"})
    assert last_text(answered) == "Summary: it holds the launch code."


def test_state_history_and_checkpoint_routes(
    sdk: Any, http: httpx.Client, stub: LMStudioStub
) -> None:
    thread_id = sdk.threads.create()["thread_id"]
    sdk.runs.wait(thread_id, "assistant", input=human("first"))
    state = sdk.threads.get_state(thread_id)
    checkpoint = state["checkpoint"]
    assert checkpoint["thread_id"] == thread_id and checkpoint["checkpoint_id"]
    assert state["parent_checkpoint"]["checkpoint_id"]
    assert state["next"] == [] and state["tasks"] == [] and state["interrupts"] == []
    assert last_text(state["values"]) == "echo: first"
    assert thread_id in json.dumps(state["metadata"]) or state["metadata"]

    history = sdk.threads.get_history(thread_id, limit=3)
    assert len(history) == 3
    assert history[0]["checkpoint"] == checkpoint
    assert {"values", "next", "tasks", "metadata", "created_at", "parent_checkpoint"} <= set(
        history[1]
    )
    assert http.get(f"/threads/{thread_id}/history?limit=2").json()[0]["checkpoint"] == checkpoint

    older = history[2]["checkpoint"]
    by_post = sdk.threads.get_state(thread_id, checkpoint=older)
    assert by_post["checkpoint"]["checkpoint_id"] == older["checkpoint_id"]
    by_get = http.get(f"/threads/{thread_id}/state/{older['checkpoint_id']}?subgraphs=true")
    assert by_get.status_code == 200
    assert by_get.json()["checkpoint"]["checkpoint_id"] == older["checkpoint_id"]

    written = sdk.threads.update_state(thread_id, {"answer": "edited"}, as_node="respond")
    assert written["checkpoint"]["thread_id"] == thread_id
    assert written["checkpoint"]["checkpoint_id"] != checkpoint["checkpoint_id"]
    assert sdk.threads.get_state(thread_id)["values"]["answer"] == "edited"


def test_json_sent_as_text_plain_is_read(http: httpx.Client) -> None:
    tag = uuid.uuid4().hex
    made = http.post(
        "/threads",
        content=json.dumps({"metadata": {"tag": tag}}),
        headers={"Content-Type": "text/plain;charset=UTF-8"},
    )
    assert made.status_code == 200, made.text
    found = http.post(
        "/threads/search",
        content=json.dumps({"metadata": {"tag": tag}}),
        headers={"Content-Type": "text/plain"},
    )
    assert [t["thread_id"] for t in found.json()] == [made.json()["thread_id"]]


def test_cors_preflight_for_a_listed_origin(server: ServerProcess) -> None:
    preflight = httpx.options(
        f"{server.url}/threads/search",
        headers={
            "Origin": STUDIO,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-api-key",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == STUDIO
    assert preflight.headers["access-control-allow-private-network"] == "true"
    other = httpx.options(
        f"{server.url}/threads/search",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in other.headers


def test_a_thread_continues_on_another_instance(
    cluster: list[ServerProcess], stub: LMStudioStub
) -> None:
    from langgraph_sdk import get_sync_client

    first, second = (get_sync_client(url=s.url, api_key=KEY_A) for s in cluster)
    tag = uuid.uuid4().hex
    thread_id = first.threads.create(metadata={"tag": tag})["thread_id"]
    first.runs.wait(thread_id, "assistant", input=human("one"))
    answer = second.runs.wait(thread_id, "assistant", input=human("two"))
    texts = [m["content"] for m in answer["messages"]]
    assert texts == ["one", "echo: one", "two", "echo: two"]
    assert [t["thread_id"] for t in second.threads.search(metadata={"tag": tag})] == [thread_id]
    assert first.threads.get(thread_id)["values"]["messages"][-1]["content"] == "echo: two"


# ---- a client that hangs up ------------------------------------------------------------------


def _settled(http: httpx.Client, thread_id: str, timeout: float = 30.0) -> dict[str, Any]:
    """The thread once no run holds it (polls; the deadline only bounds a hang)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        thread = http.get(f"/threads/{thread_id}").json()
        if thread["status"] != "busy":
            return thread  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise AssertionError(f"thread {thread_id} stayed busy")


@pytest.mark.parametrize(("on_disconnect", "finished"), [("continue", True), ("cancel", False)])
def test_a_run_outlives_its_client_only_when_asked(
    http: httpx.Client, stub: LMStudioStub, on_disconnect: str, finished: bool
) -> None:
    stub.set_scenario({**CHAT, "text": [{"content": "late answer", "hold": True}]})
    thread_id = http.post("/threads", json={}).json()["thread_id"]
    body = {
        "assistant_id": "assistant",
        "input": human("take your time"),
        "stream_mode": ["values", "messages-tuple"],
        "on_disconnect": on_disconnect,
    }
    with http.stream("POST", f"/threads/{thread_id}/runs/stream", json=body) as streaming:
        assert streaming.status_code == 200
        lines = streaming.iter_lines()  # kept: a dropped iterator closes the connection
        assert next(lines).startswith("event: metadata")
        assert stub.wait_held(1, timeout=30)
        assert http.get(f"/threads/{thread_id}").json()["status"] == "busy"
    stub.release()
    thread = _settled(http, thread_id)
    texts = [m["content"] for m in (thread["values"] or {}).get("messages", [])]
    assert ("late answer" in texts) is finished, texts


# ---- a keyless local server: SQLite records, browser origins, restarts -----------------------


def test_keyless_sqlite_server_serves_listed_origins_and_keeps_threads(
    stub: LMStudioStub, tmp_path: Path
) -> None:
    from langgraph_sdk import get_sync_client

    from tests.integration.helpers import start_server

    env = server_env(stub, tmp_path, LMSA_CORS_ORIGINS=STUDIO)
    server = start_server(env, tmp_path, "local-1")
    try:
        allowed = httpx.post(f"{server.url}/threads/search", json={}, headers={"Origin": STUDIO})
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == STUDIO
        refused = httpx.post(
            f"{server.url}/threads/search", json={}, headers={"Origin": "https://evil.example"}
        )
        assert refused.status_code == 403
        sdk = get_sync_client(url=server.url, api_key=None)
        thread_id = sdk.threads.create()["thread_id"]
        # What agent-chat-ui sends: content blocks, values + message tuples, resumable.
        parts = list(
            sdk.runs.stream(
                thread_id,
                "assistant",
                input={
                    "messages": [{"type": "human", "content": [{"type": "text", "text": "hi"}]}]
                },
                stream_mode=["values", "messages-tuple"],
                stream_subgraphs=True,
                stream_resumable=True,
                checkpoint=None,
            )
        )
        assert last_text(parts[-1].data) == "echo: hi"
    finally:
        server.stop()
    restarted = start_server(env, tmp_path, "local-2")
    try:
        sdk = get_sync_client(url=restarted.url, api_key=None)
        (found,) = sdk.threads.search(metadata={"graph_id": "assistant"})
        assert found["thread_id"] == thread_id
        assert last_text(found["values"]) == "echo: hi"
        assert last_text(sdk.threads.get_state(thread_id)["values"]) == "echo: hi"
    finally:
        restarted.stop()


def test_new_input_on_an_interrupted_thread_starts_a_new_turn(
    sdk: Any, stub: LMStudioStub, workspace: Path
) -> None:
    name = f"dropped-{uuid.uuid4().hex[:8]}.txt"
    stub.set_scenario(write_scenario(name))
    thread_id = sdk.threads.create()["thread_id"]
    assert sdk.runs.wait(thread_id, "assistant", input=human(f"write {name}"))["__interrupt__"]
    stub.set_scenario(CHAT)
    answer = sdk.runs.wait(thread_id, "assistant", input=human("never mind"))
    assert "__interrupt__" not in answer
    assert last_text(answer) == "echo: never mind"
    assert sdk.threads.get(thread_id)["status"] == "idle"
    assert not (workspace / name).exists()


def test_a_thread_deleted_through_v1_is_gone_here_too(
    http: httpx.Client, stub: LMStudioStub
) -> None:
    thread_id = http.post("/threads", json={}).json()["thread_id"]
    ran = http.post(
        f"/threads/{thread_id}/runs/wait", json={"assistant_id": "assistant", "input": human("x")}
    )
    assert ran.status_code == 200
    assert http.delete(f"/v1/threads/{thread_id}").status_code == 204
    assert http.get(f"/threads/{thread_id}").status_code == 404
    assert http.post("/threads/search", json={"ids": [thread_id]}).json() == []


def test_thread_ids_follow_the_v1_rules(http: httpx.Client) -> None:
    assert http.get("/threads/%7Bbad%7D").status_code == 422
    assert http.post("/threads", json={"thread_id": "{bad}"}).status_code == 422
