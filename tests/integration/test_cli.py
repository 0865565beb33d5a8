"""The ``lmsa`` CLI as a user runs it, talking real HTTP to the scripted LM Studio stub on
loopback, with a sqlite conversation store and a temporary workspace.

Most tests run the CLI in-process (``run_lmsa``: typer's runner, a fresh environment per call);
the ones whose claim is about a process run it as one: the exit status a shell sees, tokens
arriving on a pipe while the answer is still being written, a thread resumed by a new process.

Assertions are on exit codes, what is printed, what the stub was asked, and effects (files in
the workspace, threads in the store), never on lmsa internals.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import (
    Finished,
    RunLmsa,
    RunLmsaProcess,
    lmsa_command,
    run_lmsa_in_process,
    run_lmsa_subprocess,
)
from tests.integration.helpers import (
    CLARIFY_SCENARIO,
    COMPLETE,
    assert_no_traceback,
    assert_ok,
    body_text,
    chat_bodies,
    chat_script,
    history_lines,
    intent,
    output,
    plan,
    queue_of,
    step,
)
from tests.stubs.lmstudio import LMStudioStub

pytestmark = pytest.mark.integration

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


# ---- lmsa ask -------------------------------------------------------------------------------


def test_ask_reads_a_file_and_prints_the_answer(
    stub: LMStudioStub, run_lmsa: RunLmsa, workspace: Path
) -> None:
    stub.set_scenario(
        {
            "IntentResult": [intent("file_operation", entities=("notes.txt",))],
            "Plan": [plan(step("s1", "read_file", path="notes.txt"))],
            "Validation": [COMPLETE],
            "text": ["The launch code in notes.txt is PINEAPPLE-42."],
        }
    )

    proc = run_lmsa("ask", "What does notes.txt say?")

    assert_ok(proc)
    assert proc.stdout.strip() == "The launch code in notes.txt is PINEAPPLE-42."
    bodies = chat_bodies(stub)
    # A read that succeeded needs no self-check: intent, plan, answer.
    assert [queue_of(b) for b in bodies] == ["IntentResult", "Plan", "text"]
    for structured in bodies[:2]:
        assert structured["response_format"]["type"] == "json_schema"
        assert structured["response_format"]["json_schema"]["strict"] is True
    assert "What does notes.txt say?" in body_text(bodies[0])
    # The tool really ran: its output reached the answer prompt.
    assert "PINEAPPLE-42" in body_text(bodies[2])
    # `ask` consumes the graph with astream(stream_mode=["messages", ...]), which switches the
    # chat model to streaming: the answer is streamed, while the structured calls (delivered
    # whole anyway) are requested whole.
    assert [bool(b.get("stream")) for b in bodies] == [False, False, True]
    # The model was resolved once, from LM Studio's model lists.
    assert stub.count("/v1/models") >= 1
    assert all(b["model"] == "test-model" for b in bodies)


def test_ask_json_prints_the_final_state(stub: LMStudioStub, run_lmsa: RunLmsa) -> None:
    stub.set_scenario(
        {
            "IntentResult": [intent("file_operation")],
            "Plan": [plan(step("s1", "read_file", path="notes.txt"))],
            "Validation": [COMPLETE],
            "text": ["It holds a launch code."],
        }
    )

    proc = run_lmsa("ask", "--json", "--thread", "json-thread", "What is in notes.txt?")

    assert_ok(proc)
    payload = json.loads(proc.stdout)
    assert {"thread_id", "messages", "answer", "intent", "results"} <= set(payload)
    assert payload["thread_id"] == "json-thread"
    assert payload["answer"] == "It holds a launch code."
    assert payload["intent"]["intent"] == "file_operation"
    assert [(m["type"], m["content"]) for m in payload["messages"]] == [
        ("human", "What is in notes.txt?"),
        ("ai", "It holds a launch code."),
    ]
    [result] = payload["results"]
    assert result["tool"] == "read_file" and result["ok"] is True
    assert "PINEAPPLE-42" in result["output"]


def test_ask_write_file_plan_writes_into_the_workspace(
    stub: LMStudioStub, run_lmsa: RunLmsa, workspace: Path, lmsa_env: dict[str, str]
) -> None:
    stub.set_scenario(
        {
            "IntentResult": [intent("file_operation")],
            "Plan": [
                plan(step("w1", "write_file", path="out/todo.md", content="- buy milk\n- test\n"))
            ],
            "Validation": [COMPLETE],
            "text": ["I wrote out/todo.md."],
        }
    )

    # Writes wait for approval by default (tests/integration/test_approvals.py); allow them here.
    proc = run_lmsa(
        "ask", "Create out/todo.md with my list", env={**lmsa_env, "LMSA_AUTO_APPROVE": "write"}
    )

    assert_ok(proc)
    assert "I wrote out/todo.md." in proc.stdout
    written = workspace / "out" / "todo.md"
    assert written.read_text(encoding="utf-8") == "- buy milk\n- test\n"


# ---- lmsa chat ------------------------------------------------------------------------------


def test_chat_two_turns_and_slash_commands(stub: LMStudioStub, run_lmsa: RunLmsa) -> None:
    stub.set_scenario(
        {
            "IntentResult": [intent("conversation")],
            "text": ["Alpha answer arrives word by word.", "Beta answer follows it."],
        }
    )

    proc = run_lmsa(
        "chat",
        "--thread",
        "chat-thread",
        input=chat_script(
            "first question", "second question", "/history", "/threads", "/new", "/help", "/quit"
        ),
    )

    assert_ok(proc)
    out = proc.stdout
    assert "lmsa - thread chat-thread" in out
    # Each answer appears once, right after its prompt (streamed, not printed a second time).
    assert out.count("Alpha answer arrives word by word.") == 2  # the turn + /history
    assert "assistant> Alpha answer arrives word by word.\n" in out
    assert "assistant> Beta answer follows it.\n" in out
    assert history_lines(out) == [
        "human> first question",
        "ai> Alpha answer arrives word by word.",
        "human> second question",
        "ai> Beta answer follows it.",
    ]
    assert re.search(r"\* chat-thread\s+\S+ \S+\s+second question$", out, re.MULTILINE)
    new_thread = re.search(rf"new thread ({UUID})", out)
    assert new_thread, out
    assert "Commands:" in out and "/history" in out
    assert f"bye - resume with: lmsa chat --thread {new_thread.group(1)}" in out
    # The answers were requested as streams (chat prints tokens as they come).
    answers = [b for b in chat_bodies(stub) if queue_of(b) == "text"]
    assert len(answers) == 2 and all(b["stream"] is True for b in answers)


def test_chat_prints_tokens_before_the_answer_is_complete(
    stub: LMStudioStub, lmsa_env: dict[str, str], run_cwd: Path
) -> None:
    """A real process on a real pipe: the first word is readable from ``lmsa chat``'s stdout
    while the stub is still in the middle of sending the answer (its in-progress counter, read
    at that moment, says the completion has not finished)."""
    words = "one two three four five six"
    stub.set_scenario(
        {
            "IntentResult": [intent("conversation")],
            "text": [{"content": words, "chunk_delay_ms": 300}],
        }
    )
    first_word = "assistant> one"
    seen: list[str] = []
    stub_at_first_word: list[dict[str, object]] = []
    proc = subprocess.Popen(
        lmsa_command("chat"),
        env=lmsa_env,
        cwd=run_cwd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        bufsize=0,
    )

    def read() -> None:
        assert proc.stdout is not None
        while chunk := proc.stdout.read(1):
            seen.append(chunk)
            if not stub_at_first_word and "".join(seen).endswith(first_word):
                stats = httpx.get(f"{stub.root_url}/_stub/stats", timeout=10).json()
                stub_at_first_word.append(stats)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert proc.stdin is not None and proc.stderr is not None
    proc.stdin.write(chat_script("hi", "/quit"))
    proc.stdin.close()
    try:
        proc.wait(timeout=60)
    finally:
        proc.kill()
    reader.join(timeout=5)
    stderr = proc.stderr.read()
    text = "".join(seen)
    assert proc.returncode == 0, text + stderr
    assert f"assistant> {words}\n" in text
    # When "one" could be read, the answer's completion was still being streamed.
    [stats] = stub_at_first_word
    assert stats["in_progress"] == 1, stats
    answers = [b for b in chat_bodies(stub) if queue_of(b) == "text"]
    assert len(answers) == 1 and answers[0]["stream"] is True
    # ...and it finished afterwards: nothing is left in progress once the chat is over.
    assert httpx.get(f"{stub.root_url}/_stub/stats", timeout=10).json()["in_progress"] == 0


def test_chat_resumes_a_thread_after_restart(
    stub: LMStudioStub, run_lmsa: RunLmsa, run_lmsa_process: RunLmsaProcess
) -> None:
    stub.set_scenario({"IntentResult": [intent()], "text": ["Nice to meet you, Ada."]})

    first = run_lmsa("chat", "--thread", "resume-me", input=chat_script("I am Ada", "/quit"))
    assert_ok(first)
    # A new process, sharing nothing with the first run but the store on disk.
    second = run_lmsa_process(
        "chat", "--thread", "resume-me", input=chat_script("/history", "/quit")
    )

    assert_ok(second)
    assert history_lines(second.stdout) == ["human> I am Ada", "ai> Nice to meet you, Ada."]
    assert len(chat_bodies(stub)) == 2  # /history asked the model nothing


def test_chat_without_thread_starts_fresh(stub: LMStudioStub, run_lmsa: RunLmsa) -> None:
    stub.set_scenario({"IntentResult": [intent()], "text": ["ok"]})
    assert_ok(run_lmsa("chat", "--thread", "older", input=chat_script("remember me", "/quit")))

    proc = run_lmsa("chat", input=chat_script("/history", "/quit"))

    assert_ok(proc)
    assert history_lines(proc.stdout) == []


# ---- clarification --------------------------------------------------------------------------


def test_ask_clarification_round_trip(stub: LMStudioStub, run_lmsa: RunLmsa) -> None:
    stub.set_scenario(CLARIFY_SCENARIO)

    asked = run_lmsa("ask", "summarise the file")

    assert_ok(asked)
    assert asked.stdout.strip() == "Which file should I summarise?"
    hint = re.search(rf'lmsa ask --thread ({UUID}) "<your answer>"', asked.stderr)
    assert hint, asked.stderr
    assert [queue_of(b) for b in chat_bodies(stub)] == ["IntentResult"]

    answered = run_lmsa("ask", "--thread", hint.group(1), "the notes.txt one")

    assert_ok(answered)
    assert answered.stdout.strip() == "Summary: it holds the launch code."
    bodies = chat_bodies(stub)
    assert [queue_of(b) for b in bodies] == [
        "IntentResult",
        "IntentResult",
        "Plan",
        "text",
    ]
    second_intent = body_text(bodies[1])
    assert "the notes.txt one" in second_intent
    assert "Which file should I summarise?" in second_intent
    assert "summarise the file" in second_intent


def test_chat_clarification_question_then_answer(stub: LMStudioStub, run_lmsa: RunLmsa) -> None:
    stub.set_scenario(CLARIFY_SCENARIO)

    proc = run_lmsa(
        "chat",
        input=chat_script("summarise the file", "the notes.txt one", "/history", "/quit"),
    )

    assert_ok(proc)
    assert "assistant> Which file should I summarise?\n" in proc.stdout
    assert "assistant> Summary: it holds the launch code.\n" in proc.stdout
    assert history_lines(proc.stdout) == [
        "human> summarise the file",
        "ai> Which file should I summarise?",
        "human> the notes.txt one",
        "ai> Summary: it holds the launch code.",
    ]
    assert "the notes.txt one" in body_text(chat_bodies(stub)[1])


def test_chat_shows_a_pending_question_after_restart(stub: LMStudioStub, run_lmsa: RunLmsa) -> None:
    stub.set_scenario(CLARIFY_SCENARIO)
    assert_ok(run_lmsa("ask", "--thread", "paused", "summarise the file"))

    proc = run_lmsa("chat", "--thread", "paused", input=chat_script("the notes.txt one", "/quit"))

    assert_ok(proc)
    assert "assistant (waiting for your answer)> Which file should I summarise?" in proc.stdout
    assert "assistant> Summary: it holds the launch code.\n" in proc.stdout


# ---- LM Studio not there / no model ---------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "run"),
    [(("ask", "hello"), run_lmsa_subprocess), (("chat",), run_lmsa_in_process)],
    ids=["ask-process", "chat"],
)
def test_no_server_is_one_clear_sentence(
    args: tuple[str, ...],
    run: Callable[..., Finished],
    unreachable_env: Callable[..., dict[str, str]],
    run_cwd: Path,
) -> None:
    env = unreachable_env()
    url = env["LMSA_BASE_URL"]

    proc = run(*args, input="hello\n/quit\n", env=env, cwd=run_cwd)

    assert proc.returncode == 2, output(proc)
    assert_no_traceback(proc)
    message = proc.stderr.strip()
    assert len(message.splitlines()) == 1, message
    assert url in message
    assert "LM Studio" in message
    assert "lmsa - thread" not in proc.stdout  # chat never started


def test_doctor_without_server_fails_with_the_fix(
    unreachable_env: Callable[..., dict[str, str]], run_cwd: Path
) -> None:
    env = unreachable_env()
    url = env["LMSA_BASE_URL"]

    proc = run_lmsa_in_process("doctor", env=env, cwd=run_cwd)

    assert proc.returncode == 2, output(proc)
    assert_no_traceback(proc)
    row = _doctor_row(proc.stdout, "LLM endpoint reachable")
    assert row[0] == "FAIL"
    assert url in row[1] and "LM Studio" in row[2] and url in row[2]


def test_ask_with_no_model_loaded(stub: LMStudioStub, run_lmsa: RunLmsa) -> None:
    stub.set_scenario({"loaded": False, "IntentResult": [intent()], "text": ["unused"]})

    proc = run_lmsa("ask", "hello")

    assert proc.returncode == 2, output(proc)
    assert_no_traceback(proc)
    assert "no model loaded" in proc.stderr.lower()
    assert stub.base_url in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert chat_bodies(stub) == []  # refused before the turn started


@pytest.mark.parametrize("command", ["ask", "chat"])
def test_explicit_model_not_loaded_fails_the_turn_cleanly(
    command: str, stub: LMStudioStub, lmsa_env: dict[str, str], run_lmsa: RunLmsa
) -> None:
    stub.set_scenario({"loaded": False, "IntentResult": [intent()], "text": ["unused"]})
    env = {**lmsa_env, "LMSA_MODEL": "test-model"}
    args = ("ask", "hello") if command == "ask" else ("chat",)

    proc = run_lmsa(*args, input="hello\n/quit\n", env=env)

    assert proc.returncode == 2, output(proc)
    assert_no_traceback(proc)
    assert "no model loaded" in proc.stderr.lower(), proc.stderr
    assert stub.base_url in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    # The chat request itself was made and got LM Studio's 400.
    assert len(chat_bodies(stub)) >= 1


# ---- lmsa doctor ----------------------------------------------------------------------------


def _doctor_row(stdout: str, name: str) -> tuple[str, str, str]:
    """(status, detail, fix) of the doctor table row whose Check cell is ``name``."""
    for line in stdout.splitlines():
        cells = [cell.strip() for cell in re.split(r"[│┃|]", line)]
        cells = [c for c in cells if c != ""] if cells else []
        if cells and cells[0] == name:
            rest = [*cells[1:], "", ""]
            return rest[0], rest[1], rest[2]
    raise AssertionError(f"no doctor row {name!r} in:\n{stdout}")


def test_doctor_healthy(stub: LMStudioStub, run_lmsa: RunLmsa, data_dir: Path) -> None:
    stub.set_scenario({"model": "gemma-test"})

    proc = run_lmsa("doctor")

    assert_ok(proc)
    assert _doctor_row(proc.stdout, "LLM endpoint reachable")[:2] == ("OK", stub.base_url)
    assert _doctor_row(proc.stdout, "LLM endpoint models listed")[:2] == ("OK", "gemma-test")
    assert _doctor_row(proc.stdout, "LLM endpoint model loaded")[:2] == ("OK", "gemma-test")
    status, detail, _ = _doctor_row(proc.stdout, "Conversation store")
    assert status == "OK" and str(data_dir / "checkpoints.sqlite") in detail
    assert _doctor_row(proc.stdout, "Workspace")[0] == "OK"
    assert "FAIL" not in proc.stdout


def test_doctor_no_model_loaded_fails(stub: LMStudioStub, run_lmsa: RunLmsa) -> None:
    stub.set_scenario({"loaded": False})

    proc = run_lmsa("doctor")

    assert proc.returncode == 2, output(proc)
    assert_no_traceback(proc)
    assert _doctor_row(proc.stdout, "LLM endpoint reachable")[0] == "OK"
    status, _, fix = _doctor_row(proc.stdout, "LLM endpoint model loaded")
    assert status == "FAIL" and "no model loaded" in fix.lower()


# ---- lmsa threads ---------------------------------------------------------------------------


HISTORY_ROW = re.compile(
    r"^(?P<id>\S+)\s+step\s+(?P<step>-?\d+)\s+\S+ \S+\s+next=(?P<next>\S+)\s+"
    r"messages=(?P<messages>\d+)\s*(?P<preview>.*)$"
)


def checkpoint_rows(stdout: str) -> list[dict[str, str]]:
    rows = [m.groupdict() for m in map(HISTORY_ROW.match, stdout.splitlines()) if m]
    assert rows, stdout
    return rows


def two_turn_thread(stub: LMStudioStub, run_lmsa: RunLmsa, thread: str) -> None:
    stub.set_scenario({"IntentResult": [intent()], "text": ["First reply.", "Second reply."]})
    assert_ok(run_lmsa("ask", "--thread", thread, "turn one"))
    assert_ok(run_lmsa("ask", "--thread", thread, "turn two"))


def chat_history(run_lmsa: RunLmsa, thread: str) -> list[str]:
    proc = run_lmsa("chat", "--thread", thread, input=chat_script("/history", "/quit"))
    assert_ok(proc)
    return history_lines(proc.stdout)


def test_threads_list_and_history(stub: LMStudioStub, run_lmsa: RunLmsa) -> None:
    two_turn_thread(stub, run_lmsa, "listed")

    listing = run_lmsa("threads", "list")
    history = run_lmsa("threads", "history", "listed")

    assert_ok(listing)
    assert re.search(
        r"^listed\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+turn two$", listing.stdout, re.MULTILINE
    ), listing.stdout
    assert_ok(history)
    rows = checkpoint_rows(history.stdout)
    assert len({row["id"] for row in rows}) == len(rows)
    steps = [int(row["step"]) for row in rows]
    assert steps == sorted(steps, reverse=True)  # newest first
    assert rows[0]["next"] == "-" and rows[0]["messages"] == "4"
    assert rows[0]["preview"] == "turn two"
    assert any(r["next"] == "respond" and r["messages"] == "3" for r in rows)
    assert any(r["next"] == "-" and r["messages"] == "2" for r in rows)


def test_threads_list_empty_store(run_lmsa: RunLmsa) -> None:
    proc = run_lmsa("threads", "list")

    assert_ok(proc)
    assert proc.stdout.strip() == "no threads yet"


def test_fork_end_of_first_turn(stub: LMStudioStub, run_lmsa: RunLmsa) -> None:
    two_turn_thread(stub, run_lmsa, "source")
    before = run_lmsa("threads", "history", "source")
    assert_ok(before)
    end_of_turn_one = next(
        r for r in checkpoint_rows(before.stdout) if r["next"] == "-" and r["messages"] == "2"
    )

    fork = run_lmsa("threads", "fork", "source", "--checkpoint", end_of_turn_one["id"])

    assert_ok(fork)
    new_thread = fork.stdout.strip()
    assert re.fullmatch(UUID, new_thread), fork.stdout
    assert f"lmsa chat --thread {new_thread}" in fork.stderr
    assert chat_history(run_lmsa, new_thread) == ["human> turn one", "ai> First reply."]
    # The source thread is untouched.
    assert chat_history(run_lmsa, "source") == [
        "human> turn one",
        "ai> First reply.",
        "human> turn two",
        "ai> Second reply.",
    ]
    after = run_lmsa("threads", "history", "source")
    assert after.stdout == before.stdout
    listing = run_lmsa("threads", "list").stdout
    assert re.search(rf"^{new_thread}\s+.*turn one$", listing, re.MULTILINE), listing


def test_forked_thread_continues_independently(stub: LMStudioStub, run_lmsa: RunLmsa) -> None:
    two_turn_thread(stub, run_lmsa, "origin")
    rows = checkpoint_rows(run_lmsa("threads", "history", "origin").stdout)
    end_of_turn_one = next(r for r in rows if r["next"] == "-" and r["messages"] == "2")
    new_thread = run_lmsa("threads", "fork", "origin", "-c", end_of_turn_one["id"]).stdout.strip()
    stub.set_scenario({"IntentResult": [intent()], "text": ["Branch reply."]})

    proc = run_lmsa("ask", "--thread", new_thread, "turn three on the branch")

    assert_ok(proc)
    assert proc.stdout.strip() == "Branch reply."
    assert chat_history(run_lmsa, new_thread) == [
        "human> turn one",
        "ai> First reply.",
        "human> turn three on the branch",
        "ai> Branch reply.",
    ]
    # The model saw the branch's history only, not the source's second turn.
    prompt = body_text(chat_bodies(stub)[-1])
    assert "turn one" in prompt and "turn two" not in prompt
    assert len(chat_history(run_lmsa, "origin")) == 4


def test_fork_just_before_the_final_answer(stub: LMStudioStub, run_lmsa: RunLmsa) -> None:
    stub.set_scenario({"IntentResult": [intent()], "text": ["Only reply."]})
    assert_ok(run_lmsa("ask", "--thread", "one-turn", "just one turn"))
    rows = checkpoint_rows(run_lmsa("threads", "history", "one-turn").stdout)
    before_answer = next(r for r in rows if r["next"] == "respond")

    fork = run_lmsa("threads", "fork", "one-turn", "--checkpoint", before_answer["id"])

    assert_ok(fork)
    new_thread = fork.stdout.strip()
    assert chat_history(run_lmsa, new_thread) == ["human> just one turn"]
    forked_rows = checkpoint_rows(run_lmsa("threads", "history", new_thread).stdout)
    assert forked_rows[0]["next"] == "respond" and forked_rows[0]["messages"] == "1"
    assert chat_history(run_lmsa, "one-turn") == ["human> just one turn", "ai> Only reply."]


def test_fork_of_a_paused_thread_keeps_the_question_answerable(
    stub: LMStudioStub, run_lmsa: RunLmsa
) -> None:
    stub.set_scenario(CLARIFY_SCENARIO)
    assert_ok(run_lmsa("ask", "--thread", "paused-source", "summarise the file"))
    latest = checkpoint_rows(run_lmsa("threads", "history", "paused-source").stdout)[0]
    assert latest["next"] == "clarify"

    fork = run_lmsa("threads", "fork", "paused-source", "--checkpoint", latest["id"])
    assert_ok(fork)
    new_thread = fork.stdout.strip()
    proc = run_lmsa(
        "chat", "--thread", new_thread, input=chat_script("the notes.txt one", "/history", "/quit")
    )

    assert_ok(proc)
    assert "assistant (waiting for your answer)> Which file should I summarise?" in proc.stdout
    assert "assistant> Summary: it holds the launch code.\n" in proc.stdout
    assert history_lines(proc.stdout)[-2:] == [
        "human> the notes.txt one",
        "ai> Summary: it holds the launch code.",
    ]
    # The source thread still waits for its own answer.
    source = run_lmsa("chat", "--thread", "paused-source", input=chat_script("/quit"))
    assert "assistant (waiting for your answer)> Which file should I summarise?" in source.stdout


def test_fork_unknown_checkpoint_is_a_clear_error(stub: LMStudioStub, run_lmsa: RunLmsa) -> None:
    stub.set_scenario({"IntentResult": [intent()], "text": ["hi"]})
    assert_ok(run_lmsa("ask", "--thread", "real", "hello"))

    proc = run_lmsa("threads", "fork", "real", "--checkpoint", "no-such-checkpoint")

    assert proc.returncode == 2, output(proc)
    assert_no_traceback(proc)
    assert "no checkpoint no-such-checkpoint" in proc.stderr
    assert "lmsa threads history real" in proc.stderr
    assert proc.stdout.strip() == ""


def test_threads_history_unknown_thread(run_lmsa: RunLmsa) -> None:
    proc = run_lmsa("threads", "history", "ghost")

    assert proc.returncode == 2, output(proc)
    assert_no_traceback(proc)
    assert "No thread ghost" in proc.stderr
