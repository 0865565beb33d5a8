"""The whole assistant graph driven by a real model (no scripted replies anywhere).

Assertions are about structure and effects: which nodes ran, that every structured reply
parsed, that the intent is an allowed label, that a planned file tool really ran in the temp
workspace, that an interrupt pauses and resumes the thread, that an answer came back.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, get_args

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from lmsa.config import Settings
from lmsa.context import Context
from lmsa.graphs.builder import build_assistant, make_services
from lmsa.nodes.intent import IntentName, is_unsure
from lmsa.tools import ToolRegistry, Workspace, make_file_tools

pytestmark = pytest.mark.e2e

INTENTS = set(get_args(IntentName))
READ_TOOLS = {"read_file", "list_dir"}
PARSE_FAILURE = "could not be read as"


def read_tools(workspace: Path) -> ToolRegistry:
    """Two read-only file tools: the planner prompt lists every tool's schema, and a short list
    keeps a 0.5B model's prompt (and the test) short; no write tool means no approval step."""
    return ToolRegistry(
        tool for tool in make_file_tools(Workspace(workspace)) if tool.name in READ_TOOLS
    )


class Run:
    """A compiled graph on one thread, recording the nodes each call visits."""

    def __init__(self, settings: Settings) -> None:
        services = make_services(settings, tools=read_tools(settings.workspace))
        self.graph = build_assistant(services).compile(checkpointer=InMemorySaver(), name="lmsa")
        self.config: Any = {"configurable": {"thread_id": str(uuid.uuid4())}}

    async def __call__(self, payload: Any, context: Context) -> tuple[list[str], list[Any]]:
        nodes: list[str] = []
        interrupts: list[Any] = []
        async for update in self.graph.astream(
            payload, self.config, context=context, stream_mode="updates"
        ):
            for name, value in update.items():
                if name == "__interrupt__":
                    interrupts.extend(value)
                else:
                    nodes.append(name)
        return nodes, interrupts

    async def values(self) -> dict[str, Any]:
        return dict((await self.graph.aget_state(self.config)).values)


def assert_no_parse_failures(values: dict[str, Any]) -> None:
    assert PARSE_FAILURE not in (values.get("error") or "")
    assert not any(PARSE_FAILURE in note for note in values.get("notes") or [])


async def test_a_question_about_a_named_file_reads_it_before_answering(
    settings: Settings, workspace: Path
) -> None:
    """Asked in plain words about a file in the workspace, the assistant reads that file before
    the model plans (grounding), the tool really runs, the model's own plan holds only reads (or
    nothing more to do), and an answer comes back; a successful read needs no self-check
    call."""
    run = Run(settings)
    context = Context(clarify_threshold=0.0, max_clarify_rounds=0, max_iterations=1)
    request = "What is the launch code written in notes.txt?"
    nodes, interrupts = await run({"messages": [HumanMessage(content=request)]}, context)
    values = await run.values()

    assert not interrupts
    assert nodes[:2] == ["guard", "classify_intent"]
    assert nodes[-1] == "respond"
    assert_no_parse_failures(values)
    assert values["intent"]["intent"] in INTENTS
    assert 0.0 <= values["intent"]["confidence"] <= 1.0

    assert nodes.count("plan") >= 2 and "execute" in nodes, nodes
    plan = values["plan"]
    assert plan is not None, plan
    assert {step["tool"] for step in plan["steps"]} <= READ_TOOLS
    results = values["results"]
    assert results[0]["grounding"] is True and results[0]["args"]["path"] == "notes.txt"
    assert results, "the planned steps must have been executed"
    assert all(result["tool"] in READ_TOOLS for result in results)
    reads = [r for r in results if r["tool"] == "read_file" and r["ok"]]
    assert reads, results
    assert "PINEAPPLE-42" in reads[0]["output"], "read_file returned the file's real content"
    if all(r["ok"] for r in results):
        assert "validate" not in nodes, nodes

    assert isinstance(values["answer"], str) and values["answer"].strip()
    assert isinstance(values["messages"][-1], AIMessage)
    assert values["messages"][-1].content == values["answer"]
    assert sorted(p.name for p in workspace.iterdir()) == ["notes.txt"], "a read changes nothing"


async def test_clarification_interrupts_then_resumes_to_an_answer(settings: Settings) -> None:
    """A threshold above any confidence makes every question the model writes an interrupt; one
    round is allowed, so after the answer the graph proceeds instead of asking again."""
    run = Run(settings)
    context = Context(clarify_threshold=1.01, max_clarify_rounds=1, max_iterations=1)
    nodes, interrupts = await run({"messages": [HumanMessage(content="Fix it.")]}, context)

    assert nodes == ["guard", "classify_intent"], nodes
    assert len(interrupts) == 1
    question = interrupts[0].value
    assert question["kind"] == "clarification"
    assert question["round"] == 1 and question["max_rounds"] == 1
    assert isinstance(question["question"], str) and question["question"].strip()
    paused = await run.values()
    assert paused["intent"]["intent"] in INTENTS
    assert not paused.get("answer")

    answer = "I mean: list the files in the workspace."
    nodes, interrupts = await run(Command(resume={"answer": answer}), context)
    values = await run.values()

    assert not interrupts
    assert nodes[:2] == ["clarify", "classify_intent"], nodes
    assert nodes[-1] == "respond"
    assert_no_parse_failures(values)
    assert values["clarification_rounds"] == 1
    assert values["clarifications"] == [{"question": question["question"], "answer": answer}]
    # With its one round used, a model still asking gets a "best guess" note; one that has no
    # further question of its own is simply sure now.
    still_unsure = is_unsure(values["intent"], context, values.get("workspace"), answer)
    assert any("stayed unclear" in note for note in values["notes"]) == still_unsure
    texts = [m.content for m in values["messages"]]
    assert texts[:3] == ["Fix it.", question["question"], answer]
    assert values["answer"].strip()
    assert (await run.graph.aget_state(run.config)).next == ()
