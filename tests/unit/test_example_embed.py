"""examples/embed_in_parent.py: the assistant runs inside a host graph, as a subgraph node and as
a tool, offline with scripted models."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from lmsa.config import Settings

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "embed_in_parent.py"


@pytest.fixture(scope="module")
def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("embed_in_parent", EXAMPLE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def settings(tmp_path: Path, example: ModuleType) -> Settings:
    (tmp_path / "notes.txt").write_text(example.NOTES + "\n", encoding="utf-8")
    return Settings(workspace=tmp_path)


async def test_subgraph_node_answers_into_the_host_state(
    example: ModuleType, settings: Settings
) -> None:
    llm = example.offline_assistant_model()

    state = await example.run_subgraph(settings, llm)

    assert state["customer_id"] == "cust-42"
    human, answer = state["messages"]
    assert isinstance(human, HumanMessage) and human.content == example.REQUEST
    assert isinstance(answer, AIMessage) and example.NOTES in answer.content
    assert [call["key"] for call in llm.calls] == ["IntentResult", "Plan", "text"]
    assert set(state) == {"messages", "customer_id"}  # nothing of the assistant's leaks in


async def test_assistant_as_tool_answers_the_host_agent(
    example: ModuleType, settings: Settings
) -> None:
    llm, host_llm = example.offline_assistant_model(), example.offline_host_model()

    state = await example.run_tool(settings, llm, host_llm)

    assert state["customer_id"] == "cust-42"
    tool_messages = [m for m in state["messages"] if isinstance(m, ToolMessage)]
    assert len(tool_messages) == 1
    assert tool_messages[0].name == "local_assistant"
    assert tool_messages[0].content == f"notes.txt says: {example.NOTES}"
    assert state["messages"][-1].content == f"Your notes: {example.NOTES}"
    assert len(llm.calls) == 3 and len(host_llm.calls) == 2


async def test_tool_takes_a_plain_request_and_returns_the_answer(
    example: ModuleType, settings: Settings
) -> None:
    tool = example.assistant_as_tool(settings, example.offline_assistant_model())

    assert tool.name == "local_assistant"
    assert set(tool.args) == {"request"}
    assert await tool.ainvoke({"request": example.REQUEST}) == f"notes.txt says: {example.NOTES}"


async def test_subgraph_clarification_pauses_and_resumes_the_host_thread(
    example: ModuleType, settings: Settings
) -> None:
    llm = example.offline_assistant_model()
    unsure = {
        "reasoning": "?",
        "intent": "file_operation",
        "confidence": 0.2,
        "needs_clarification": True,
        "clarifying_question": "Which file?",
    }
    llm.script["IntentResult"].insert(0, unsure)
    host = example.build_host_graph(settings, llm, InMemorySaver())
    config: RunnableConfig = {"configurable": {"thread_id": "t"}}

    paused = await host.ainvoke({"messages": [HumanMessage("read it")], "customer_id": "c"}, config)
    assert paused["__interrupt__"][0].value["question"] == "Which file?"

    state = await host.ainvoke(Command(resume={"answer": "notes.txt"}), config)
    assert state["customer_id"] == "c"
    assert example.NOTES in state["messages"][-1].content
