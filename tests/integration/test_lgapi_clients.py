"""The LangGraph Server API as its real clients use it, against two servers with one script:
``langgraph dev`` on the repository's ``langgraph.json`` (the reference: langgraph-api running
the raw graph) and ``lmsa serve`` (which mounts the same API at its root).

One scenario throughout: the intent step asks a question (a clarification interrupt), the
answer leads to a plan whose ``write_file`` call needs approval (an approval interrupt), and the
approved call writes the file before the final answer. It is driven by

* ``langgraph_sdk`` (threads, runs stream/wait, state, history, update_state, assistants);
* ``RemoteGraph``, sync and async, and as a node of a checkpointed parent graph;
* agent-chat-ui's and Studio's literal request bodies (``tests/data/lgapi_client_requests.json``,
  each with the source it was read from), replayed with httpx against both servers at once so
  every status and response shape is compared with the reference's;
* two ``lmsa serve`` instances sharing Redis: a thread started on one is finished on the other.

Both servers call the scripted LM Studio stub and checkpoint in the real Redis. The raw graph
under ``langgraph dev`` reads lmsa's own approval answer (``{"decision": "approve"}``); ``lmsa
serve`` also shows approvals in the human-in-the-loop shape agent-chat-ui draws as buttons and
takes its decision (``{"decisions": [{"type": "approve"}]}``). That is all the script picks per
server; every outcome is asserted the same.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypedDict, get_type_hints

import httpx
import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph, add_messages
from langgraph.pregel.remote import RemoteGraph
from langgraph.types import Command
from langgraph_sdk import get_client, get_sync_client

from lmsa.state import AssistantState, OutputState
from lmsa.tools.approval import ApprovalRequest
from tests.deps import require_module
from tests.integration.helpers import (
    ASSISTANT_KEYS,
    CHECKPOINT_KEYS,
    COMPLETE,
    INTERRUPT_KEYS,
    SCHEMA_KEYS,
    THREAD_KEYS,
    Replayed,
    ServerProcess,
    StudioServer,
    assert_thread_state,
    describe_difference,
    intent,
    is_agent_inbox_interrupt,
    keys,
    langgraph_dev_env,
    message_text,
    plan,
    queue_of,
    response_shape,
    send_request,
    server_env,
    start_langgraph_dev,
    start_servers,
    step,
    substitute,
    words,
)
from tests.redis_support import REDIS_URL, fresh_key_prefix, require_redis
from tests.stubs.lmstudio import LMStudioStub

require_module("langgraph_api", "needs langgraph-cli[inmem] for `langgraph dev`")
require_redis()

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

GRAPH_ID = "assistant"
# langgraph-api's default assistant: uuid5 of this namespace and the graph id.
ASSISTANT_NAMESPACE = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")
ASSISTANT_ID = str(uuid.uuid5(ASSISTANT_NAMESPACE, GRAPH_ID))
REQUESTS_FILE = Path(__file__).resolve().parents[1] / "data" / "lgapi_client_requests.json"
RUN_TIMEOUT = 60.0

REQUEST = "Save a note for me."
QUESTION = "Which file should I save it in?"
CONTENT = "hello from the approved call"


GRAPH_NODES = words("__start__ guard classify_intent clarify plan execute validate respond __end__")
STATE_VALUE_KEYS = frozenset(get_type_hints(AssistantState))
# A `values` event carries the graph's output channels, as a run's result does.
OUTPUT_KEYS = frozenset(get_type_hints(OutputState))
CLARIFICATION_KEYS = keys("kind question round max_rounds")
APPROVAL_KEYS = frozenset(ApprovalRequest.model_fields)
# The LLM calls of the whole scenario, in order, on either server.
SCENARIO_QUEUES = ["IntentResult", "IntentResult", "Plan", "Validation", "text"]


def scenario(file_name: str) -> dict[str, Any]:
    return {
        "model": "test-model",
        "IntentResult": [
            intent("file_operation", 0.3, question=QUESTION),
            intent("file_operation", 0.95, entities=(file_name,)),
        ],
        "Plan": [plan(step("w1", "write_file", path=file_name, content=CONTENT))],
        "Validation": [COMPLETE],
        "text": [answer_for(file_name)],
    }


def answer_for(file_name: str) -> str:
    return f"Saved your note in {file_name}."


def clarification_for(file_name: str) -> str:
    return f"Put it in {file_name}"


# ---- the two servers -------------------------------------------------------------------------


@dataclass
class Backend:
    name: str
    url: str
    stub: LMStudioStub
    workspace: Path
    hitl: bool  # approvals are shown in agent-chat-ui's human-in-the-loop shape too
    second_url: str = ""  # another instance sharing the thread store, when there is one

    def approve(self) -> Any:
        """The approval answer this server's clients send."""
        return {"decisions": [{"type": "approve"}]} if self.hitl else {"decision": "approve"}

    def start(self, file_name: str) -> None:
        """Script the stub for one run of the scenario writing ``file_name``."""
        self.stub.set_scenario(scenario(file_name))
        self.stub.reset()

    def queues(self) -> list[str]:
        return [queue_of(body) for body in self.stub.chat_requests()]


@pytest.fixture(scope="module")
def redis_prefix() -> Iterator[str]:
    yield from fresh_key_prefix("lgclients")


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, redis_prefix: str) -> Iterator[Backend]:
    """``langgraph dev`` on ``langgraph.json`` (Redis checkpointer under this module's prefix)."""
    tmp_path = tmp_path_factory.mktemp("langgraph-dev")
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    with LMStudioStub(scenario=scenario("unused.txt")) as stub:
        env = langgraph_dev_env(
            LMSA_BASE_URL=stub.base_url,
            LMSA_MODEL="test-model",
            LMSA_WORKSPACE=str(workspace),
            LMSA_REDIS_URL=REDIS_URL,
            LMSA_REDIS_KEY_PREFIX=f"{redis_prefix}-dev",
            LMSA_LLM_CACHE="false",  # each scenario's first request is the same text
        )
        server: StudioServer = start_langgraph_dev(env, tmp_path)
        try:
            yield Backend("langgraph dev", server.url, stub, workspace, hitl=False)
        finally:
            server.stop()


@pytest.fixture(scope="module")
def lmsa(tmp_path_factory: pytest.TempPathFactory, redis_prefix: str) -> Iterator[Backend]:
    """Two ``lmsa serve`` instances sharing one Redis checkpointer; tests use the first."""
    tmp_path = tmp_path_factory.mktemp("lmsa-serve")
    with LMStudioStub(scenario=scenario("unused.txt")) as stub:
        env = server_env(
            stub,
            tmp_path,
            LMSA_MODEL="test-model",
            LMSA_CHECKPOINTER="redis",
            LMSA_REDIS_URL=REDIS_URL,
            LMSA_REDIS_KEY_PREFIX=f"{redis_prefix}-serve",
        )
        servers: list[ServerProcess] = start_servers(env, tmp_path, ["serve-a", "serve-b"])
        first, second = servers
        try:
            yield Backend("lmsa serve", first.url, stub, tmp_path / "workspace", True, second.url)
        finally:
            for server in servers:
                server.stop()


SERVERS = ("langgraph dev", "lmsa serve")


@pytest.fixture(params=SERVERS)
def backend(request: pytest.FixtureRequest) -> Backend:
    fixture = "reference" if request.param == "langgraph dev" else "lmsa"
    return request.getfixturevalue(fixture)  # type: ignore[no-any-return]


# ---- assertions shared by the client scripts -------------------------------------------------


def assert_clarification(interrupt: dict[str, Any]) -> None:
    value = interrupt["value"]
    assert set(value) == CLARIFICATION_KEYS, interrupt
    assert value == {"kind": "clarification", "question": QUESTION, "round": 1, "max_rounds": 2}


def assert_approval(backend: Backend, interrupt: dict[str, Any], file_name: str) -> None:
    """The approval interrupt: lmsa's keys on both servers; on ``lmsa serve`` also the
    human-in-the-loop request agent-chat-ui renders as buttons, naming the same call."""
    value = interrupt["value"]
    assert value["kind"] == "approval" and value["tool"] == "write_file", interrupt
    assert value["args"]["path"] == file_name and value["args"]["content"] == CONTENT, value
    if not backend.hitl:
        assert set(value) == APPROVAL_KEYS, interrupt
        return
    assert set(value) >= APPROVAL_KEYS | {"action_requests", "review_configs"}, interrupt
    assert is_agent_inbox_interrupt(interrupt), interrupt
    assert [(r["name"], r["args"]) for r in value["action_requests"]] == [
        ("write_file", value["args"])
    ], value["action_requests"]
    assert [c["action_name"] for c in value["review_configs"]] == ["write_file"]
    assert set(value["review_configs"][0]["allowed_decisions"]) == {"approve", "edit", "reject"}


def assert_waiting_at(state: dict[str, Any], node: str) -> dict[str, Any]:
    """``next``/``tasks`` of a thread paused in ``node``; returns the pending interrupt."""
    assert_thread_state(state, STATE_VALUE_KEYS)
    assert state["next"] == [node], state["next"]
    assert [task["name"] for task in state["tasks"]] == [node], state["tasks"]
    pending = state["tasks"][0]["interrupts"]
    assert len(pending) == 1, state["tasks"]
    assert state["interrupts"] == pending, (state["interrupts"], pending)
    return pending[0]  # type: ignore[no-any-return]


def assert_finished(backend: Backend, state: dict[str, Any], file_name: str) -> None:
    """The scenario's outcome: the answer, the conversation, the file on disk, the LLM calls."""
    assert_thread_state(state, STATE_VALUE_KEYS)
    assert state["next"] == [] and state["tasks"] == [] and state["interrupts"] == [], state
    values = state["values"]
    assert values["answer"] == answer_for(file_name), values["answer"]
    assert [(m["type"], message_text(m)) for m in values["messages"]] == [
        ("human", REQUEST),
        ("ai", QUESTION),
        ("human", clarification_for(file_name)),
        ("ai", answer_for(file_name)),
    ], values["messages"]
    assert [r["tool"] for r in values["results"]] == ["write_file"], values["results"]
    assert (backend.workspace / file_name).read_text(encoding="utf-8") == CONTENT
    assert backend.queues() == SCENARIO_QUEUES


def new_file(backend: Backend, label: str) -> str:
    """A file name this test's run writes (absent before it)."""
    name = f"{label}-{uuid.uuid4().hex[:8]}.txt"
    assert not (backend.workspace / name).exists()
    return name


# ---- 1. langgraph_sdk ------------------------------------------------------------------------


async def test_sdk_assistants_search_get_graph_and_schemas(backend: Backend) -> None:
    client = get_client(url=backend.url, api_key=None)
    found = await client.assistants.search(graph_id=GRAPH_ID)
    assert [a["assistant_id"] for a in found] == [ASSISTANT_ID], found
    assert set(found[0]) == ASSISTANT_KEYS, found[0]
    assert found[0]["graph_id"] == GRAPH_ID
    assert found[0]["metadata"].get("created_by") == "system", found[0]

    by_id = await client.assistants.get(ASSISTANT_ID)
    assert by_id["assistant_id"] == ASSISTANT_ID
    assert set(by_id) == ASSISTANT_KEYS

    graph = await client.assistants.get_graph(ASSISTANT_ID)
    assert set(graph) == {"nodes", "edges"}, graph.keys()
    assert [node["id"] for node in graph["nodes"]] == GRAPH_NODES
    edges = {(edge["source"], edge["target"]) for edge in graph["edges"]}
    assert {("__start__", "guard"), ("classify_intent", "clarify"), ("respond", "__end__")} <= edges
    xray = await client.assistants.get_graph(ASSISTANT_ID, xray=True)
    assert [node["id"] for node in xray["nodes"]] == GRAPH_NODES
    # The graph route takes the graph id for the assistant id too (RemoteGraph relies on it).
    assert (await client.assistants.get_graph(GRAPH_ID)) == graph

    schemas = await client.assistants.get_schemas(ASSISTANT_ID)
    assert set(schemas) == SCHEMA_KEYS, schemas.keys()
    assert schemas["graph_id"] == GRAPH_ID
    assert "messages" in schemas["input_schema"]["properties"]
    assert {"messages", "answer"} <= set(schemas["output_schema"]["properties"])
    assert set(schemas["state_schema"]["properties"]) == STATE_VALUE_KEYS


async def test_sdk_clarification_approval_answer(backend: Backend) -> None:
    file_name = new_file(backend, "sdk")
    backend.start(file_name)
    client = get_client(url=backend.url, api_key=None)
    thread = await client.threads.create()
    assert set(thread) == THREAD_KEYS, thread
    thread_id = thread["thread_id"]
    assert thread["status"] == "idle"

    async def history_length() -> int:
        return len(await client.threads.get_history(thread_id, limit=100))

    # Turn 1, streamed: the intent step asks; the run ends at the clarify node's interrupt.
    events: list[tuple[str, Any]] = []

    async def consume(**kwargs: Any) -> None:
        async for part in client.runs.stream(
            thread_id,
            GRAPH_ID,
            stream_mode=["values", "updates", "messages-tuple"],
            **kwargs,
        ):
            events.append((part.event, part.data))

    await asyncio.wait_for(
        consume(input={"messages": [{"role": "user", "content": REQUEST}]}), RUN_TIMEOUT
    )
    assert events[0][0] == "metadata" and set(events[0][1]) >= {"run_id"}, events[0]
    assert {event for event, _ in events} == {"metadata", "values", "updates"}, events
    updates = [node for event, data in events if event == "updates" for node in data]
    assert updates == ["guard", "classify_intent", "__interrupt__"], updates
    [streamed] = [data for event, data in events if event == "updates"][-1]["__interrupt__"]
    assert_clarification(streamed)
    last_values = [data for event, data in events if event == "values"][-1]
    assert set(last_values) == OUTPUT_KEYS | {"__interrupt__"}, sorted(last_values)
    assert [i["value"] for i in last_values["__interrupt__"]] == [streamed["value"]]

    state = await client.threads.get_state(thread_id)
    assert_clarification(assert_waiting_at(state, "clarify"))
    # A thread that has run also carries its pending interrupts (by task id) and error.
    paused = await client.threads.get(thread_id)
    assert set(paused) == THREAD_KEYS | {"error", "interrupts"}, sorted(paused)
    assert paused["status"] == "interrupted" and paused["error"] is None, paused
    assert list(paused["interrupts"]) == [state["tasks"][0]["id"]], paused["interrupts"]
    [listed] = paused["interrupts"][state["tasks"][0]["id"]]
    assert set(listed) == INTERRUPT_KEYS, listed
    assert_clarification(listed)
    lengths = [await history_length()]

    # Turn 2, waited: the answer resumes the clarification; the write waits for approval.
    waited = await asyncio.wait_for(
        client.runs.wait(
            thread_id,
            GRAPH_ID,
            command={"resume": {"answer": clarification_for(file_name)}},
        ),
        RUN_TIMEOUT,
    )
    assert isinstance(waited, dict), waited
    [asked] = waited["__interrupt__"]
    assert_approval(backend, asked, file_name)
    state = await client.threads.get_state(thread_id)
    pending = assert_waiting_at(state, "execute")
    assert_approval(backend, pending, file_name)
    assert not (backend.workspace / file_name).exists()
    lengths.append(await history_length())

    # Turn 3, streamed with tokens: approving runs the write, then the answer streams.
    events.clear()
    await asyncio.wait_for(consume(command={"resume": backend.approve()}), RUN_TIMEOUT)
    assert not [data for event, data in events if event == "error"], events
    streamed_text = "".join(
        message_text(data[0])
        for event, data in events
        if event == "messages" and data[1].get("langgraph_node") == "respond"
    )
    assert streamed_text == answer_for(file_name), events
    assert [data for event, data in events if event == "values"][-1]["answer"] == answer_for(
        file_name
    )
    state = await client.threads.get_state(thread_id)
    assert_finished(backend, state, file_name)
    assert (await client.threads.get(thread_id))["status"] == "idle"
    lengths.append(await history_length())

    # update_state writes one more checkpoint, as the respond node.
    updated = await client.threads.update_state(thread_id, {"answer": "edited"}, as_node="respond")
    assert "checkpoint" in updated, updated  # all langgraph_sdk's type promises
    assert set(updated["checkpoint"]) == CHECKPOINT_KEYS, updated
    state = await client.threads.get_state(thread_id)
    assert state["values"]["answer"] == "edited"
    assert state["checkpoint"]["checkpoint_id"] == updated["checkpoint"]["checkpoint_id"]
    assert state["metadata"]["source"] == "update", state["metadata"]
    assert state["next"] == []
    lengths.append(await history_length())
    assert lengths == sorted(lengths) and len(set(lengths)) == len(lengths), lengths
    assert lengths[-1] == lengths[-2] + 1, lengths

    history = await client.threads.get_history(thread_id, limit=100)
    for entry in history:
        assert_thread_state(entry)
    steps = [entry["metadata"]["step"] for entry in history]
    assert steps == sorted(steps, reverse=True), steps  # newest first


# ---- 2. RemoteGraph --------------------------------------------------------------------------


def remote_graph(backend: Backend) -> RemoteGraph:
    return RemoteGraph(
        GRAPH_ID,
        client=get_client(url=backend.url, api_key=None),
        sync_client=get_sync_client(url=backend.url, api_key=None),
    )


def thread_config() -> dict[str, Any]:
    return {"configurable": {"thread_id": str(uuid.uuid4())}}


def snapshot_interrupt(snapshot: Any) -> dict[str, Any]:
    """The one pending interrupt of a StateSnapshot, as a dict."""
    [task] = snapshot.tasks
    [pending] = task.interrupts
    assert snapshot.interrupts == (pending,), snapshot.interrupts
    return {"value": pending.value, "id": pending.id}


def test_remote_graph_sync(backend: Backend) -> None:
    file_name = new_file(backend, "remote-sync")
    backend.start(file_name)
    remote = remote_graph(backend)
    config = thread_config()

    def history_length() -> int:
        return len(list(remote.get_state_history(config, limit=100)))

    first = remote.invoke({"messages": [{"role": "user", "content": REQUEST}]}, config)
    assert set(first) == OUTPUT_KEYS | {"__interrupt__"}, sorted(first)
    [asked] = first["__interrupt__"]
    assert_clarification(asked)
    snapshot = remote.get_state(config)
    assert snapshot.next == ("clarify",)
    assert_clarification(snapshot_interrupt(snapshot))
    assert [t.name for t in snapshot.tasks] == ["clarify"]
    lengths = [history_length()]

    updates = list(
        remote.stream(
            Command(resume={"answer": clarification_for(file_name)}),
            config,
            stream_mode="updates",
        )
    )
    assert [node for update in updates for node in update] == [
        "clarify",
        "classify_intent",
        "plan",
        "__interrupt__",
    ], updates
    [asked] = updates[-1]["__interrupt__"]
    assert_approval(backend, asked, file_name)
    snapshot = remote.get_state(config)
    assert snapshot.next == ("execute",)
    assert_approval(backend, snapshot_interrupt(snapshot), file_name)
    lengths.append(history_length())

    final = remote.invoke(Command(resume=backend.approve()), config)
    assert "__interrupt__" not in final, final
    assert final["answer"] == answer_for(file_name)
    assert_finished(backend, _state_dict(remote, config), file_name)
    lengths.append(history_length())

    updated = remote.update_state(config, {"answer": "edited"}, as_node="respond")
    assert updated["configurable"]["thread_id"] == config["configurable"]["thread_id"]
    snapshot = remote.get_state(config)
    assert snapshot.values["answer"] == "edited" and snapshot.next == ()
    assert (
        snapshot.config["configurable"]["checkpoint_id"] == updated["configurable"]["checkpoint_id"]
    )
    lengths.append(history_length())
    assert lengths == sorted(lengths) and len(set(lengths)) == len(lengths), lengths

    drawn = remote.get_graph()
    assert list(drawn.nodes) == GRAPH_NODES


def _state_dict(remote: RemoteGraph, config: dict[str, Any]) -> dict[str, Any]:
    """The thread's ThreadState as the server sends it (RemoteGraph turns it into a
    StateSnapshot, which drops keys the shape assertions check)."""
    assert remote.sync_client is not None
    return remote.sync_client.threads.get_state(config["configurable"]["thread_id"])  # type: ignore[return-value]


async def test_remote_graph_async(backend: Backend) -> None:
    file_name = new_file(backend, "remote-async")
    backend.start(file_name)
    remote = remote_graph(backend)
    config = thread_config()

    async def history_length() -> int:
        return len([s async for s in remote.aget_state_history(config, limit=100)])

    chunks = [
        chunk
        async for chunk in remote.astream(
            {"messages": [{"role": "user", "content": REQUEST}]},
            config,
            stream_mode=["values", "updates"],
        )
    ]
    modes = [chunk.event for chunk in chunks]
    assert set(modes) == {"values", "updates"}, modes
    [asked] = [c.data for c in chunks if c.event == "updates"][-1]["__interrupt__"]
    assert_clarification(asked)
    snapshot = await remote.aget_state(config)
    assert snapshot.next == ("clarify",)
    lengths = [await history_length()]

    second = await remote.ainvoke(Command(resume={"answer": clarification_for(file_name)}), config)
    [asked] = second["__interrupt__"]
    assert_approval(backend, asked, file_name)
    snapshot = await remote.aget_state(config)
    assert snapshot.next == ("execute",)
    assert_approval(backend, snapshot_interrupt(snapshot), file_name)
    lengths.append(await history_length())

    values = [chunk async for chunk in remote.astream(Command(resume=backend.approve()), config)]
    assert [node for update in values for node in update] == [
        "execute",
        "validate",
        "respond",
    ], values
    assert values[-1]["respond"]["answer"] == answer_for(file_name)
    assert remote.sync_client is not None
    assert_finished(backend, _state_dict(remote, config), file_name)
    lengths.append(await history_length())

    updated = await remote.aupdate_state(config, {"answer": "edited"}, as_node="respond")
    snapshot = await remote.aget_state(config)
    assert snapshot.values["answer"] == "edited"
    assert (
        snapshot.config["configurable"]["checkpoint_id"] == updated["configurable"]["checkpoint_id"]
    )
    lengths.append(await history_length())
    assert lengths == sorted(lengths) and len(set(lengths)) == len(lengths), lengths

    drawn = await remote.aget_graph(xray=True)
    assert list(drawn.nodes) == GRAPH_NODES


class ParentState(TypedDict, total=False):
    messages: Annotated[list[Any], add_messages]
    answer: str


def test_remote_graph_as_a_node_of_a_checkpointed_parent(backend: Backend) -> None:
    """The remote assistant as one node of a local graph with its own checkpointer: a turn
    flows through it into the parent's state, and an interrupt inside it pauses the parent
    with the remote interrupt's value. (The parent is not resumed here: RemoteGraph sends the
    node's input again rather than the resume value, on any server.)"""
    remote = remote_graph(backend)
    builder = StateGraph(ParentState)
    builder.add_node("assistant", remote)
    builder.add_edge(START, "assistant")
    builder.add_edge("assistant", END)
    parent = builder.compile(checkpointer=InMemorySaver())
    config = thread_config()

    backend.stub.set_scenario(
        {"model": "test-model", "IntentResult": [intent("conversation")], "text": ["Hi there."]}
    )
    backend.stub.reset()
    done = parent.invoke({"messages": [("user", "hello")]}, config)
    assert done["answer"] == "Hi there.", done
    assert [(m.type, m.content) for m in done["messages"]] == [
        ("human", "hello"),
        ("ai", "Hi there."),
    ]
    # The remote thread is the parent's thread id, created on first use.
    remote_state = remote.get_state(config)
    assert [message_text(m) for m in remote_state.values["messages"]] == ["hello", "Hi there."]
    assert parent.get_state(config).next == ()

    file_name = new_file(backend, "parent")
    backend.start(file_name)
    paused = parent.invoke({"messages": [("user", REQUEST)]}, config)
    [pending] = paused["__interrupt__"]
    assert_clarification({"value": pending.value, "id": pending.id})
    snapshot = parent.get_state(config)
    assert snapshot.next == ("assistant",)
    [task] = snapshot.tasks
    assert [i.value for i in task.interrupts] == [pending.value]
    assert remote.get_state(config).next == ("clarify",)


# ---- 3. agent-chat-ui's and Studio's request bodies, replayed --------------------------------


def load_requests() -> list[dict[str, Any]]:
    data = json.loads(REQUESTS_FILE.read_text(encoding="utf-8"))
    requests: list[dict[str, Any]] = data["requests"]
    for request in requests:
        assert request["source"], request  # every body names where it was read
    return requests


def replay(
    backend: Backend, http: httpx.Client, request: dict[str, Any], slots: dict[str, Any]
) -> Replayed:
    body = substitute(request.get("body"), slots)
    resume = (body or {}).get("command", {}).get("resume") if isinstance(body, dict) else None
    if not backend.hitl and isinstance(resume, dict) and "decisions" in resume:
        body["command"]["resume"] = backend.approve()  # the raw graph reads lmsa's own answer
    return send_request(
        http,
        request["method"],
        substitute(request["path"], slots),
        body,
        content_type=request.get("content_type", "application/json"),
    )


def run_replay(backend: Backend, file_name: str) -> dict[str, tuple[Replayed, dict[str, Any]]]:
    """Every recorded request, in order, against ``backend``; slots are filled from earlier
    responses the way the clients fill them."""
    backend.start(file_name)
    slots: dict[str, Any] = {
        "assistant_id": ASSISTANT_ID,
        "graph_id": GRAPH_ID,
        "request_text": REQUEST,
        "clarification_text": clarification_for(file_name),
    }
    results: dict[str, tuple[Replayed, dict[str, Any]]] = {}
    with httpx.Client(base_url=backend.url, timeout=RUN_TIMEOUT) as http:
        for request in load_requests():
            slots["message_id"] = str(uuid.uuid4())
            replayed = replay(backend, http, request, slots)
            results[request["name"]] = (replayed, response_shape(replayed))
            body = replayed.body
            if request["name"] == "create_thread" and isinstance(body, dict):
                slots["thread_id"] = body["thread_id"]
            if request.get("reads_history") and isinstance(body, list) and body:
                head = dict(body[0]["checkpoint"])
                slots["checkpoint_id"] = head["checkpoint_id"]
                slots["head_checkpoint_with_thread"] = dict(head)
                head.pop("thread_id", None)  # what useStream sends back
                slots["head_checkpoint"] = head
    return results


def test_client_request_bodies_replayed_against_both_servers(
    reference: Backend, lmsa: Backend
) -> None:
    requests = load_requests()
    reference_file = new_file(reference, "replay")
    expected = run_replay(reference, reference_file)
    file_name = new_file(lmsa, "replay")
    got = run_replay(lmsa, file_name)

    differences = [
        f"{request['method']} {request['path']} ({request['name']}) {field}: "
        + describe_difference(
            expected[request["name"]][1].get(field), got[request["name"]][1].get(field), SERVERS
        )
        for request in requests
        for field in sorted(set(expected[request["name"]][1]) | set(got[request["name"]][1]))
        if expected[request["name"]][1].get(field) != got[request["name"]][1].get(field)
    ]
    problems = replay_outcome(reference, expected, reference_file) + replay_outcome(
        lmsa, got, file_name
    )
    assert not differences + problems, "\n".join(differences + problems)


def replay_outcome(
    backend: Backend, results: dict[str, tuple[Replayed, dict[str, Any]]], file_name: str
) -> list[str]:
    """What went wrong in the replayed conversation on ``backend``, if anything: every
    request answered 200, the thread listed by graph id, the first message paused for
    clarification, the second (sent on the interrupted thread, as agent-chat-ui does) for
    approval, and the approval ran the write and produced the answer."""
    body = {name: replayed.body for name, (replayed, _) in results.items()}
    problems = [
        f"{backend.name}: {name} answered {replayed.status}: {replayed.body!r:.300}"
        for name, (replayed, _) in results.items()
        if replayed.status != 200
    ]
    if problems:
        return problems
    checks = {
        "thread listed by graph_id": body["create_thread"]["thread_id"]
        in [thread["thread_id"] for thread in body["agent_chat_ui_thread_list"]],
        "first message waits at clarify": body["history_after_first_message"][0]["next"]
        == ["clarify"],
        "second message waits at execute": body["history_after_second_message"][0]["next"]
        == ["execute"],
        "approval shown with buttons": not backend.hitl
        or all(
            map(is_agent_inbox_interrupt, body["history_after_second_message"][0]["interrupts"])
        ),
        "approval finished the turn": body["history_after_approval"][0]["next"] == [],
        "answer given": body["history_after_approval"][0]["values"]["answer"]
        == answer_for(file_name),
        "file written": (backend.workspace / file_name).exists()
        and (backend.workspace / file_name).read_text(encoding="utf-8") == CONTENT,
    }
    return [f"{backend.name}: not {what}" for what, ok in checks.items() if not ok]


# ---- 4. one thread, two lmsa serve instances -------------------------------------------------


async def test_thread_started_on_one_instance_finishes_on_the_other(lmsa: Backend) -> None:
    file_name = new_file(lmsa, "two-instances")
    lmsa.start(file_name)
    first = get_client(url=lmsa.url, api_key=None)
    second = get_client(url=lmsa.second_url, api_key=None)
    thread_id = (await first.threads.create())["thread_id"]

    waited = await first.runs.wait(
        thread_id, GRAPH_ID, input={"messages": [{"role": "user", "content": REQUEST}]}
    )
    assert_clarification(waited["__interrupt__"][0])

    seen = await second.threads.get(thread_id)
    assert seen["status"] == "interrupted", seen
    assert_clarification(assert_waiting_at(await second.threads.get_state(thread_id), "clarify"))

    waited = await second.runs.wait(
        thread_id, GRAPH_ID, command={"resume": {"answer": clarification_for(file_name)}}
    )
    assert_approval(lmsa, waited["__interrupt__"][0], file_name)
    await first.runs.wait(thread_id, GRAPH_ID, command={"resume": lmsa.approve()})
    assert_finished(lmsa, await second.threads.get_state(thread_id), file_name)
    history_first = await first.threads.get_history(thread_id, limit=100)
    history_second = await second.threads.get_history(thread_id, limit=100)
    assert [h["checkpoint"] for h in history_first] == [h["checkpoint"] for h in history_second]
