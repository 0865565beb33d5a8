"""Mistakes small models make, mended or turned into a question without another model call: a
file's line count given as the answer to a question about its contents, a folder named by its
bare name, a listing of the whole tree when one folder was meant, a text searched for by file
name, an edit of a file that does not exist, files merged by writing their names instead
of joining them, and an append that repeats the file it adds to."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.types import Command

from lmsa.nodes._common import render_results
from lmsa.nodes.plan import Plan, check_plan, make_plan
from lmsa.nodes.plan_checks import (
    GUESSED_FILE_QUESTION,
    appends_without_repeats,
    edits_as_creations,
    missing_edit_targets,
    scoped_searches,
    unchanged_edits_as_appends,
    without_scaffolding,
)
from lmsa.state import WorkspaceInfo
from lmsa.tools import ToolRegistry, Workspace, make_file_tools
from lmsa.tools.grounding import view_workspace
from tests.unit.helpers import ctx, intent, make_graph, plan, services, step, thread, validation


def _tree(root: Path) -> Path:
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text("def parse_date(text):\n    return text\n")
    (root / "docs").mkdir()
    (root / "docs" / "guide.md").write_text("# Guide\n")
    (root / "main.py").write_text("# TODO: tidy up\nprint('hi')\n")
    (root / "config.ini").write_text("[worker]\nretries = 3\ntimeout = 30\n")
    return root


def _registry(root: Path) -> ToolRegistry:
    return ToolRegistry(make_file_tools(Workspace(root)))


def _info(root: Path, request: str) -> WorkspaceInfo:
    view = view_workspace(root, request)
    return {
        "overview": view.render(),
        "named_files": view.named_files,
        "mentioned_paths": view.mentioned,
        "named_dirs": view.named_dirs,
    }


def test_a_folder_named_by_its_bare_name_is_a_named_path(tmp_path: Path) -> None:
    view = view_workspace(_tree(tmp_path), "How many Python files are in the src folder?")
    assert view.named_dirs == ["src"]
    assert "src/" in view.mentioned
    assert "The request names these existing paths: src/." in view.render()
    # An ordinary word names nothing unless a folder of that name exists.
    assert view_workspace(tmp_path, "Which Python files are in this folder?").named_dirs == []
    assert view_workspace(tmp_path, "Was steht im Ordner docs?").named_dirs == ["docs"]


def test_searches_look_where_the_request_points(tmp_path: Path) -> None:
    registry = _registry(_tree(tmp_path))
    proposal = Plan.model_validate(
        {
            "steps": [
                step("s1", "find_files", {"pattern": "*.py", "path": "."}),
                step("s2", "search_files", {"pattern": "TODO"}),
                step("s3", "list_dir", {"path": "docs"}),
                step("s4", "search_files", {"pattern": "TODO", "path": "docs/guide.md"}),
                step("s5", "read_file", {"path": "main.py"}),
            ]
        }
    )

    def paths(request: str) -> list[Any]:
        mended = scoped_searches(proposal, registry, _info(tmp_path, request), request)
        return [s.args.get("path") for s in mended.steps]

    # The one folder named: whole-workspace and unnamed places narrowed to it.
    assert paths("How many Python files are in the src folder?") == [
        "src", "src", "src", "src", "main.py"
    ]  # fmt: skip
    # No folder named: a place the user never named widens to the whole workspace.
    assert paths("Which file has a TODO?") == [".", None, ".", ".", "main.py"]
    # Places the user named stay.
    assert paths("Look for TODO in docs/guide.md and the docs folder") == [
        ".", None, "docs", "docs/guide.md", "main.py"
    ]  # fmt: skip


def test_finding_a_bare_word_by_file_name_reports_the_files_that_contain_it(
    tmp_path: Path,
) -> None:
    tools = {tool.name: tool for tool in make_file_tools(Workspace(_tree(tmp_path)))}
    found = tools["find_files"].invoke({"pattern": "parse_date"})
    assert "No file is named 'parse_date'" in found
    assert "src/app.py:1: def parse_date(text):" in found
    assert "main.py:1" in tools["find_files"].invoke({"pattern": "TODO"})
    # A name pattern stays a name search.
    assert tools["find_files"].invoke({"pattern": "*.txt"}) == (
        "No files named '*.txt' in the workspace."
    )


def test_edits_of_files_that_do_not_exist_are_split_by_whether_the_user_named_them(
    tmp_path: Path,
) -> None:
    registry = _registry(_tree(tmp_path))
    proposal = Plan.model_validate(
        {
            "steps": [
                step("s1", "edit_file", {"path": "app.cfg", "search": "a", "replace": "b"}),
                step("s2", "edit_file", {"path": "greet.py", "search": "a", "replace": "def g"}),
                step("s3", "edit_file", {"path": "config.ini", "search": "3", "replace": "5"}),
            ]
        }
    )
    request = "Create greet.py with a greeting"
    # Named and missing: created with the edit's new text.
    mended = edits_as_creations(proposal, registry, request)
    assert [(s.tool, s.args) for s in mended.steps] == [
        ("edit_file", {"path": "app.cfg", "search": "a", "replace": "b"}),
        ("write_file", {"path": "greet.py", "content": "def g\n"}),
        ("edit_file", {"path": "config.ini", "search": "3", "replace": "5"}),
    ]
    # Unnamed and missing: a guess, asked about.
    assert missing_edit_targets(mended, registry, request) == ["app.cfg"]


async def test_an_edit_of_a_file_nobody_named_that_does_not_exist_is_asked_about(
    tmp_path: Path,
) -> None:
    _tree(tmp_path)
    edit = plan(step("s1", "edit_file", {"path": "app.cfg", "search": "x = 3", "replace": "x = 5"}))
    graph, llm = make_graph(tmp_path, {"IntentResult": [intent("file_operation")], "Plan": [edit]})
    config = thread()
    await graph.ainvoke({"messages": [HumanMessage(content="Change the value to 5.")]}, config)
    (pending,) = (await graph.aget_state(config)).interrupts
    assert pending.value["kind"] == "clarification"
    assert pending.value["question"] == GUESSED_FILE_QUESTION
    assert not (tmp_path / "app.cfg").exists()
    assert llm.calls_for("text") == []


async def test_an_edit_of_a_named_file_that_does_not_exist_creates_it(tmp_path: Path) -> None:
    _tree(tmp_path)
    edit = plan(step("s1", "edit_file", {"path": "greet.py", "search": "x", "replace": "hi()"}))
    svc, llm = services(tmp_path, {"Plan": [edit]})
    state: dict[str, Any] = {"messages": [HumanMessage(content="Create greet.py saying hi")]}
    update = await make_plan(svc)(state, ctx())
    (created,) = update["plan"]["steps"]
    assert created["tool"] == "write_file"
    assert created["args"]["path"] == "greet.py" and created["args"]["content"] == "hi()\n"
    assert len(llm.calls_for("Plan")) == 1  # no second planning round


def test_an_append_that_repeats_the_file_adds_only_what_is_new(tmp_path: Path) -> None:
    (tmp_path / "list.txt").write_text("milk\neggs \nbread\n\n")
    (tmp_path / "log.txt").write_text("milk\n")
    registry = _registry(tmp_path)

    def append(path: str, content: str, flag: bool = True) -> dict[str, Any]:
        return step("s1", "write_file", {"path": path, "content": content, "append": flag})

    def mended(*steps: dict[str, Any]) -> list[dict[str, Any]]:
        proposal = Plan.model_validate({"steps": list(steps)})
        return [s.args for s in appends_without_repeats(proposal, registry).steps]

    # The whole list plus the new line: only the new line is appended.
    assert mended(append("list.txt", "milk\neggs\nbread\nolive oil\n"))[0]["content"] == (
        "olive oil\n"
    )
    # Only what is there already: nothing to add.
    assert mended(append("list.txt", "milk\neggs\nbread")) == []
    # New text, a replacement (append off), a file that does not exist, a line that merely
    # starts the same: left as they are.
    for kept in (
        append("list.txt", "olive oil\n"),
        append("list.txt", "milk\neggs\nbread\nolive oil\n", flag=False),
        append("new.txt", "milk\neggs\nbread\nolive oil\n"),
        append("log.txt", "milk and honey\n"),
    ):
        assert mended(kept) == [kept["args"]]


async def test_a_change_planned_for_thanks_or_a_question_is_dropped_not_offered(
    tmp_path: Path,
) -> None:
    _tree(tmp_path)
    before = (tmp_path / "main.py").read_text()
    spurious = plan(
        step("s1", "write_file", {"path": "main.py", "content": "thanks\n"}),
        step("s2", "read_file", {"path": "main.py"}, depends_on=["s1"]),
    )
    graph, llm = make_graph(
        tmp_path,
        {
            "IntentResult": [intent("information_request")],
            "Plan": [spurious],
            "text": ["You are welcome!"],
        },
    )
    config = thread()
    message = "Thanks a lot for your help earlier, that fixed it. Have a great weekend!"
    out = await graph.ainvoke({"messages": [HumanMessage(content=message)]}, config)
    assert not (await graph.aget_state(config)).interrupts  # no "do you mean main.py?"
    assert out["answer"] == "You are welcome!"
    assert (tmp_path / "main.py").read_text() == before
    assert out.get("results") in (None, [])
    assert len(llm.calls_for("Plan")) == 1  # dropped, not sent back for another plan

    # The same plan for a request to change something is still asked about.
    graph, _ = make_graph(
        tmp_path, {"IntentResult": [intent("file_operation")], "Plan": [spurious]}
    )
    config = thread()
    await graph.ainvoke({"messages": [HumanMessage(content="Fix it.")]}, config)
    (pending,) = (await graph.aget_state(config)).interrupts
    assert "main.py" in pending.value["question"]


def test_an_edit_that_changes_nothing_goes_back_to_the_planner(tmp_path: Path) -> None:
    (tmp_path / "shopping.txt").write_text("milk\neggs\n")
    registry = _registry(tmp_path)

    def errors(search: str, replace: str) -> list[str]:
        args = {"path": "shopping.txt", "search": search, "replace": replace}
        return check_plan(Plan.model_validate(plan(step("s1", "edit_file", args))), registry)[1]

    (reason,) = errors("olive oil", "olive oil")
    assert "change nothing" in reason and "append" in reason
    assert errors("eggs", "eggs\nolive oil") == []


async def test_an_edit_repeating_text_the_file_lacks_adds_it_at_the_end(tmp_path: Path) -> None:
    (tmp_path / "packing.txt").write_text("tent\nstove")  # no final line break
    (tmp_path / "notes.md").write_text("# Notes\n")
    registry = _registry(tmp_path)

    def mended(path: str, search: str, replace: str) -> dict[str, Any]:
        args = {"path": path, "search": search, "replace": replace}
        proposal = Plan.model_validate(plan(step("s1", "edit_file", args)))
        (kept,) = unchanged_edits_as_appends(proposal, registry).steps
        return {"tool": kept.tool, **kept.args}

    assert mended("packing.txt", "sleeping bag", "sleeping bag\n") == {
        "tool": "write_file",
        "path": "packing.txt",
        "content": "sleeping bag\n",
        "append": True,
    }
    # Text the file has already, a real change, a file that does not exist: left as planned,
    # for the planner's own checks.
    for path, search, replace in (
        ("packing.txt", "stove", "stove"),
        ("packing.txt", "stove", "gas stove"),
        ("missing.txt", "x", "x"),
    ):
        assert mended(path, search, replace) == {
            "tool": "edit_file",
            "path": path,
            "search": search,
            "replace": replace,
        }

    # Through the planner: one planning call, and the line ends up on a line of its own.
    edit = plan(
        step("s1", "edit_file", {"path": "packing.txt", "search": "matches", "replace": "matches"})
    )
    graph, llm = make_graph(
        tmp_path,
        {
            "IntentResult": [intent("file_operation")],
            "Plan": [edit],
            "Validation": [validation(True)],
            "text": ["Added."],
        },
    )
    config = thread()
    message = "Put matches at the end of packing.txt"
    await graph.ainvoke({"messages": [HumanMessage(content=message)]}, config)
    (pending,) = (await graph.aget_state(config)).interrupts  # the write asks for approval
    assert "packing.txt" in str(pending.value)
    await graph.ainvoke(Command(resume={"decision": "approve"}), config)
    assert (tmp_path / "packing.txt").read_text() == "tent\nstove\nmatches\n"
    assert len(llm.calls_for("Plan")) == 1


def test_combine_files_joins_whole_files_in_order_each_on_its_own_lines(tmp_path: Path) -> None:
    tools = {tool.name: tool for tool in make_file_tools(Workspace(tmp_path))}
    (tmp_path / "a.txt").write_text("chapter 1\nquiet")  # no final line break
    (tmp_path / "b.txt").write_text("chapter 2\n")
    out = tools["combine_files"].invoke({"paths": ["a.txt", "b.txt"], "destination": "all.txt"})
    assert (tmp_path / "all.txt").read_text() == "chapter 1\nquiet\nchapter 2\n"
    assert "all.txt" in out and "a.txt, b.txt" in out
    # The destination may be one of the sources: everything is read before writing.
    tools["combine_files"].invoke({"paths": ["b.txt", "a.txt"], "destination": "a.txt"})
    assert (tmp_path / "a.txt").read_text() == "chapter 2\nchapter 1\nquiet\n"
    registry = _registry(tmp_path)
    assert registry.risk("combine_files") == "write"


def test_a_read_file_shows_its_line_count_after_the_contents(tmp_path: Path) -> None:
    read = {
        "step_id": "read1",
        "tool": "read_file",
        "args": {"path": "termine.txt"},
        "ok": True,
        "output": "termine.txt (2 lines)\nTeammeeting: Dienstag, 9:15 Uhr\nKunde: Freitag",
    }
    shown = render_results([read], 4000)
    assert shown == (
        "Result of read_file (path termine.txt):\nTeammeeting: Dienstag, 9:15 Uhr\n"
        "Kunde: Freitag\n[end of termine.txt: 2 lines]"
    )
    partial = {**read, "output": "big.txt (lines 1-2 of 90)\na\nb\n[88 more lines; ...]"}
    assert render_results([partial], 4000).endswith("[end of big.txt: lines 1-2 of 90]")
    # Copied into a file the plan writes, the footer is taken out like the header was.
    write = step(
        "s1",
        "write_file",
        {"path": "all.txt", "content": "Teammeeting\n[end of termine.txt: 2 lines]"},
    )
    cleaned = without_scaffolding(
        Plan.model_validate({"steps": [write]}), [read], _registry(tmp_path)
    )
    assert cleaned.steps[0].args["content"] == "Teammeeting"


def test_an_edit_naming_a_settings_key_and_a_plain_value_sets_that_value(tmp_path: Path) -> None:
    tools = {tool.name: tool for tool in make_file_tools(Workspace(tmp_path))}
    (tmp_path / "s.json").write_text('{\n  "debug": true,\n  "max_items": 250\n}\n')
    tools["edit_file"].invoke({"path": "s.json", "search": "debug", "replace": "false"})
    assert (tmp_path / "s.json").read_text() == '{\n  "debug": false,\n  "max_items": 250\n}\n'
    (tmp_path / "a.ini").write_text("[server]\nport = 8080 ; main\ntimeout: 30\n")
    tools["edit_file"].invoke({"path": "a.ini", "search": "port", "replace": "9090"})
    assert (tmp_path / "a.ini").read_text() == "[server]\nport = 9090 ; main\ntimeout: 30\n"
    # A new name for the key is a rename, done as written.
    tools["edit_file"].invoke({"path": "a.ini", "search": "timeout", "replace": "wait"})
    assert (tmp_path / "a.ini").read_text() == "[server]\nport = 9090 ; main\nwait: 30\n"
