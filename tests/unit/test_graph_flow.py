"""The compiled assistant end to end, driven by a scripted model over a temporary workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from langgraph.types import Command
from pydantic import ValidationError

from lmsa.context import Context
from tests.unit.helpers import (
    ask,
    direct_plan,
    intent,
    make_graph,
    plan,
    read_plan,
    step,
    system_text,
    text_of,
    thread,
    unsure,
    validation,
)

READ_SCRIPT: dict[str, list[Any]] = {
    "IntentResult": [intent("information_request")],
    "Plan": [read_plan("a.txt")],
    "Validation": [validation(True)],
    "text": ["The file says hello world."],
}

# A call that already succeeded this turn is not planned again, so a loop that keeps finding the
# results incomplete needs a new call each round.
DIFFERENT_PLANS: list[Any] = [
    read_plan("a.txt"),
    plan(step("s1", "list_dir", {"path": "."})),
    plan(step("s1", "search_files", {"pattern": "hello"})),
]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "a.txt").write_text("hello world\n")
    return tmp_path


def _nodes(updates: list[dict[str, Any]]) -> list[str]:
    return [node for update in updates for node in update]


async def _updates(graph: Any, payload: Any, config: dict[str, Any], **kw: Any) -> list[Any]:
    return [chunk async for chunk in graph.astream(payload, config, stream_mode="updates", **kw)]


# --- schemas ---------------------------------------------------------------------------------


def test_graph_exposes_narrow_input_and_output_schemas(workspace: Path) -> None:
    graph, _ = make_graph(workspace, READ_SCRIPT)
    input_schema = graph.get_input_jsonschema()
    output_schema = graph.get_output_jsonschema()
    assert set(input_schema["properties"]) == {"messages"}
    assert {"messages", "answer"} <= set(output_schema["properties"])
    internal = {"plan", "results", "plan_feedback", "validation", "iteration", "error", "notes"}
    assert not internal & set(output_schema["properties"])


# --- happy paths -----------------------------------------------------------------------------


async def test_file_request_runs_the_whole_pipeline(workspace: Path) -> None:
    graph, llm = make_graph(workspace, READ_SCRIPT)
    config = thread()
    updates = await _updates(graph, ask("what is in a.txt?"), config)
    # The named file is read before the model plans (no model call); the model's plan to read
    # it again is dropped, and a read needs no self-check: three model calls in all.
    assert _nodes(updates) == ["guard", "classify_intent", "plan", "execute", "plan", "respond"]
    assert [call["key"] for call in llm.calls] == ["IntentResult", "Plan", "text"]
    state = (await graph.aget_state(config)).values
    assert state["answer"] == "The file says hello world."
    (result,) = state["results"]
    assert result["ok"] is True
    assert "hello world" in result["output"]
    # The answer is written with the tool output in front of the model.
    assert "hello world" in system_text(llm.calls_for("text")[0])
    assert isinstance(state["messages"][-1], AIMessage)


async def test_validate_reads_checks_a_successful_read_too(workspace: Path) -> None:
    graph, llm = make_graph(workspace, READ_SCRIPT, validate_reads=True)
    updates = await _updates(graph, ask("what does the greeting file say?"), thread())
    assert _nodes(updates) == ["guard", "classify_intent", "plan", "execute", "validate", "respond"]
    assert [call["key"] for call in llm.calls] == ["IntentResult", "Plan", "Validation", "text"]


async def test_a_failed_step_goes_back_to_the_planner_without_a_verdict_call(
    workspace: Path,
) -> None:
    # A tool error needs no model to say the work is not done: the planner gets the error at
    # once (a small model asked instead often calls the failed step complete).
    script = {
        **READ_SCRIPT,
        "Plan": [read_plan("missing.txt"), plan(step("s1", "list_dir", {"path": "."}))],
        "text": ["No such file."],
    }
    graph, llm = make_graph(workspace, script, max_iterations=2)
    updates = await _updates(graph, ask("what is in missing.txt?"), thread())
    assert _nodes(updates)[2:] == ["plan", "execute", "validate", "plan", "execute", "respond"]
    assert llm.calls_for("Validation") == []
    replan_system = system_text(llm.calls_for("Plan")[1])
    assert "read_file failed" in replan_system and "missing.txt" in replan_system


async def test_a_failed_step_in_the_last_round_is_reported(workspace: Path) -> None:
    script = {**READ_SCRIPT, "Plan": [read_plan("missing.txt")], "text": ["No such file."]}
    graph, llm = make_graph(workspace, script, max_iterations=1)
    updates = await _updates(graph, ask("what is in missing.txt?"), thread())
    assert _nodes(updates)[-2:] == ["validate", "respond"]
    assert llm.calls_for("Validation") == []
    assert "Stopped after 1 attempts" in system_text(llm.calls_for("text")[0])


async def test_a_write_is_checked(workspace: Path) -> None:
    write = plan(step("s1", "write_file", {"path": "new.txt", "content": "hi"}))
    script = {**READ_SCRIPT, "Plan": [write], "text": ["Written."]}
    graph, _ = make_graph(workspace, script, auto_approve="write")
    updates = await _updates(graph, ask("create new.txt saying hi"), thread())
    assert _nodes(updates)[-2:] == ["validate", "respond"]
    assert (workspace / "new.txt").read_text() == "hi"


async def test_ainvoke_returns_only_the_output_schema(workspace: Path) -> None:
    graph, _ = make_graph(workspace, READ_SCRIPT)
    out = await graph.ainvoke(ask("what is in a.txt?"), thread())
    assert out["answer"] == "The file says hello world."
    assert "results" not in out
    assert "plan" not in out


async def test_conversation_goes_straight_to_respond(workspace: Path) -> None:
    graph, llm = make_graph(
        workspace, {"IntentResult": [intent("conversation")], "text": ["Hi there!"]}
    )
    updates = await _updates(graph, ask("hello"), thread())
    assert _nodes(updates) == ["guard", "classify_intent", "respond"]
    assert llm.calls_for("Plan") == []


async def test_direct_answer_plan_skips_execution(workspace: Path) -> None:
    graph, llm = make_graph(
        workspace,
        {"IntentResult": [intent("information_request")], "Plan": [direct_plan()], "text": ["42"]},
    )
    config = thread()
    updates = await _updates(graph, ask("what is 6*7?"), config)
    assert _nodes(updates) == ["guard", "classify_intent", "plan", "respond"]
    assert llm.calls_for("Validation") == []
    assert (await graph.aget_state(config)).values["results"] == []


# --- failures reported without the LLM ------------------------------------------------------


async def test_empty_message_is_answered_without_any_llm_call(workspace: Path) -> None:
    graph, llm = make_graph(workspace, READ_SCRIPT)
    out = await graph.ainvoke(ask("  "), thread())
    assert "empty" in out["answer"]
    assert llm.calls == []


async def test_oversize_message_is_refused(workspace: Path) -> None:
    graph, llm = make_graph(workspace, READ_SCRIPT, max_input_chars=20)
    out = await graph.ainvoke(ask("x" * 21), thread())
    assert "limit is 20" in out["answer"]
    assert llm.calls == []


async def test_unreadable_intent_is_reported_without_text_call(workspace: Path) -> None:
    graph, llm = make_graph(
        workspace, {"IntentResult": ["garbage"], "text": ["should not be used"]}
    )
    config = thread()
    updates = await _updates(graph, ask("do something"), config)
    assert _nodes(updates) == ["guard", "classify_intent", "respond"]
    state = (await graph.aget_state(config)).values
    assert "IntentResult" in state["answer"]
    assert state["messages"][-1].content == state["answer"]
    assert llm.calls_for("text") == []
    assert len(llm.calls_for("IntentResult")) == 2  # the repair round was tried


async def test_plan_attempts_cap_is_reported(workspace: Path) -> None:
    graph, llm = make_graph(
        workspace,
        {
            "IntentResult": [intent()],
            "Plan": [plan(step("s1", "teleport", {}))],
            "text": ["unused"],
        },
        max_plan_attempts=2,
    )
    out = await graph.ainvoke(ask("teleport me"), thread())
    assert "2 attempts" in out["answer"]
    assert "Unknown tool 'teleport'" in out["answer"]
    assert len(llm.calls_for("Plan")) == 2
    assert llm.calls_for("text") == []


# --- plan repair and re-planning ------------------------------------------------------------


async def test_rejected_plan_is_fixed_on_the_second_attempt(workspace: Path) -> None:
    script = {
        **READ_SCRIPT,
        "Plan": [plan(step("s1", "read_file", {"file": "a.txt"})), read_plan("a.txt")],
    }
    graph, llm = make_graph(workspace, script)
    config = thread()
    updates = await _updates(graph, ask("read the greeting file"), config)
    assert _nodes(updates)[:5] == ["guard", "classify_intent", "plan", "plan", "execute"]
    second = llm.calls_for("Plan")[1]["messages"]
    assert "unexpected argument 'file'" in second[-1].content
    assert "'path' is required" in second[-1].content
    assert (await graph.aget_state(config)).values["results"][0]["ok"] is True


async def test_incomplete_results_loop_back_to_plan(workspace: Path) -> None:
    (workspace / "b.txt").write_text("second file\n")
    script = {
        "IntentResult": [intent()],
        "Plan": [read_plan("a.txt"), read_plan("b.txt")],
        "Validation": [validation(False, "b.txt not read", "read b.txt"), validation(True)],
        "text": ["Both read."],
    }
    graph, llm = make_graph(workspace, script, validate_reads=True)
    config = thread()
    updates = await _updates(graph, ask("read both text files"), config)
    assert _nodes(updates) == [
        "guard", "classify_intent",
        "plan", "execute", "validate",
        "plan", "execute", "validate",
        "respond",
    ]  # fmt: skip
    replan_system = system_text(llm.calls_for("Plan")[1])
    assert "b.txt not read" in replan_system
    assert "hello world" in replan_system  # the first round's results
    state = (await graph.aget_state(config)).values
    assert [(r["iteration"], r["ok"]) for r in state["results"]] == [(0, True), (1, True)]
    assert "second file" in system_text(llm.calls_for("text")[0])


async def test_iterations_are_capped_with_a_note(workspace: Path) -> None:
    script = {
        **READ_SCRIPT,
        "Plan": DIFFERENT_PLANS,
        "Validation": [validation(False, "never enough")],
    }
    graph, llm = make_graph(workspace, script, max_iterations=2, validate_reads=True)
    out = await graph.ainvoke(ask("read everything"), thread())
    assert len(llm.calls_for("Plan")) == 2
    assert len(llm.calls_for("Validation")) == 2
    assert out["answer"] == "The file says hello world."
    respond_system = system_text(llm.calls_for("text")[0])
    assert "Stopped after 2 attempts" in respond_system
    assert "never enough" in respond_system


async def test_unreadable_verdict_still_produces_an_answer(workspace: Path) -> None:
    graph, llm = make_graph(
        workspace, {**READ_SCRIPT, "Validation": ["?", "??"]}, validate_reads=True
    )
    out = await graph.ainvoke(ask("read the greeting file"), thread())
    assert out["answer"] == "The file says hello world."
    assert "Self-check skipped" in system_text(llm.calls_for("text")[0])
    assert len(llm.calls_for("Plan")) == 1


async def test_context_override_changes_the_iteration_cap(workspace: Path) -> None:
    script = {**READ_SCRIPT, "Plan": DIFFERENT_PLANS, "Validation": [validation(False, "more")]}
    graph, llm = make_graph(workspace, script, validate_reads=True)  # 3 iterations allowed
    await graph.ainvoke(
        ask("read"), thread(), context=Context(max_iterations=1, validate_reads=True)
    )
    assert len(llm.calls_for("Plan")) == 1
    assert "Stopped after 1 attempts" in system_text(llm.calls_for("text")[0])

    graph, llm = make_graph(workspace, script, validate_reads=True)
    await graph.ainvoke(ask("read"), thread())
    assert len(llm.calls_for("Plan")) == 3


async def test_context_override_changes_the_input_limit(workspace: Path) -> None:
    graph, llm = make_graph(workspace, READ_SCRIPT)
    out = await graph.ainvoke(ask("read a.txt"), thread(), context=Context(max_input_chars=3))
    assert "limit is 3" in out["answer"]
    assert llm.calls == []


# --- tools through the graph ----------------------------------------------------------------


async def test_workspace_escape_becomes_an_error_observation(workspace: Path) -> None:
    script = {**READ_SCRIPT, "Plan": [read_plan("../etc/passwd")], "text": ["I cannot."]}
    graph, llm = make_graph(workspace, script)
    config = thread()
    out = await graph.ainvoke(ask("show /etc/passwd"), config)
    assert out["answer"] == "I cannot."
    (result,) = (await graph.aget_state(config)).values["results"]
    assert result["ok"] is False
    assert "Refused path" in result["error"]
    assert result["output"] is None
    assert "root:" not in text_of(llm.calls_for("text")[0]["messages"])


async def test_absolute_path_outside_is_refused(workspace: Path) -> None:
    script = {**READ_SCRIPT, "Plan": [read_plan("/etc/hostname")]}
    graph, _ = make_graph(workspace, script)
    config = thread()
    await graph.ainvoke(ask("read /etc/hostname"), config)
    (result,) = (await graph.aget_state(config)).values["results"]
    assert result["ok"] is False
    assert "outside the workspace" in result["error"]


# --- clarification ---------------------------------------------------------------------------


async def test_clarify_interrupt_and_resume(workspace: Path) -> None:
    script = {
        **READ_SCRIPT,
        "IntentResult": [unsure("Which file should I read?"), intent(entities=["a.txt"])],
    }
    graph, llm = make_graph(workspace, script)
    config = thread()
    first = await graph.ainvoke(ask("read the file"), config)
    (pending,) = first["__interrupt__"]
    assert pending.value == {
        "kind": "clarification",
        "question": "Which file should I read?",
        "round": 1,
        "max_rounds": 2,
    }
    assert pending.response_schema["properties"]["answer"]["type"] == "string"
    assert pending.response_schema["required"] == ["answer"]
    assert llm.calls_for("Plan") == []

    out = await graph.ainvoke(Command(resume={"answer": "the one called a.txt"}), config)
    assert out["answer"] == "The file says hello world."
    reclassify = llm.calls_for("IntentResult")[1]["messages"]
    seen = text_of(reclassify)
    assert "read the file" in seen
    assert "Which file should I read?" in seen
    assert "the one called a.txt" in seen
    state = (await graph.aget_state(config)).values
    assert state["clarification_rounds"] == 1
    assert state["clarifications"] == [
        {"question": "Which file should I read?", "answer": "the one called a.txt"}
    ]


async def test_unsure_without_a_question_of_its_own_proceeds(workspace: Path) -> None:
    """No generic "say more" question: a model that is unsure but cannot name what is
    missing is asked nothing, and the stated task goes ahead."""
    script = {**READ_SCRIPT, "IntentResult": [intent(confidence=0.1)]}
    graph, llm = make_graph(workspace, script, clarify_threshold=0.6)
    out = await graph.ainvoke(ask("what is in a.txt?"), thread())
    assert "__interrupt__" not in out
    assert out["answer"] == "The file says hello world."
    assert len(llm.calls_for("Plan")) == 1


async def test_low_confidence_with_a_question_asks_it(workspace: Path) -> None:
    script = {**READ_SCRIPT, "IntentResult": [intent(confidence=0.1, clarifying_question="Which?")]}
    graph, _ = make_graph(workspace, script, clarify_threshold=0.6)
    out = await graph.ainvoke(ask("hmm"), thread())
    assert out["__interrupt__"][0].value["question"] == "Which?"


async def test_invalid_resume_is_rejected_and_the_interrupt_stays(workspace: Path) -> None:
    script = {**READ_SCRIPT, "IntentResult": [unsure(), intent()]}
    graph, llm = make_graph(workspace, script)
    config = thread()
    await graph.ainvoke(ask("read it"), config)
    with pytest.raises(ValidationError):
        await graph.ainvoke(Command(resume={"answer": ""}), config)
    with pytest.raises(ValidationError):
        await graph.ainvoke(Command(resume={"reply": "a.txt"}), config)
    snapshot = await graph.aget_state(config)
    assert snapshot.next == ("clarify",)
    assert len(snapshot.interrupts) == 1
    assert len(llm.calls_for("IntentResult")) == 1  # nothing ran past the interrupt

    out = await graph.ainvoke(Command(resume={"answer": "a.txt"}), config)
    assert out["answer"] == "The file says hello world."


async def test_two_clarification_rounds_then_best_guess(workspace: Path) -> None:
    script = {**READ_SCRIPT, "IntentResult": [unsure("Which file?")]}  # never becomes sure
    graph, llm = make_graph(workspace, script)
    config = thread()
    first = await graph.ainvoke(ask("do the thing"), config)
    assert first["__interrupt__"][0].value["round"] == 1
    second = await graph.ainvoke(Command(resume={"answer": "the thing"}), config)
    assert second["__interrupt__"][0].value["round"] == 2
    assert second["__interrupt__"][0].value["max_rounds"] == 2
    out = await graph.ainvoke(Command(resume={"answer": "you know"}), config)
    assert "__interrupt__" not in out
    assert out["answer"] == "The file says hello world."
    assert len(llm.calls_for("IntentResult")) == 3
    assert len(llm.calls_for("Plan")) == 1
    state = (await graph.aget_state(config)).values
    assert state["clarification_rounds"] == 2
    assert any("best guess" in note for note in state["notes"])
    assert "best guess" in system_text(llm.calls_for("text")[0])


async def test_clarify_rounds_follow_the_run_context(workspace: Path) -> None:
    script = {**READ_SCRIPT, "IntentResult": [unsure("Which file?")]}
    graph, llm = make_graph(workspace, script)
    config = thread()
    context = Context(max_clarify_rounds=1)
    first = await graph.ainvoke(ask("do the thing"), config, context=context)
    assert first["__interrupt__"][0].value["max_rounds"] == 1
    out = await graph.ainvoke(Command(resume={"answer": "that"}), config, context=context)
    assert "__interrupt__" not in out
    assert len(llm.calls_for("Plan")) == 1


@pytest.mark.parametrize(
    ("key", "history_turns"),
    [("Validation", 6), ("IntentResult", 1), ("Plan", 1), ("text", 1)],
)
async def test_clarified_request_stays_in_the_prompts(
    workspace: Path, key: str, history_turns: int
) -> None:
    # The validator always gets only the latest user turn (and the others the last
    # ``history_turns``); after a clarification that turn must still include the request
    # itself, or the model judges, plans and answers for "a.txt" alone.
    script = {**READ_SCRIPT, "IntentResult": [unsure("Which file?"), intent()]}
    graph, llm = make_graph(workspace, script, history_turns=history_turns, validate_reads=True)
    config = thread()
    await graph.ainvoke(ask("summarise the file for me"), config)
    await graph.ainvoke(Command(resume={"answer": "the greeting one"}), config)
    seen = text_of(llm.calls_for(key)[-1]["messages"][1:])  # the conversation, not the system
    assert "Which file?" in seen
    assert "summarise the file for me" in seen


async def test_new_message_while_clarification_pending_starts_a_new_turn(
    workspace: Path,
) -> None:
    script = {"IntentResult": [unsure(), intent("conversation")], "text": ["Hi!"]}
    graph, _ = make_graph(workspace, script)
    config = thread()
    first = await graph.ainvoke(ask("do it"), config)
    assert first["__interrupt__"]
    out = await graph.ainvoke(ask("never mind, hello"), config)
    assert out["answer"] == "Hi!"
    snapshot = await graph.aget_state(config)
    assert snapshot.next == ()
    assert snapshot.interrupts == ()
    assert snapshot.values["clarification_rounds"] == 0


# --- multi-turn ------------------------------------------------------------------------------


async def test_second_turn_starts_clean(workspace: Path) -> None:
    script = {
        "IntentResult": [intent(), intent("conversation")],
        "Plan": [read_plan("a.txt")],
        "Validation": [validation(True)],
        "text": ["It says hello world.", "You're welcome."],
    }
    graph, llm = make_graph(workspace, script)
    config = thread()
    await graph.ainvoke(ask("what is in a.txt?"), config)
    assert (await graph.aget_state(config)).values["results"]

    out = await graph.ainvoke(ask("thanks!"), config)
    assert out["answer"] == "You're welcome."
    state = (await graph.aget_state(config)).values
    assert state["results"] == []
    assert state["plan"] is None
    assert state["validation"] is None
    assert state["iteration"] == 0
    assert state["intent"]["intent"] == "conversation"
    # History reaches the intent classifier ...
    seen = text_of(llm.calls_for("IntentResult")[1]["messages"])
    assert "what is in a.txt?" in seen
    assert "It says hello world." in seen
    assert "thanks!" in seen
    # ... but the old tool results do not reach the new answer's prompt.
    second_answer_system = system_text(llm.calls_for("text")[1])
    assert "TOOL_RESULTS" not in second_answer_system
    assert [type(m).__name__ for m in state["messages"]] == [
        "HumanMessage",
        "AIMessage",
        "HumanMessage",
        "AIMessage",
    ]


async def test_error_does_not_leak_into_the_next_turn(workspace: Path) -> None:
    script = {"IntentResult": ["bad", "bad", intent("conversation")], "text": ["Hello again."]}
    graph, _ = make_graph(workspace, script)
    config = thread()
    first = await graph.ainvoke(ask("hi"), config)
    assert "IntentResult" in first["answer"]
    second = await graph.ainvoke(ask("hi again"), config)
    assert second["answer"] == "Hello again."
    assert (await graph.aget_state(config)).values["error"] is None


# --- streaming -------------------------------------------------------------------------------


async def test_stream_carries_only_answer_tokens(workspace: Path) -> None:
    script = {**READ_SCRIPT, "text": ["The file says hello world."]}
    graph, _ = make_graph(workspace, script)
    tokens: list[tuple[str, Any]] = []
    updates: list[str] = []
    async for mode, chunk in graph.astream(
        ask("read the greeting file"), thread(), stream_mode=["messages", "updates"]
    ):
        if mode == "messages":
            message, metadata = chunk
            tokens.append((metadata["langgraph_node"], message))
        else:
            updates.extend(chunk)
    assert updates == ["guard", "classify_intent", "plan", "execute", "respond"]
    nodes = {node for node, _ in tokens}
    assert nodes == {"respond"}, nodes  # intent/plan/validate calls are tagged nostream
    pieces = [m.content for _, m in tokens if isinstance(m, AIMessageChunk) and m.content]
    assert len(pieces) > 1
    assert "".join(pieces) == "The file says hello world."


async def test_stream_of_a_clarified_turn_has_no_structured_tokens(workspace: Path) -> None:
    script = {**READ_SCRIPT, "IntentResult": [unsure(), intent()]}
    graph, _ = make_graph(workspace, script)
    config = thread()
    await graph.ainvoke(ask("read it"), config)
    nodes: list[str] = []
    async for message, metadata in graph.astream(
        Command(resume={"answer": "a.txt"}), config, stream_mode="messages"
    ):
        nodes.append(metadata["langgraph_node"])
        if metadata["langgraph_node"] == "clarify":
            assert isinstance(message, AIMessage | HumanMessage)
    assert not {"classify_intent", "plan", "validate"} & set(nodes)
    assert nodes.count("respond") > 1
