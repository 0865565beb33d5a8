"""Each node on its own: plain dict states in, state updates out, a scripted model in between."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import BaseTool, StructuredTool, ToolException

from lmsa.context import Services
from lmsa.nodes.execute import dependency_layers, make_execute
from lmsa.nodes.guard import SCREENED, make_guard
from lmsa.nodes.intent import make_classify_intent
from lmsa.nodes.plan import make_plan
from lmsa.nodes.respond import make_respond
from lmsa.nodes.validate import make_validate
from lmsa.state import fresh_turn
from lmsa.testing import ScriptedChatModel
from lmsa.tools import ToolRegistry
from tests.unit.helpers import (
    ctx,
    direct_plan,
    intent,
    plan,
    runtime,
    services,
    step,
    system_text,
    text_of,
    unsure,
    validation,
)


def _state(*texts: str, **fields: Any) -> dict[str, Any]:
    return {"messages": [HumanMessage(content=t) for t in texts], **fields}


def _result(
    step_id: str, tool: str = "read_file", ok: bool = True, **fields: Any
) -> dict[str, Any]:
    base = {
        "step_id": step_id,
        "tool": tool,
        "args": {"path": "a.txt"},
        "iteration": 0,
        "ok": ok,
        "output": "content of a.txt" if ok else None,
        "error": None if ok else "No such file",
        "duration_ms": 1.0,
    }
    return {**base, **fields}


def _tool(name: str, coroutine: Any, description: str = "A test tool.") -> BaseTool:
    return StructuredTool.from_function(coroutine=coroutine, name=name, description=description)


# --- guard -----------------------------------------------------------------------------------


@pytest.fixture
def guard(tmp_path: Path) -> Any:
    svc, _ = services(tmp_path, {})
    return make_guard(svc)


async def test_guard_accepts_a_normal_message(guard: Any) -> None:
    update = await guard(_state("hello"), ctx())
    assert update["error"] is None


@pytest.mark.parametrize("text", ["", "   \n\t "])
async def test_guard_rejects_an_empty_message(guard: Any, text: str) -> None:
    update = await guard(_state(text), ctx())
    assert "empty" in update["error"]


async def test_guard_rejects_an_oversize_message(guard: Any) -> None:
    update = await guard(_state("x" * 11), ctx(max_input_chars=10))
    assert "11 characters" in update["error"]
    assert "limit is 10" in update["error"]
    assert (await guard(_state("x" * 10), ctx(max_input_chars=10)))["error"] is None


async def test_guard_measures_content_parts(guard: Any) -> None:
    message = HumanMessage(
        content=[{"type": "text", "text": "x" * 8}, {"type": "text", "text": "yyy"}]
    )
    update = await guard({"messages": [message]}, ctx(max_input_chars=10))
    assert "11 characters" in update["error"]


async def test_guard_limit_defaults_to_settings(tmp_path: Path) -> None:
    svc, _ = services(tmp_path, {}, max_input_chars=5)
    update = await make_guard(svc)(_state("123456"), runtime(None))
    assert "limit is 5" in update["error"]


@pytest.mark.parametrize(
    "messages",
    [
        [],
        [HumanMessage("hi"), AIMessage("hello")],
        [
            HumanMessage("hi"),
            AIMessage("", tool_calls=[{"name": "t", "args": {}, "id": "1"}]),
            ToolMessage("out", tool_call_id="1"),
        ],
    ],
)
async def test_guard_requires_a_human_message_last(guard: Any, messages: list[Any]) -> None:
    update = await guard({"messages": messages}, ctx())
    assert "no new user message" in update["error"]


async def test_guard_resets_every_per_turn_field(guard: Any) -> None:
    previous = _state(
        "first",
        answer="old answer",
        intent=intent(),
        clarification_rounds=2,
        clarifications=[{"question": "q", "answer": "a"}],
        plan=plan(step("s1", "read_file", {"path": "a.txt"})),
        plan_attempts=2,
        plan_feedback=["{}", "bad"],
        results=[_result("s1")],
        validation=validation(False, "x"),
        iteration=3,
        notes=["old note"],
        error="old error",
    )
    previous["messages"].append(AIMessage("old answer"))
    previous["messages"].append(HumanMessage("second"))
    update = await guard(previous, ctx())
    # The conversation itself is kept: the user's messages come back unchanged, only marked as
    # screened (same ids, so add_messages overwrites them in place).
    kept = update.pop("messages")
    assert update == fresh_turn()
    assert [(m.id, m.content) for m in kept] == [
        (m.id, m.content) for m in previous["messages"] if isinstance(m, HumanMessage)
    ]
    assert all(m.additional_kwargs[SCREENED] for m in kept)
    assert await guard({**previous, "messages": kept}, ctx()) == fresh_turn()  # not checked twice


# --- classify_intent -------------------------------------------------------------------------


async def test_intent_is_stored_as_a_dict(tmp_path: Path) -> None:
    svc, llm = services(tmp_path, {"IntentResult": [intent("analysis_task", language="fr")]})
    update = await make_classify_intent(svc)(_state("Analyse ce fichier"), ctx())
    assert isinstance(update["intent"], dict)
    assert update["intent"]["intent"] == "analysis_task"
    assert update["intent"]["language"] == "fr"
    assert "error" not in update
    assert "notes" not in update
    (call,) = llm.calls
    assert isinstance(call["messages"][0], SystemMessage)
    assert call["messages"][-1].content == "Analyse ce fichier"


async def test_intent_uses_the_structured_output_style_from_context(tmp_path: Path) -> None:
    svc, llm = services(tmp_path, {"IntentResult": [intent()]})
    await make_classify_intent(svc)(_state("x"), ctx(structured_output="json_object"))
    assert llm.calls[0]["kwargs"]["response_format"]["type"] == "json_object"


async def test_intent_unreadable_reply_becomes_error(tmp_path: Path) -> None:
    svc, llm = services(tmp_path, {"IntentResult": ["I think it is a file thing", "{not json"]})
    update = await make_classify_intent(svc)(_state("do it"), ctx())
    assert "IntentResult" in update["error"]
    assert "intent" not in update
    assert len(llm.calls) == 2


async def test_intent_repair_round_succeeds(tmp_path: Path) -> None:
    svc, llm = services(tmp_path, {"IntentResult": ["oops", intent("navigation")]})
    update = await make_classify_intent(svc)(_state("go to src"), ctx())
    assert update["intent"]["intent"] == "navigation"
    repair = llm.calls[1]["messages"][-1]
    assert isinstance(repair, HumanMessage)
    assert "not valid JSON for the IntentResult schema" in repair.content


async def test_intent_history_is_limited_to_recent_turns(tmp_path: Path) -> None:
    svc, llm = services(tmp_path, {"IntentResult": [intent()]})
    state = {
        "messages": [
            HumanMessage("turn one"),
            AIMessage("reply one"),
            HumanMessage("turn two"),
            AIMessage("reply two"),
            HumanMessage("turn three"),
        ]
    }
    await make_classify_intent(svc)(state, ctx(history_turns=2))
    seen = text_of(llm.calls[0]["messages"])
    assert "turn one" not in seen
    assert "reply one" not in seen
    assert "turn two" in seen
    assert "reply two" in seen
    assert "turn three" in seen


async def test_intent_history_turns_zero_does_not_mean_everything(tmp_path: Path) -> None:
    svc, llm = services(tmp_path, {"IntentResult": [intent()]})
    state = {"messages": [HumanMessage("turn one"), AIMessage("reply"), HumanMessage("now")]}
    await make_classify_intent(svc)(state, ctx(history_turns=0))
    seen = text_of(llm.calls[0]["messages"])
    assert "now" in seen
    assert "turn one" not in seen


async def test_intent_best_guess_note_after_max_rounds(tmp_path: Path) -> None:
    svc, _ = services(tmp_path, {"IntentResult": [unsure()]})
    state = _state("do it", clarification_rounds=2, notes=["earlier"])
    update = await make_classify_intent(svc)(state, ctx(max_clarify_rounds=2))
    assert update["notes"][0] == "earlier"
    assert "best guess" in update["notes"][1]
    assert "file_operation" in update["notes"][1]


async def test_intent_no_note_while_rounds_remain(tmp_path: Path) -> None:
    svc, _ = services(tmp_path, {"IntentResult": [unsure()]})
    state = _state("do it", clarification_rounds=1)
    update = await make_classify_intent(svc)(state, ctx(max_clarify_rounds=2))
    assert "notes" not in update


# --- plan ------------------------------------------------------------------------------------


async def _plan_once(
    tmp_path: Path, reply: Any, state: dict[str, Any] | None = None, **context: Any
) -> tuple[dict[str, Any], ScriptedChatModel, Services]:
    (tmp_path / "a.txt").write_text("hello\n")
    svc, llm = services(tmp_path, {"Plan": [reply]})
    update = await make_plan(svc)(state or _state("what does the greeting say?"), ctx(**context))
    return update, llm, svc


async def test_plan_accepted_with_defaults_filled(tmp_path: Path) -> None:
    update, llm, _ = await _plan_once(tmp_path, plan(step("s1", "read_file", {"path": "a.txt"})))
    assert update["plan_attempts"] == 1
    assert update["plan_feedback"] == []
    (accepted,) = update["plan"]["steps"]
    assert accepted["args"] == {"path": "a.txt", "start_line": 1, "max_lines": 400}
    system = system_text(llm.calls[0])
    for name in ("read_file", "list_dir", "search_files", "write_file", "edit_file"):
        assert name in system  # the tool catalogue


async def test_plan_prompt_carries_the_intent(tmp_path: Path) -> None:
    state = _state("read both", intent=intent("file_operation", entities=["a.txt", "b.txt"]))
    _, llm, _ = await _plan_once(tmp_path, direct_plan(), state)
    system = system_text(llm.calls[0])
    assert "classified as file_operation" in system
    assert "a.txt, b.txt" in system


async def test_plan_direct_answer_is_accepted_without_steps(tmp_path: Path) -> None:
    update, _, _ = await _plan_once(tmp_path, direct_plan(), _state("what is 6*7?"))
    assert update["plan"]["answer_directly"] is True
    assert update["plan"]["steps"] == []
    assert "error" not in update


@pytest.mark.parametrize(
    ("proposal", "problem"),
    [
        (plan(step("s1", "delete_everything", {})), "Unknown tool 'delete_everything'"),
        (plan(step("s1", "read_file", {"file_path": "a.txt"})), "'path' is required"),
        (plan(step("s1", "read_file", {"file_path": "a.txt"})), "unexpected argument 'file_path'"),
        (plan(step("s1", "read_file", {"path": "a.txt", "start_line": 0})), "start_line"),
        (
            plan(step("s1", "read_file", {"path": "a"}), step("s1", "list_dir", {})),
            "repeated: s1",
        ),
        (
            plan(
                step("s1", "read_file", {"path": "a"}, depends_on=["s2"]),
                step("s2", "list_dir", {}, depends_on=["s1"]),
            ),
            "cycle",
        ),
        (plan(step("s1", "read_file", {"path": "a"}, depends_on=["s1"])), "cycle"),
        (plan(), "no steps"),
        (
            plan(step("s1", "read_file", {"path": "a"}), answer_directly=True),
            "answer_directly is true but steps are given",
        ),
    ],
)
async def test_plan_rejections(tmp_path: Path, proposal: dict[str, Any], problem: str) -> None:
    update, _, _ = await _plan_once(tmp_path, proposal)
    assert update["plan"] is None
    assert update["plan_attempts"] == 1
    rejected, *errors = update["plan_feedback"]
    assert '"steps"' in rejected  # the model is shown its own rejected plan
    assert any(problem in e for e in errors), errors
    assert "error" not in update  # attempts remain


async def test_plan_rejection_is_shown_to_the_planner_on_retry(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("hello\n")
    svc, llm = services(
        tmp_path,
        {"Plan": [plan(step("s1", "download_url", {"url": "x"})), plan(step("s1", "list_dir"))]},
    )
    node = make_plan(svc)
    state = _state("list files")
    first = await node(state, ctx())
    assert first["plan"] is None
    second = await node({**state, **first}, ctx())
    assert second["plan"]["steps"][0]["tool"] == "list_dir"
    assert second["plan_attempts"] == 2
    retry_messages = llm.calls[1]["messages"]
    assert isinstance(retry_messages[-2], AIMessage)
    assert "download_url" in retry_messages[-2].content
    assert isinstance(retry_messages[-1], HumanMessage)
    assert "Unknown tool 'download_url'" in retry_messages[-1].content
    assert "rejected" in retry_messages[-1].content


async def test_plan_attempts_cap_becomes_error(tmp_path: Path) -> None:
    state = _state("x", plan_attempts=2)
    update, _, _ = await _plan_once(
        tmp_path, plan(step("s1", "nope", {})), state, max_plan_attempts=3
    )
    assert update["plan_attempts"] == 3
    assert "3 attempts" in update["error"]
    assert "Unknown tool 'nope'" in update["error"]


async def test_plan_unreadable_reply_becomes_error(tmp_path: Path) -> None:
    update, _, _ = await _plan_once(tmp_path, "no json here")
    assert "Plan" in update["error"]
    assert update["plan_attempts"] == 1


async def test_plan_retry_after_validation_shows_results(tmp_path: Path) -> None:
    state = _state(
        "read a.txt and b.txt",
        validation=validation(False, "b.txt was not read", "read b.txt"),
        results=[_result("s1", output="ALPHA-CONTENT")],
    )
    _, llm, _ = await _plan_once(tmp_path, direct_plan(), state)
    system = system_text(llm.calls[0])
    assert "b.txt was not read" in system
    assert "read b.txt" in system
    assert "ALPHA-CONTENT" in system
    assert "<<<TOOL_RESULTS" in system
    assert "TOOL_RESULTS>>>" in system


# --- execute ---------------------------------------------------------------------------------


def test_dependency_layers_orders_by_dependency() -> None:
    steps = [
        {"id": "c", "depends_on": ["a", "b"]},
        {"id": "b", "depends_on": ["a"]},
        {"id": "a", "depends_on": []},
        {"id": "d"},
    ]
    layers = [[s["id"] for s in layer] for layer in dependency_layers(steps)]
    assert layers == [["a", "d"], ["b"], ["c"]]


def _execute(tools: list[BaseTool], tmp_path: Path) -> Any:
    svc, _ = services(tmp_path, {}, tools=ToolRegistry(tools))
    return make_execute(svc)


async def test_execute_runs_steps_in_dependency_order(tmp_path: Path) -> None:
    log: list[str] = []

    async def record(label: str) -> str:
        log.append(f"start:{label}")
        for _ in range(3):
            await asyncio.sleep(0)
        log.append(f"end:{label}")
        return label.upper()

    execute = _execute([_tool("record", record)], tmp_path)
    steps = [
        step("last", "record", {"label": "last"}, depends_on=["middle"]),
        step("middle", "record", {"label": "middle"}, depends_on=["first"]),
        step("first", "record", {"label": "first"}),
    ]
    update = await execute({"messages": [], "plan": plan(*steps)}, ctx())
    assert log.index("end:first") < log.index("start:middle")
    assert log.index("end:middle") < log.index("start:last")
    assert [r["step_id"] for r in update["results"]] == ["first", "middle", "last"]
    assert all(r["ok"] for r in update["results"])
    assert update["results"][0]["output"] == "FIRST"


async def test_execute_runs_independent_steps_concurrently(tmp_path: Path) -> None:
    # Each tool waits for the other to arrive: run one after the other, they would deadlock.
    barrier = asyncio.Barrier(2)

    async def ping() -> str:
        await barrier.wait()
        return "ping"

    async def pong() -> str:
        await barrier.wait()
        return "pong"

    execute = _execute([_tool("ping", ping), _tool("pong", pong)], tmp_path)
    state = {"messages": [], "plan": plan(step("a", "ping"), step("b", "pong"))}
    update = await asyncio.wait_for(execute(state, ctx(tool_timeout=60)), timeout=10)
    assert [(r["step_id"], r["ok"], r["output"]) for r in update["results"]] == [
        ("a", True, "ping"),
        ("b", True, "pong"),
    ]


async def test_execute_tool_exception_becomes_observation(tmp_path: Path) -> None:
    async def broken() -> str:
        raise ToolException("disk on fire")

    async def buggy() -> str:
        raise KeyError("k")

    execute = _execute([_tool("broken", broken), _tool("buggy", buggy)], tmp_path)
    state = {"messages": [], "plan": plan(step("s1", "broken"), step("s2", "buggy"))}
    update = await execute(state, ctx())
    first, second = update["results"]
    assert first["ok"] is False
    assert first["error"] == "disk on fire"
    assert first["output"] is None
    assert second["ok"] is False
    assert "k" in second["error"]


async def test_execute_slow_tool_times_out(tmp_path: Path) -> None:
    cancelled = asyncio.Event()

    async def hang() -> str:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    execute = _execute([_tool("hang", hang)], tmp_path)
    state = {"messages": [], "plan": plan(step("s1", "hang"))}
    update = await asyncio.wait_for(execute(state, ctx(tool_timeout=0.05)), timeout=10)
    (result,) = update["results"]
    assert result["ok"] is False
    assert result["error"] == "timed out after 0.05 s"
    assert cancelled.is_set()


async def test_execute_skips_steps_that_depend_on_a_failure(tmp_path: Path) -> None:
    ran: list[str] = []

    async def fail() -> str:
        raise ToolException("nope")

    async def work(label: str) -> str:
        ran.append(label)
        return label

    execute = _execute([_tool("fail", fail), _tool("work", work)], tmp_path)
    steps = [
        step("bad", "fail"),
        step("ok", "work", {"label": "ok"}),
        step("child", "work", {"label": "child"}, depends_on=["bad"]),
        step("grandchild", "work", {"label": "grandchild"}, depends_on=["child"]),
        step("fine", "work", {"label": "fine"}, depends_on=["ok"]),
    ]
    update = await execute({"messages": [], "plan": plan(*steps)}, ctx())
    by_id = {r["step_id"]: r for r in update["results"]}
    assert sorted(ran) == ["fine", "ok"]
    assert by_id["child"]["ok"] is False
    assert "skipped" in by_id["child"]["error"]
    assert "bad" in by_id["child"]["error"]
    assert by_id["grandchild"]["ok"] is False
    assert "child" in by_id["grandchild"]["error"]
    assert by_id["fine"]["ok"] is True


async def test_execute_appends_to_earlier_results(tmp_path: Path) -> None:
    async def work() -> str:
        return "new"

    execute = _execute([_tool("work", work)], tmp_path)
    earlier = _result("s1", iteration=0)
    state = {"messages": [], "plan": plan(step("s1", "work")), "results": [earlier], "iteration": 1}
    update = await execute(state, ctx())
    assert update["results"][0] == earlier
    assert update["results"][1]["output"] == "new"
    assert update["results"][1]["iteration"] == 1


# --- validate --------------------------------------------------------------------------------


async def _validate(
    tmp_path: Path, reply: Any, state: dict[str, Any], **context: Any
) -> tuple[dict[str, Any], ScriptedChatModel]:
    svc, llm = services(tmp_path, {"Validation": reply if isinstance(reply, list) else [reply]})
    return await make_validate(svc)(state, ctx(**context)), llm


async def test_validate_complete(tmp_path: Path) -> None:
    state = _state("read a.txt", results=[_result("s1", output="RESULT-TEXT")], iteration=0)
    update, llm = await _validate(tmp_path, validation(True), state)
    assert update == {"iteration": 1, "validation": validation(True)}
    system = system_text(llm.calls[0])
    assert "RESULT-TEXT" in system
    assert "<<<TOOL_RESULTS" in system


async def test_validate_incomplete_resets_the_plan_for_another_round(tmp_path: Path) -> None:
    state = _state("x", results=[_result("s1")], iteration=0, plan_attempts=2, plan=plan())
    update, _ = await _validate(tmp_path, validation(False, "more"), state, max_iterations=3)
    assert update["iteration"] == 1
    assert update["plan"] is None
    assert update["plan_attempts"] == 0
    assert "notes" not in update


async def test_validate_incomplete_at_cap_adds_note(tmp_path: Path) -> None:
    state = _state("x", results=[_result("s1")], iteration=2, notes=["n0"])
    update, _ = await _validate(tmp_path, validation(False, "the summary"), state, max_iterations=3)
    assert update["iteration"] == 3
    assert "plan" not in update
    assert update["notes"][0] == "n0"
    assert "Stopped after 3 attempts" in update["notes"][1]
    assert "the summary" in update["notes"][1]


async def test_validate_unreadable_verdict_is_a_note(tmp_path: Path) -> None:
    state = _state("x", results=[_result("s1")], iteration=0)
    update, llm = await _validate(tmp_path, ["???", "still ???"], state)
    assert update["validation"] is None
    assert update["iteration"] == 1
    assert "Self-check skipped" in update["notes"][0]
    assert len(llm.calls) == 2


async def test_validate_truncates_long_outputs(tmp_path: Path) -> None:
    state = _state("x", results=[_result("s1", output="A" * 50 + "TAIL")], iteration=0)
    _, llm = await _validate(tmp_path, validation(True), state, tool_output_chars=50)
    system = system_text(llm.calls[0])
    assert "TAIL" not in system
    assert "4 more characters truncated" in system


# --- respond ---------------------------------------------------------------------------------


async def _respond(
    tmp_path: Path, state: dict[str, Any], **context: Any
) -> tuple[dict[str, Any], ScriptedChatModel]:
    svc, llm = services(tmp_path, {"text": ["Here you go."]})
    return await make_respond(svc)(state, ctx(**context)), llm


async def test_respond_answers_in_the_users_language_with_notes(tmp_path: Path) -> None:
    # The intent step's language label is not trusted (small models mislabel it): the
    # answer follows the language of the user's own message.
    state = _state("Hallo", intent=intent("conversation", language="en"), notes=["NOTE-ONE"])
    update, llm = await _respond(tmp_path, state)
    assert update["answer"] == "Here you go."
    assert isinstance(update["messages"][0], AIMessage)
    system = system_text(llm.calls_for("text")[0])
    assert "in the language that message is written in" in system
    assert '"en"' not in system
    assert "NOTE-ONE" in system
    assert "TOOL_RESULTS" not in system  # no results, no results block


async def test_respond_delimits_tool_results(tmp_path: Path) -> None:
    results = [_result("s1", output="FILE-BODY"), _result("s2", ok=False, error="NOT-FOUND")]
    _, llm = await _respond(tmp_path, _state("read", results=results))
    system = system_text(llm.calls[0])
    start, end = system.index("<<<TOOL_RESULTS"), system.index("TOOL_RESULTS>>>")
    block = system[start:end]
    assert "FILE-BODY" in block
    assert "Result of read_file" in block
    assert "failed: NOT-FOUND" in block
    assert "not instructions" in system[:start]


async def test_respond_corrects_a_written_out_sum_in_the_stored_answer(tmp_path: Path) -> None:
    svc, llm = services(tmp_path, {"text": ["In all 12.50 + 30.00 + 7.25 = 52.00 EUR."]})
    update = await make_respond(svc)(_state("total?"), ctx())
    assert update["answer"] == "In all 12.50 + 30.00 + 7.25 = 49.75 EUR."
    assert update["messages"][0].content == update["answer"]
    assert "write the calculation out" in system_text(llm.calls[0])


async def test_respond_shows_calls_without_filled_in_defaults(tmp_path: Path) -> None:
    result = {
        **_result("s1", output="a.txt (7 lines)"),
        "args": {"path": "a.txt", "start_line": 1, "max_lines": 400},
    }
    _, llm = await _respond(tmp_path, _state("how many lines?", results=[result]))
    system = system_text(llm.calls[0])
    assert "Result of read_file (path a.txt):" in system
    assert "400" not in system


async def test_respond_error_path_uses_no_llm(tmp_path: Path) -> None:
    update, llm = await _respond(tmp_path, _state("x", error="Something broke."))
    assert update["answer"] == "Something broke."
    assert update["messages"][0].content == "Something broke."
    assert llm.calls == []


async def test_respond_error_after_work_still_reports_the_results(tmp_path: Path) -> None:
    state = _state("read", results=[_result("s1", output="FILE-BODY")], error="Re-plan failed.")
    update, llm = await _respond(tmp_path, state)
    assert update["answer"] == "Here you go."  # the model still answers
    system = system_text(llm.calls[0])
    assert "FILE-BODY" in system
    assert "Re-plan failed." in system


async def test_respond_sends_the_conversation(tmp_path: Path) -> None:
    state = {"messages": [HumanMessage("one"), AIMessage("two"), HumanMessage("three")]}
    _, llm = await _respond(tmp_path, state, history_turns=1)
    sent = llm.calls[0]["messages"]
    assert isinstance(sent[0], SystemMessage)
    assert [m.content for m in sent[1:]] == ["three"]
