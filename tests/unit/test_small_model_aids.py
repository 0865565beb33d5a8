"""What takes work off a small model: tables restated with their columns' facts, appends,
edits that survive changed spacing and keep JSON valid, scaffolding kept out of written files,
and a question instead of a change to a file the user never named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langchain_core.tools import BaseTool, ToolException

from lmsa.nodes._common import render_results
from lmsa.nodes.plan import Plan, make_plan, without_repeats
from lmsa.nodes.plan_checks import (
    missing_creations,
    unnamed_changes,
    without_scaffolding,
)
from lmsa.tools import ToolRegistry, Workspace, make_file_tools
from lmsa.tools.tables import describe_table
from tests.unit.helpers import ctx, intent, make_graph, plan, services, step, thread

TEMPS = "city,max_temp_c\nLisbon,31\nOslo,19\nMadrid,36\n"


@pytest.fixture
def tools(tmp_path: Path) -> dict[str, BaseTool]:
    return {tool.name: tool for tool in make_file_tools(Workspace(tmp_path))}


def _registry(tmp_path: Path) -> ToolRegistry:
    return ToolRegistry(make_file_tools(Workspace(tmp_path)))


def test_a_table_is_restated_row_by_row_with_its_columns_extremes_and_total() -> None:
    text = describe_table("name,email\nAna,ana@x.org\nBen,ben@x.org\n", ",")
    assert text is not None and "Row 2: name: Ben; email: ben@x.org" in text
    facts = describe_table(TEMPS, ",")
    assert facts is not None
    assert "Column max_temp_c: total 86; highest 36 (Madrid); lowest 19 (Oslo)" in facts
    assert describe_table("just one line\n", ",") is None


def test_the_model_sees_a_read_csv_file_restated_and_calls_named_in_words() -> None:
    result = {
        "step_id": "read1",
        "tool": "read_file",
        "args": {"path": "temps.csv"},
        "ok": True,
        "output": "temps.csv (4 lines)\n" + TEMPS.rstrip("\n"),
    }
    shown = render_results([result], 4000)
    assert shown.startswith("Result of read_file (path temps.csv):\n")
    assert shown.endswith("\n[end of temps.csv: 4 lines]")  # the count after the contents
    assert "highest 36 (Madrid)" in shown and "Row 3: city: Madrid; max_temp_c: 36" in shown
    assert "read_file({" not in shown
    assert "Madrid,36" not in shown  # restated instead of the raw lines
    assert "Madrid,36" in render_results([result], 4000, raw_tables=True)  # for copying
    # Part of a file has no column totals worth showing.
    partial = {**result, "output": "temps.csv (lines 1-2 of 4)\ncity,max_temp_c\nLisbon,31"}
    assert "highest" not in render_results([partial], 4000)


def test_write_file_appends_on_a_new_line(tools: dict[str, BaseTool], tmp_path: Path) -> None:
    (tmp_path / "list.txt").write_text("milk\neggs")
    out = tools["write_file"].invoke({"path": "list.txt", "content": "olive oil", "append": True})
    assert "Appended" in out
    assert (tmp_path / "list.txt").read_text() == "milk\neggs\nolive oil\n"
    tools["write_file"].invoke({"path": "new.txt", "content": "x\n", "append": True})
    assert (tmp_path / "new.txt").read_text() == "x\n"


def test_an_edit_whose_spacing_differs_still_applies_once(
    tools: dict[str, BaseTool], tmp_path: Path
) -> None:
    (tmp_path / "app.cfg").write_text("[a]\nlimits = { soft: 1, hard: 2 }\n")
    out = tools["edit_file"].invoke(
        {"path": "app.cfg", "search": "limits={soft:1,hard:2}", "replace": "limits = { soft: 3 }"}
    )
    assert "different spacing" in out
    assert (tmp_path / "app.cfg").read_text() == "[a]\nlimits = { soft: 3 }\n"
    (tmp_path / "s.json").write_text('{\n  "debug": true,\n  "level": 2\n}\n')
    tools["edit_file"].invoke(
        {"path": "s.json", "search": '"debug":true', "replace": '"debug": false'}
    )
    assert json.loads((tmp_path / "s.json").read_text()) == {"debug": False, "level": 2}


def test_an_edit_that_would_break_json_is_refused(
    tools: dict[str, BaseTool], tmp_path: Path
) -> None:
    original = '{\n  "debug": true,\n  "level": 2\n}\n'
    (tmp_path / "s.json").write_text(original)
    with pytest.raises(ToolException, match="invalid JSON"):
        tools["edit_file"].invoke({"path": "s.json", "search": "true,", "replace": "false"})
    assert (tmp_path / "s.json").read_text() == original


def test_scaffolding_copied_from_the_prompt_is_kept_out_of_written_text(tmp_path: Path) -> None:
    registry = _registry(tmp_path)
    read = {
        "tool": "read_file",
        "args": {"path": "part1.txt"},
        "ok": True,
        "output": "part1.txt (2 lines)\nChapter 1\nIt was quiet.",
    }
    content = (
        "Result of read_file (path part1.txt):\npart1.txt (2 lines)\nChapter 1\n"
        '[read1] read_file({"path": "part1.txt"}) -> ok\nIt was quiet.\n'
    )
    proposal = Plan.model_validate(
        {"steps": [step("s1", "write_file", {"path": "full.txt", "content": content})]}
    )
    cleaned = without_scaffolding(proposal, [read], registry)
    assert cleaned.steps[0].args["content"] == "Chapter 1\nIt was quiet.\n"


def test_changes_to_files_the_user_never_named_are_found(tmp_path: Path) -> None:
    (tmp_path / "config.ini").write_text("[a]\nx = 1\n")
    (tmp_path / "README.md").write_text("# r\n")
    registry = _registry(tmp_path)
    edit = Plan.model_validate(
        {
            "steps": [
                step("s1", "edit_file", {"path": "config.ini", "search": "1", "replace": "5"}),
                step("s2", "write_file", {"path": "new.txt", "content": "n"}),
            ]
        }
    )
    assert unnamed_changes(edit, registry, "Change the value to 5.") == ["config.ini"]
    assert unnamed_changes(edit, registry, "Set x in config.ini to 5") == []
    assert unnamed_changes(edit, registry, "set x in the config to 5") == []  # its stem
    delete = Plan.model_validate({"steps": [step("s1", "delete_file", {"path": "README.md"})]})
    assert unnamed_changes(delete, registry, "Delete the old one.") == ["README.md"]
    assert unnamed_changes(delete, registry, "remove the readme") == []


def test_a_plan_that_ignores_a_file_the_request_wants_created_is_sent_back(
    tmp_path: Path,
) -> None:
    registry = _registry(tmp_path)
    workspace: Any = {"overview": "", "named_files": [], "mentioned_paths": [".gitignore"]}
    other = Plan.model_validate({"steps": [step("s1", "delete_file", {"path": "x"})]})
    assert missing_creations(other, registry, workspace)
    creates = Plan.model_validate(
        {"steps": [step("s1", "write_file", {"path": ".gitignore", "content": "x\n"})]}
    )
    assert missing_creations(creates, registry, workspace) == []
    reads = Plan.model_validate({"steps": [step("s1", "list_dir", {})]})
    assert missing_creations(reads, registry, workspace) == []


async def test_the_planner_asks_before_changing_a_file_nobody_named(tmp_path: Path) -> None:
    (tmp_path / "config.ini").write_text("[worker]\nretries = 3\ntimeout = 30\n")
    edit = plan(step("s1", "edit_file", {"path": "config.ini", "search": "3", "replace": "5"}))
    graph, llm = make_graph(tmp_path, {"IntentResult": [intent("file_operation")], "Plan": [edit]})
    config = thread()
    await graph.ainvoke({"messages": [HumanMessage(content="Change the value to 5.")]}, config)
    state = await graph.aget_state(config)
    (pending,) = state.interrupts
    assert pending.value["kind"] == "clarification"
    assert "config.ini" in pending.value["question"]
    assert (tmp_path / "config.ini").read_text().count("retries = 3") == 1  # nothing changed
    assert llm.calls_for("text") == []


async def test_a_named_file_is_changed_without_asking(tmp_path: Path) -> None:
    (tmp_path / "config.ini").write_text("[worker]\nretries = 3\n")
    svc, _ = services(
        tmp_path,
        {
            "Plan": [
                plan(step("s1", "edit_file", {"path": "config.ini", "search": "3", "replace": "5"}))
            ]
        },
    )
    read = {"step_id": "read1", "tool": "read_file", "args": {"path": "config.ini"}, "ok": True}
    state: dict[str, Any] = {
        "messages": [HumanMessage(content="Set retries in config.ini to 5")],
        "results": [{**read, "output": "config.ini (2 lines)\n[worker]\nretries = 3"}],
    }
    update = await make_plan(svc)(state, ctx())
    assert update["plan"]["steps"][0]["tool"] == "edit_file"
    assert not update.get("question")


def test_a_file_change_that_already_succeeded_is_not_planned_again(tmp_path: Path) -> None:
    registry = _registry(tmp_path)
    append = {"path": "list.txt", "content": "oil\n", "append": True}
    done = {"tool": "write_file", "args": registry.validate_call("write_file", append), "ok": True}
    proposal = Plan.model_validate(
        {
            "steps": [
                step("s1", "write_file", append),
                step("s2", "write_file", {**append, "content": "salt\n"}),
            ]
        }
    )
    kept = without_repeats(proposal, [done], registry)
    assert [s.id for s in kept.steps] == ["s2"]
    # A call that failed exactly as planned would fail the same way again.
    failed = {**done, "ok": False}
    assert [s.id for s in without_repeats(proposal, [failed], registry).steps] == ["s2"]
    # Unless something changed since.
    wrote = {"tool": "write_file", "args": {"path": "other.txt", "content": "x"}, "ok": True}
    assert len(without_repeats(proposal, [failed, wrote], registry).steps) == 2


def test_a_json_setting_written_in_another_syntax_is_edited_as_json(
    tools: dict[str, BaseTool], tmp_path: Path
) -> None:
    (tmp_path / "s.json").write_text('{\n  "debug": true,\n  "level": 2\n}\n')
    tools["edit_file"].invoke(
        {"path": "s.json", "search": "debug = true", "replace": "debug = false"}
    )
    assert (tmp_path / "s.json").read_text() == '{\n  "debug": false,\n  "level": 2\n}\n'
    (tmp_path / "a.ini").write_text("[s]\nport = 8080\n")
    tools["edit_file"].invoke({"path": "a.ini", "search": "port: 8080", "replace": "port = 9090"})
    assert (tmp_path / "a.ini").read_text() == "[s]\nport = 9090\n"


def test_editing_a_missing_file_points_to_write_file(tools: dict[str, BaseTool]) -> None:
    with pytest.raises(ToolException, match="use write_file"):
        tools["edit_file"].invoke({"path": "new.py", "search": "a", "replace": "b"})


def test_a_plan_naming_a_new_file_only_in_a_message_goes_back(tmp_path: Path) -> None:
    registry = _registry(tmp_path)
    workspace: Any = {"overview": "", "named_files": [], "mentioned_paths": [".gitignore"]}
    commit = Plan.model_validate(
        {"steps": [step("s1", "delete_file", {"path": "x"}, purpose="update .gitignore")]}
    )
    assert missing_creations(commit, registry, workspace)


def test_search_hits_are_counted_first_and_table_hits_named_by_column() -> None:
    read = {
        "step_id": "read1",
        "tool": "read_file",
        "args": {"path": "people.csv"},
        "ok": True,
        "output": "people.csv (3 lines)\nname,email\nAna,ana@x.org\nBen,ben@x.org",
    }
    search = {
        "step_id": "s1",
        "tool": "search_files",
        "args": {"pattern": "Ben"},
        "ok": True,
        "output": "people.csv:3: Ben,ben@x.org\nnotes.md:1: ask Ben\n[2 matches in '.']",
    }
    shown = render_results([read, search], 4000)
    assert "2 lines match in '.':\npeople.csv line 3: name: Ben; email: ben@x.org" in shown
    assert "notes.md:1: ask Ben" in shown and "[2 matches" not in shown


async def test_the_planner_is_offered_git_tools_only_inside_a_repository(tmp_path: Path) -> None:
    from lmsa.tools import make_git_tools

    workspace = Workspace(tmp_path)
    registry = ToolRegistry([*make_file_tools(workspace), *make_git_tools(workspace)])
    assert "git_commit" in registry and "git_commit" not in registry.available()
    svc, llm = services(tmp_path, {"Plan": [plan()]}, tools=registry)
    await make_plan(svc)({"messages": [HumanMessage(content="add a .gitignore")]}, ctx())
    assert "git_commit" not in json.dumps(llm.calls[0]["kwargs"]["response_format"])
    (tmp_path / ".git").mkdir()
    assert "git_commit" in registry.available()
