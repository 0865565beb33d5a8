"""Numbers that several files give under one name, added up by code, and questions that
create no file: asked what two files' numbers add up to, a small model adds them badly or
merges the files into a new one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.types import Command

from lmsa.nodes._common import render_results
from lmsa.nodes.intent import asks_a_question
from lmsa.tools.figures import shared_figures
from tests.unit.helpers import intent, make_graph, plan, step, thread, validation


def _read(path: str, text: str, *, ok: bool = True) -> dict[str, Any]:
    lines = text.count("\n")
    return {
        "step_id": path,
        "tool": "read_file",
        "args": {"path": path},
        "ok": ok,
        "output": f"{path} ({lines} lines)\n{text}",
        "error": None if ok else "no such file",
    }


def test_labelled_numbers_of_two_files_are_shown_with_their_total_and_difference() -> None:
    figures = shared_figures(
        [
            _read("north.txt", "North shop\nRevenue: 1,250 EUR\nStaff = 4\nOpened: 2019-04-02\n"),
            _read("south.txt", "South shop\nrevenue: 980.5 EUR\nstaff=3\nOpened: 2021-09-15\n"),
        ]
    )
    assert figures == (
        "Revenue: north.txt 1250 EUR, south.txt 980.5 EUR; total 2230.5 EUR; "
        "south.txt minus north.txt: -269.5 EUR\n"
        "Staff: north.txt 4, south.txt 3; total 7; south.txt minus north.txt: -1"
    )  # dates, versions and times are not numbers to add


def test_only_labels_two_files_share_once_each_are_added() -> None:
    assert shared_figures([_read("a.txt", "Total: 5\n")]) is None  # one file: nothing to add
    assert shared_figures([_read("a.txt", "Total: 5\n"), _read("b.txt", "Sum: 7\n")]) is None
    # A label a file states twice is ambiguous for that file; a failed read gives nothing.
    twice = [_read("a.txt", "Total: 5\nTotal: 6\n"), _read("b.txt", "Total: 7\n")]
    assert shared_figures(twice) is None
    failed = [_read("a.txt", "Total: 5\n"), _read("b.txt", "Total: 7\n", ok=False)]
    assert shared_figures(failed) is None
    three = [_read(f"{n}.txt", f"Pages: {n}\n") for n in ("1", "2", "3")]
    assert shared_figures(three) == "Pages: 1.txt 1, 2.txt 2, 3.txt 3; total 6"


def test_the_model_sees_the_shared_figures_after_the_files() -> None:
    shown = render_results([_read("a.txt", "Boxes: 12\n"), _read("b.txt", "Boxes: 30\n")], 1000)
    assert shown.index("Boxes: 30") < shown.index("Boxes: a.txt 12, b.txt 30; total 42")


def test_a_message_asking_something_is_told_from_one_asking_for_an_action() -> None:
    assert asks_a_question(intent("information_request"), "Summarise notes.txt.")
    assert asks_a_question(intent("file_operation"), "How many rows? See data.csv.")
    assert asks_a_question(intent("file_operation"), "Wie viele Seiten hat es?")
    assert not asks_a_question(intent("file_operation"), "Merge a.md and b.md.")
    assert not asks_a_question(intent("action_execution"), "Can you clean it up?")
    assert not asks_a_question(None, "Version 2.0?x")  # a "?" inside a word asks nothing


async def test_a_question_creates_no_file_it_does_not_name(tmp_path: Path) -> None:
    (tmp_path / "jan.txt").write_text("Orders: 40\n")
    (tmp_path / "feb.txt").write_text("Orders: 25\n")
    merge = plan(
        step("s1", "combine_files", {"paths": ["jan.txt", "feb.txt"], "destination": "all.txt"})
    )
    script = {"IntentResult": [intent("file_operation")], "Plan": [merge], "text": ["65"]}
    graph, llm = make_graph(tmp_path, script)
    message = "How many orders came in over both months? See jan.txt and feb.txt."
    out = await graph.ainvoke({"messages": [HumanMessage(content=message)]}, thread())
    assert not (tmp_path / "all.txt").exists()
    assert out["answer"] == "65"
    # The answer was written from the files, with their numbers added up by code.
    (answer_call,) = llm.calls_for("text")
    assert "Orders: jan.txt 40, feb.txt 25; total 65" in str(answer_call["messages"][0].content)

    # Asked to merge them, the same plan runs (it names the file it creates).
    script = {
        "IntentResult": [intent("file_operation")],
        "Plan": [merge],
        "Validation": [validation(True)],
        "text": ["Done."],
    }
    graph, _ = make_graph(tmp_path, script)
    config = thread()
    await graph.ainvoke(
        {"messages": [HumanMessage(content="Merge jan.txt and feb.txt into all.txt")]}, config
    )
    (pending,) = (await graph.aget_state(config)).interrupts  # the merge asks for approval
    assert "all.txt" in str(pending.value)
    await graph.ainvoke(Command(resume={"decision": "approve"}), config)
    assert (tmp_path / "all.txt").read_text() == "Orders: 40\nOrders: 25\n"
