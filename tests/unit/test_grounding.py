"""The planner sees the workspace, may only write real tool calls, and plans after the files the
request names were read; replies with raw control characters still parse."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.types import Command

from lmsa.llm.replies import inline_refs, parse_reply
from lmsa.nodes.plan import (
    Plan,
    constrained_plan_schema,
    make_plan,
    tool_name_dependencies,
    unique_steps,
    without_repeats,
)
from lmsa.nodes.respond import guard_results
from lmsa.tools import ToolRegistry, Workspace, make_file_tools
from lmsa.tools.grounding import view_workspace
from tests.unit.helpers import (
    ctx,
    direct_plan,
    intent,
    make_graph,
    plan,
    read_plan,
    services,
    step,
    thread,
)
from tests.unit.helpers import system_text as system_of


def _workspace(tmp_path: Path) -> Path:
    (tmp_path / "notes.txt").write_text("Team meeting: Tuesday 10:00\n")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("# TODO: fix\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref\n")
    return tmp_path


def test_the_view_lists_the_folder_and_the_existing_paths_the_request_names(
    tmp_path: Path,
) -> None:
    view = view_workspace(_workspace(tmp_path), "Read notes.txt, src/app.py, missing.txt, src/")
    assert view.listing == ["notes.txt", "src/", "src/app.py"]  # .git skipped
    assert view.named_files == ["notes.txt", "src/app.py"]
    assert view.named_dirs == ["src"]
    assert view.mentioned == ["notes.txt", "src/app.py", "missing.txt", "src/"]
    assert "notes.txt" in view.render()


def test_numbers_versions_and_abbreviations_are_not_taken_for_files(tmp_path: Path) -> None:
    view = view_workspace(_workspace(tmp_path), "Add 12.5 to 3.12, e.g. and/or at 10.30")
    assert view.mentioned == []
    assert view_workspace(tmp_path, "Create .gitignore and a.txt").mentioned == [
        ".gitignore",
        "a.txt",
    ]


def test_the_view_is_bounded_and_never_names_paths_outside(tmp_path: Path) -> None:
    for n in range(60):
        (tmp_path / f"f{n:02d}.txt").write_text("x")
    outside = tmp_path.parent / "secret.txt"
    outside.write_text("s")
    view = view_workspace(tmp_path, "show ../secret.txt and /etc/hostname", limit=10)
    assert len(view.listing) == 10 and view.truncated
    assert view.named_files == []
    assert "first entries" in view.render()


def test_registry_finds_the_workspace_of_its_file_tools(tmp_path: Path) -> None:
    registry = ToolRegistry(make_file_tools(Workspace(tmp_path)))
    assert registry.workspace_root == tmp_path.resolve()
    assert ToolRegistry([]).view_workspace("anything") is None


def test_the_grammar_schema_admits_only_real_tools_with_their_own_arguments(
    tmp_path: Path,
) -> None:
    registry = ToolRegistry(make_file_tools(Workspace(tmp_path)))
    schema = inline_refs(constrained_plan_schema(registry).model_json_schema())
    alternatives = schema["properties"]["steps"]["items"]["anyOf"]
    tools = {alt["properties"]["tool"]["const"]: alt for alt in alternatives}
    assert set(tools) == set(registry.names())
    read = tools["read_file"]["properties"]["args"]
    assert read["required"] == ["path"]
    # Optional numbers (paging, limits) keep their defaults; strings must end.
    assert set(read["properties"]) == {"path"}
    assert read["properties"]["path"]["maxLength"] == 1000
    search = tools["search_files"]["properties"]["args"]["properties"]
    assert {"pattern", "glob", "regex"} <= set(search) and "max_results" not in search
    assert set(schema["properties"]) == {"steps"}
    assert schema["properties"]["steps"]["maxItems"] == 6


def test_a_plan_of_only_steps_reads_as_a_plan_and_repeats_are_dropped() -> None:
    call = {"id": "s1", "tool": "read_file", "args": {"path": "a.txt"}}
    plan = unique_steps(Plan.model_validate({"steps": [call, {**call, "id": "s2"}]}))
    assert plan.answer_directly is False
    assert [step.id for step in plan.steps] == ["s1"]
    assert Plan.model_validate({"steps": []}).answer_directly is True


async def test_the_planner_prompt_shows_the_workspace(tmp_path: Path) -> None:
    svc, llm = services(_workspace(tmp_path), {"Plan": [read_plan("notes.txt")]})
    update = await make_plan(svc)(
        {"messages": [HumanMessage(content="When is the next meeting?")]}, ctx()
    )
    assert update["plan"]["steps"][0]["args"]["path"] == "notes.txt"
    system = system_of(llm.calls[0])
    assert "src/app.py" in system and "notes.txt" in system
    # The server is sent the narrowed schema; the reply is still read as Plan.
    sent = llm.calls[0]["kwargs"]["response_format"]["json_schema"]
    assert sent["name"] == "Plan"
    assert "anyOf" in json.dumps(sent["schema"])


async def test_the_files_a_request_names_are_read_before_the_model_plans(
    tmp_path: Path,
) -> None:
    svc, llm = services(_workspace(tmp_path), {"Plan": [direct_plan()]})
    state: dict[str, Any] = {
        "messages": [HumanMessage(content="Compare notes.txt with src/app.py and missing.txt")]
    }
    update = await make_plan(svc)(state, ctx())
    plan = update["plan"]
    assert plan["grounding"] is True
    assert [(s["tool"], s["args"]["path"]) for s in plan["steps"]] == [
        ("read_file", "notes.txt"),
        ("read_file", "src/app.py"),
    ]
    assert llm.calls == []  # no model call for that
    assert update["workspace"]["named_files"] == ["notes.txt", "src/app.py"]


async def test_after_grounding_the_planner_sees_the_contents_without_secrets(
    tmp_path: Path,
) -> None:
    svc, llm = services(_workspace(tmp_path), {"Plan": [read_plan("notes.txt")]})
    read = {
        "step_id": "read1",
        "tool": "read_file",
        "args": {"path": "notes.txt"},
        "ok": True,
        "output": "notes.txt (lines 1-2 of 2)\nTeam meeting: Tuesday 10:00\n"
        "token=ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "error": None,
    }
    state: dict[str, Any] = {
        "messages": [HumanMessage(content="When is the meeting, per notes.txt?")],
        "results": [read],
    }
    update = await make_plan(svc)(state, ctx())
    system = system_of(llm.calls[0])
    assert "Team meeting: Tuesday 10:00" in system
    assert "ghp_abcdefghijklmnopqrstuvwxyz0123456789" not in system
    # Planning the read it was just shown adds nothing: the plan is to answer.
    assert update["plan"]["steps"] == [] and update["plan"]["answer_directly"] is True


async def test_a_read_and_answer_turn_costs_three_model_calls(tmp_path: Path) -> None:
    script = {
        "IntentResult": [intent("conversation")],  # even mislabelled as small talk
        "Plan": [read_plan("notes.txt")],
        "text": ["Tuesday at 10:00."],
    }
    graph, llm = make_graph(_workspace(tmp_path), script)
    config = thread()
    out = await graph.ainvoke(
        {"messages": [HumanMessage(content="When is the meeting, according to notes.txt?")]},
        config,
    )
    assert out["answer"] == "Tuesday at 10:00."
    assert [call["key"] for call in llm.calls] == ["IntentResult", "Plan", "text"]
    # The file was read once, by the grounding step; the model's own read was dropped.
    results = (await graph.aget_state(config)).values["results"]
    assert [(r["tool"], r["args"]["path"]) for r in results] == [("read_file", "notes.txt")]
    assert "Tuesday 10:00" in system_of(llm.calls_for("text")[0])


def test_raw_control_characters_in_a_json_string_are_tolerated() -> None:
    raw = '{"reasoning": "line one\nline\ttwo", "answer_directly": true, "steps": []}'
    assert parse_reply(Plan, raw).reasoning == "line one\nline\ttwo"


async def test_the_planner_reuses_the_turns_workspace_view(tmp_path: Path) -> None:
    svc, llm = services(_workspace(tmp_path), {"Plan": [direct_plan()]})
    seen = {
        "overview": "Files in the workspace:\nSENTINEL.md",
        "named_files": [],
        "mentioned_paths": [],
    }
    state: dict[str, Any] = {"messages": [HumanMessage(content="hi")], "workspace": seen}
    await make_plan(svc)(state, ctx())
    system = system_of(llm.calls[0])
    assert "SENTINEL.md" in system
    assert "src/app.py" not in system  # the folder was not walked again


def test_a_dependency_on_a_tool_name_means_the_steps_using_that_tool(tmp_path: Path) -> None:
    registry = ToolRegistry(make_file_tools(Workspace(tmp_path)))
    proposal = Plan.model_validate(
        {
            "steps": [
                {"id": "a", "tool": "read_file", "args": {"path": "x.txt"}},
                {"id": "b", "tool": "write_file", "args": {"path": "y.txt", "content": "y"}},
                {
                    "id": "c",
                    "tool": "edit_file",
                    "args": {"path": "y.txt", "search": "y", "replace": "z"},
                    "depends_on": ["write_file", "list_dir", "s9"],
                },
            ]
        }
    )
    fixed = tool_name_dependencies(proposal, registry)
    # A tool with a step becomes that step; a tool with none means nothing; nor does an id no
    # step has (check_plan would reject it, costing a planning round for nothing).
    assert fixed.steps[2].depends_on == ["b"]
    assert tool_name_dependencies(fixed, registry) is fixed


def test_only_reads_that_nothing_changed_since_are_dropped_as_repeats(tmp_path: Path) -> None:
    registry = ToolRegistry(make_file_tools(Workspace(tmp_path)))

    def result(tool: str, args: dict[str, Any]) -> dict[str, Any]:
        return {"tool": tool, "args": registry.validate_call(tool, args), "ok": True}

    read = {"id": "r", "tool": "read_file", "args": {"path": "a.txt"}}
    write = {"id": "w", "tool": "write_file", "args": {"path": "a.txt", "content": "x"}}
    listing = {"id": "l", "tool": "list_dir", "args": {}, "depends_on": ["r", "w"]}
    proposal = Plan.model_validate({"steps": [read, write, listing]})

    after_read = without_repeats(proposal, [result("read_file", {"path": "a.txt"})], registry)
    assert [s.id for s in after_read.steps] == ["w", "l"]  # the write is never dropped
    assert after_read.steps[1].depends_on == ["w"]  # only the dropped step's id goes
    # A read made before a write may be stale: it runs again; the write that already
    # succeeded exactly as planned does not.
    stale = [result("read_file", {"path": "a.txt"}), result("write_file", write["args"])]
    assert [s.id for s in without_repeats(proposal, stale, registry).steps] == ["r", "l"]


SECRET = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"


def test_a_file_read_for_grounding_is_shown_whole_only_in_a_turn_that_only_reads(
    tmp_path: Path,
) -> None:
    read = {
        "step_id": "read1",
        "tool": "read_file",
        "args": {"path": "config.ini"},
        "ok": True,
        "output": f"config.ini (1 line)\ntoken = {SECRET}",
        "grounding": True,
    }
    move = {"step_id": "s1", "tool": "move_file", "args": {}, "ok": True, "output": "Moved."}
    read_only = frozenset({"read_file"})
    security = services(tmp_path, {})[0].security
    asked, hidden, allowed, _ = guard_results(
        [read], "What token is in config.ini?", security, read_only
    )
    assert SECRET in asked[0]["output"] and allowed == [SECRET] and not hidden
    moved, hidden, allowed, _ = guard_results(
        [read, move], "Move config.ini to old/", security, read_only
    )
    assert SECRET not in moved[0]["output"] and not allowed
    assert [finding.value for finding in hidden] == [SECRET]


async def test_a_plan_that_would_write_a_redaction_placeholder_is_sent_back(
    tmp_path: Path,
) -> None:
    write = plan(
        step("s1", "write_file", {"path": "copy.ini", "content": "token = [REDACTED:github]"})
    )
    svc, _ = services(_workspace(tmp_path), {"Plan": [write]})
    update = await make_plan(svc)({"messages": [HumanMessage(content="copy it")]}, ctx())
    assert update["plan"] is None
    assert any("placeholder" in problem for problem in update["plan_feedback"])


async def test_grounding_reads_wait_for_approval_when_reads_need_it(tmp_path: Path) -> None:
    script = {
        "IntentResult": [intent("information_request")],
        "Plan": [direct_plan()],
        "text": ["Tuesday at 10:00."],
    }
    graph, llm = make_graph(_workspace(tmp_path), script, auto_approve="none")
    config = thread()
    first = await graph.ainvoke(
        {"messages": [HumanMessage(content="When is the meeting, per notes.txt?")]}, config
    )
    (pending,) = first["__interrupt__"]
    assert pending.value["tool"] == "read_file"
    assert pending.value["args"]["path"] == "notes.txt"
    assert [call["key"] for call in llm.calls] == ["IntentResult"]  # nothing planned yet
    done = await graph.ainvoke(Command(resume={"decision": "approve"}), config)
    assert done["answer"] == "Tuesday at 10:00."
    assert "Team meeting: Tuesday 10:00" in system_of(llm.calls_for("Plan")[0])


async def test_a_declined_grounding_read_leaves_the_planner_to_decide(tmp_path: Path) -> None:
    script = {
        "IntentResult": [intent("information_request")],
        "Plan": [direct_plan()],
        "text": ["I could not read it."],
    }
    graph, llm = make_graph(_workspace(tmp_path), script, auto_approve="none")
    config = thread()
    await graph.ainvoke(
        {"messages": [HumanMessage(content="When is the meeting, per notes.txt?")]}, config
    )
    done = await graph.ainvoke(Command(resume={"decision": "reject"}), config)
    assert done["answer"] == "I could not read it."
    planner = system_of(llm.calls_for("Plan")[0])
    assert "declined" in planner and "Team meeting" not in planner
