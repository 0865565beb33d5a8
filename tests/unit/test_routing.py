"""Every branch of :class:`lmsa.graphs.routing.Routes`, on plain dict states."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from lmsa.context import Context
from lmsa.graphs.routing import Routes
from tests.unit.helpers import ctx, intent, runtime, services, unsure, validation


@pytest.fixture
def routes(tmp_path: Path) -> Routes:
    svc, _ = services(tmp_path, {})
    return Routes(svc)


# --- after_guard -----------------------------------------------------------------------------


async def test_after_guard_error_goes_to_respond(routes: Routes) -> None:
    assert await routes.after_guard({"messages": [], "error": "empty"}) == "respond"


@pytest.mark.parametrize("state", [{"messages": []}, {"messages": [], "error": None}])
async def test_after_guard_ok_goes_to_classify(routes: Routes, state: dict[str, Any]) -> None:
    assert await routes.after_guard(state) == "classify_intent"


# --- after_intent ----------------------------------------------------------------------------


async def test_after_intent_error_goes_to_respond(routes: Routes) -> None:
    state = {"messages": [], "error": "bad JSON", "intent": intent()}
    assert await routes.after_intent(state, ctx()) == "respond"


async def test_after_intent_without_intent_goes_to_respond(routes: Routes) -> None:
    assert await routes.after_intent({"messages": [], "intent": None}, ctx()) == "respond"


async def test_after_intent_sure_task_goes_to_plan(routes: Routes) -> None:
    assert await routes.after_intent({"messages": [], "intent": intent()}, ctx()) == "plan"


async def test_after_intent_conversation_goes_straight_to_respond(routes: Routes) -> None:
    state = {"messages": [], "intent": intent("conversation")}
    assert await routes.after_intent(state, ctx()) == "respond"


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ("information_request", "Tell me about the project"),
        ("conversation", "Have a great weekend!"),
        ("file_operation", "Which file has a TODO in it?"),
        ("file_operation", "¿Qué archivo tiene un TODO?"),
    ],
)
async def test_questions_and_small_talk_are_answered_not_questioned(
    routes: Routes, label: str, message: str
) -> None:
    state = {"messages": [HumanMessage(content=message)], "intent": unsure(name=label)}
    assert await routes.after_intent(state, ctx()) != "clarify"


async def test_an_unclear_change_request_is_questioned(routes: Routes) -> None:
    state = {"messages": [HumanMessage(content="Fix it.")], "intent": unsure(name="file_operation")}
    assert await routes.after_intent(state, ctx()) == "clarify"


async def test_small_talk_that_names_a_file_to_create_is_planned(routes: Routes) -> None:
    workspace = {"overview": "", "named_files": [], "mentioned_paths": ["greet.py"]}
    state = {"messages": [], "intent": intent("conversation"), "workspace": workspace}
    assert await routes.after_intent(state, ctx()) == "plan"


async def test_after_intent_needs_clarification_with_rounds_left_goes_to_clarify(
    routes: Routes,
) -> None:
    state = {"messages": [], "intent": unsure(confidence=0.95), "clarification_rounds": 1}
    assert await routes.after_intent(state, ctx(max_clarify_rounds=2)) == "clarify"


async def test_after_intent_low_confidence_alone_goes_to_clarify(routes: Routes) -> None:
    state = {"messages": [], "intent": intent(confidence=0.59, clarifying_question="Which?")}
    assert await routes.after_intent(state, ctx(clarify_threshold=0.6)) == "clarify"
    assert await routes.after_intent(state, ctx(clarify_threshold=0.5)) == "plan"


async def test_after_intent_never_asks_without_a_question_of_the_models(routes: Routes) -> None:
    for unclear in (intent(confidence=0.1), intent(needs_clarification=True)):
        state = {"messages": [], "intent": unclear}
        assert await routes.after_intent(state, ctx(clarify_threshold=0.6)) == "plan"


async def test_after_intent_small_talk_and_named_files_are_not_questioned(
    routes: Routes,
) -> None:
    asks = unsure("Which one?")
    state: dict[str, Any] = {"messages": [], "intent": asks}
    assert await routes.after_intent(state, ctx()) == "clarify"
    state["intent"] = {**asks, "intent": "conversation"}
    assert await routes.after_intent(state, ctx()) == "respond"
    # A file to create names what to act on, though it does not exist yet.
    state["intent"] = asks
    state["workspace"] = {"overview": "", "named_files": [], "mentioned_paths": ["hello.txt"]}
    assert await routes.after_intent(state, ctx()) == "plan"


async def test_after_intent_a_named_workspace_file_is_not_small_talk(routes: Routes) -> None:
    named = {"overview": "Files in the workspace:\nnotes.txt", "named_files": ["notes.txt"]}
    state = {"messages": [], "intent": intent("conversation"), "workspace": named}
    assert await routes.after_intent(state, ctx()) == "plan"
    state["workspace"] = {**named, "named_files": []}
    assert await routes.after_intent(state, ctx()) == "respond"


async def test_after_intent_unsure_after_max_rounds_goes_to_plan(routes: Routes) -> None:
    state = {"messages": [], "intent": unsure(), "clarification_rounds": 2}
    assert await routes.after_intent(state, ctx(max_clarify_rounds=2)) == "plan"


async def test_after_intent_unsure_conversation_after_max_rounds_goes_to_respond(
    routes: Routes,
) -> None:
    state = {"messages": [], "intent": unsure(name="conversation"), "clarification_rounds": 2}
    assert await routes.after_intent(state, ctx(max_clarify_rounds=2)) == "respond"


async def test_after_intent_zero_clarify_rounds_never_clarifies(routes: Routes) -> None:
    state = {"messages": [], "intent": unsure()}
    assert await routes.after_intent(state, ctx(max_clarify_rounds=0)) == "plan"


async def test_after_intent_uses_settings_defaults_without_context(tmp_path: Path) -> None:
    svc, _ = services(tmp_path, {}, max_clarify_rounds=1)
    routes = Routes(svc)
    state = {"messages": [], "intent": unsure(), "clarification_rounds": 1}
    assert await routes.after_intent(state, runtime(None)) == "plan"
    # A host graph's own context object (not a Context) also falls back to the settings.
    assert await routes.after_intent(state, runtime({"user": "x"})) == "plan"
    # ... whereas an explicit per-run Context wins over them.
    assert await routes.after_intent(state, ctx(max_clarify_rounds=3)) == "clarify"


# --- after_plan ------------------------------------------------------------------------------


async def test_after_plan_error_goes_to_respond(routes: Routes) -> None:
    state = {"messages": [], "error": "no valid plan", "plan": None}
    assert await routes.after_plan(state) == "respond"


async def test_after_plan_rejected_plan_goes_back_to_plan(routes: Routes) -> None:
    assert await routes.after_plan({"messages": [], "plan": None}) == "plan"
    assert await routes.after_plan({"messages": []}) == "plan"


async def test_after_plan_with_steps_goes_to_execute(routes: Routes) -> None:
    state = {"messages": [], "plan": {"answer_directly": False, "steps": [{"id": "s1"}]}}
    assert await routes.after_plan(state) == "execute"


async def test_after_plan_direct_answer_goes_to_respond(routes: Routes) -> None:
    state = {"messages": [], "plan": {"answer_directly": True, "steps": []}}
    assert await routes.after_plan(state) == "respond"


# --- after_validate --------------------------------------------------------------------------


def _ran(*tools_ok: tuple[str, bool]) -> list[dict[str, Any]]:
    return [{"step_id": f"s{i}", "tool": t, "ok": ok} for i, (t, ok) in enumerate(tools_ok)]


async def test_after_execute_a_question_answered_by_good_reads_skips_the_check(
    routes: Routes,
) -> None:
    state = {"messages": [], "intent": intent("file_operation"), "results": _ran(
        ("read_file", True), ("list_dir", True)
    )}  # fmt: skip
    assert await routes.after_execute(state, ctx()) == "respond"
    assert await routes.after_execute(state, ctx(validate_reads=True)) == "validate"


@pytest.mark.parametrize(
    ("label", "results"),
    [
        ("action_execution", _ran(("read_file", True))),  # reading may be the first step
        ("information_request", _ran(("read_file", False))),
        ("information_request", _ran(("write_file", True))),
        ("information_request", []),
    ],
)
async def test_after_execute_everything_else_is_checked(
    routes: Routes, label: str, results: list[dict[str, Any]]
) -> None:
    state = {"messages": [], "intent": intent(label), "results": results}
    assert await routes.after_execute(state, ctx()) == "validate"


async def test_after_validate_complete_goes_to_respond(routes: Routes) -> None:
    state = {"messages": [], "validation": validation(True), "iteration": 1}
    assert await routes.after_validate(state, ctx()) == "respond"


async def test_after_validate_unreadable_verdict_goes_to_respond(routes: Routes) -> None:
    state = {"messages": [], "validation": None, "iteration": 1}
    assert await routes.after_validate(state, ctx()) == "respond"


async def test_after_validate_incomplete_with_iterations_left_goes_to_plan(routes: Routes) -> None:
    state = {"messages": [], "validation": validation(False, "more"), "iteration": 2}
    assert await routes.after_validate(state, ctx(max_iterations=3)) == "plan"


async def test_after_validate_incomplete_at_cap_goes_to_respond(routes: Routes) -> None:
    state = {"messages": [], "validation": validation(False, "more"), "iteration": 3}
    assert await routes.after_validate(state, ctx(max_iterations=3)) == "respond"
    assert (
        await routes.after_validate({**state, "iteration": 1}, ctx(max_iterations=1)) == "respond"
    )


async def test_after_validate_respects_settings_when_no_context(tmp_path: Path) -> None:
    svc, _ = services(tmp_path, {}, max_iterations=1)
    state = {"messages": [], "validation": validation(False), "iteration": 1}
    assert await Routes(svc).after_validate(state, runtime(None)) == "respond"
    assert await Routes(svc).after_validate(state, runtime(Context(max_iterations=2))) == "plan"
