"""What a newcomer following the README hits: bad settings, a missing workspace, a taken port,
thread ids that go unseen or mistyped, deleting old threads, Ctrl-C at the prompt, doctor's
verdict with fallbacks, and the embedding example without LM Studio. Every expected failure is
one sentence and exit code 2."""

from __future__ import annotations

import json
import platform
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deps import missing
from tests.integration.conftest import (
    LMSA_TIMEOUT,
    Finished,
    RunLmsa,
    base_env,
    closed_port,
    lmsa_command,
)
from tests.integration.helpers import assert_no_traceback, assert_ok, chat_script, intent, output
from tests.redis_support import fresh_key_prefix, redis_answers
from tests.stubs.lmstudio import LMStudioStub

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "embed_in_parent.py"


def assert_one_sentence_exit_2(proc: Finished, *needles: str) -> None:
    assert proc.returncode == 2, f"exit {proc.returncode}\n{output(proc)}"
    assert_no_traceback(proc)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def conversation(stub: LMStudioStub, *answers: str) -> None:
    stub.set_scenario({"IntentResult": [intent()] * len(answers), "text": list(answers)})


# ---- settings, workspace, port ----------------------------------------------------------------

BAD_SETTINGS = [
    ("LMSA_CHECKPOINTER", "postgres", "'sqlite', 'memory' or 'redis'"),
    ("LMSA_AUTO_APPROVE", "yes", "'none', 'read' or 'write'"),
    ("LMSA_FALLBACKS", "notjson", "JSON list"),
    ("LMSA_CLARIFY_THRESHOLD", "abc", "a valid number"),
]


@pytest.mark.parametrize("command", [("ask", "hi"), ("chat",), ("threads", "list"), ("serve",)])
@pytest.mark.parametrize(("variable", "value", "allowed"), BAD_SETTINGS)
def test_a_bad_setting_is_one_sentence_and_exit_2(
    run_lmsa: RunLmsa,
    lmsa_env: dict[str, str],
    command: tuple[str, ...],
    variable: str,
    value: str,
    allowed: str,
) -> None:
    proc = run_lmsa(*command, env={**lmsa_env, variable: value})

    assert_one_sentence_exit_2(proc, f"{variable}='{value}'", allowed)


@pytest.mark.parametrize(("variable", "value", "allowed"), BAD_SETTINGS)
def test_doctor_shows_a_bad_setting_as_a_fail_row(
    run_lmsa: RunLmsa, lmsa_env: dict[str, str], variable: str, value: str, allowed: str
) -> None:
    proc = run_lmsa("doctor", env={**lmsa_env, variable: value})

    assert proc.returncode == 2, output(proc)
    assert_no_traceback(proc)
    row = next(line for line in proc.stdout.splitlines() if "Settings" in line)
    assert "FAIL" in row and f"{variable}='{value}'" in row and allowed in row, proc.stdout


@pytest.mark.parametrize("command", [("ask", "hi"), ("threads", "list"), ("serve",)])
def test_a_missing_workspace_is_one_sentence_and_exit_2(
    run_lmsa: RunLmsa, lmsa_env: dict[str, str], tmp_path: Path, command: tuple[str, ...]
) -> None:
    missing = tmp_path / "no-such-folder"

    proc = run_lmsa(*command, env={**lmsa_env, "LMSA_WORKSPACE": str(missing)})

    assert_one_sentence_exit_2(proc, str(missing), "LMSA_WORKSPACE")


def test_serve_on_a_port_in_use_is_one_sentence_and_exit_2(run_lmsa: RunLmsa) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        proc = run_lmsa("serve", "--port", str(port))

    assert_one_sentence_exit_2(proc, f"Port {port}", "already in use", "--port")


# ---- threads ------------------------------------------------------------------------------


def test_ask_names_its_new_thread_on_stderr_and_keeps_stdout_the_answer(
    stub: LMStudioStub, run_lmsa: RunLmsa
) -> None:
    conversation(stub, "First answer.", "Second answer.")

    first = run_lmsa("ask", "hello")

    assert_ok(first)
    assert first.stdout == "First answer.\n"
    named = re.search(rf"\(thread ({UUID}): continue with lmsa ask --thread \1 ", first.stderr)
    assert named, first.stderr

    second = run_lmsa("ask", "--thread", named.group(1), "and again")

    assert_ok(second)
    assert second.stdout == "Second answer.\n"
    assert "new thread" not in second.stderr and "(thread " not in second.stderr


@pytest.mark.parametrize("command", ["ask", "chat"])
def test_a_mistyped_thread_id_is_announced_as_a_new_thread(
    stub: LMStudioStub, run_lmsa: RunLmsa, command: str
) -> None:
    conversation(stub, "Saved.", "Fresh start.")
    assert_ok(run_lmsa("ask", "--thread", "project-alpha", "remember this"))

    args = ("ask", "--thread", "project-alhpa", "what did I say?")
    proc = run_lmsa(*args) if command == "ask" else run_lmsa("chat", "--thread", "project-alhpa")

    assert_ok(proc)
    assert "new thread project-alhpa" in proc.stderr, proc.stderr


def test_history_names_the_speakers_as_the_chat_does(stub: LMStudioStub, run_lmsa: RunLmsa) -> None:
    conversation(stub, "Hello there.")

    proc = run_lmsa("chat", "--thread", "names", input=chat_script("hi", "/history", "/quit"))

    assert_ok(proc)
    history = proc.stdout.split("history of thread names (2 messages):\n", 1)[1]
    assert history.splitlines()[:2] == ["you> hi", "assistant> Hello there."]
    assert "human>" not in proc.stdout and "ai>" not in proc.stdout


def thread_ids(run_lmsa: RunLmsa, env: dict[str, str]) -> list[str]:
    proc = run_lmsa("threads", "list", env=env)
    assert_ok(proc)
    if "no threads yet" in proc.stdout:
        return []
    return [line.split()[0] for line in proc.stdout.splitlines() if line.strip()]


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    if not redis_answers():
        pytest.skip("Redis does not answer PING")
    yield from fresh_key_prefix("friction")


@pytest.fixture(params=["sqlite", "redis"])
def store_env(request: pytest.FixtureRequest, lmsa_env: dict[str, str]) -> dict[str, str]:
    if request.param == "sqlite":
        return lmsa_env
    prefix = request.getfixturevalue("redis_prefix")
    return {**lmsa_env, "LMSA_CHECKPOINTER": "redis", "LMSA_REDIS_KEY_PREFIX": prefix}


def test_threads_delete_removes_one_thread(
    stub: LMStudioStub, run_lmsa: RunLmsa, store_env: dict[str, str]
) -> None:
    conversation(stub, "One.", "Two.")
    assert_ok(run_lmsa("ask", "--thread", "keep", "a", env=store_env))
    assert_ok(run_lmsa("ask", "--thread", "drop", "b", env=store_env))

    proc = run_lmsa("threads", "delete", "drop", env=store_env)

    assert_ok(proc)
    assert "deleted thread drop" in proc.stdout
    assert thread_ids(run_lmsa, store_env) == ["keep"]
    again = run_lmsa("threads", "delete", "drop", env=store_env)
    assert_one_sentence_exit_2(again, "No thread drop")


def test_threads_prune_deletes_threads_not_updated_within_the_age(
    stub: LMStudioStub, run_lmsa: RunLmsa, store_env: dict[str, str]
) -> None:
    conversation(stub, "One.")
    assert_ok(run_lmsa("ask", "--thread", "today", "a", env=store_env))

    kept = run_lmsa("threads", "prune", "--older-than", "7d", env=store_env)

    assert_ok(kept)
    assert "0 thread(s) deleted" in kept.stderr
    assert thread_ids(run_lmsa, store_env) == ["today"]

    pruned = run_lmsa("threads", "prune", "--older-than", "0s", env=store_env)

    assert_ok(pruned)
    assert "deleted thread today" in pruned.stdout
    assert thread_ids(run_lmsa, store_env) == []


def test_threads_prune_rejects_a_bad_duration(run_lmsa: RunLmsa) -> None:
    proc = run_lmsa("threads", "prune", "--older-than", "a week")

    assert_one_sentence_exit_2(proc, "'a week' is not a duration")


def test_thread_retention_prunes_the_sqlite_store_when_a_turn_opens_it(
    stub: LMStudioStub, run_lmsa: RunLmsa, lmsa_env: dict[str, str]
) -> None:
    conversation(stub, "One.")
    assert_ok(run_lmsa("ask", "--thread", "short-lived", "a"))
    # Reading the store never prunes it, whatever the retention.
    assert thread_ids(run_lmsa, {**lmsa_env, "LMSA_THREAD_RETENTION": "0.001"}) == ["short-lived"]

    conversation(stub, "Two.")
    keep = {**lmsa_env, "LMSA_THREAD_RETENTION": "7d"}
    assert_ok(run_lmsa("ask", "--thread", "second", "b", env=keep))
    assert sorted(thread_ids(run_lmsa, lmsa_env)) == ["second", "short-lived"]

    conversation(stub, "Three.")
    short = {**lmsa_env, "LMSA_THREAD_RETENTION": "0.001"}  # a millisecond: both are older
    assert_ok(run_lmsa("ask", "--thread", "third", "c", env=short))
    assert thread_ids(run_lmsa, lmsa_env) == ["third"]


# ---- Ctrl-C at the prompt (a signal: a real process) --------------------------------------


def reading_stdin(pid: int) -> bool:
    """Whether the process is blocked in read(0, ...), from /proc (Linux)."""
    read_syscalls = {"x86_64": "0", "aarch64": "63"}
    try:
        fields = Path(f"/proc/{pid}/syscall").read_text().split()
    except OSError:
        return False
    return (
        len(fields) > 1
        and fields[0] == read_syscalls.get(platform.machine())
        and (fields[1] == "0x0")
    )


def wait_until_reading_stdin(pid: int) -> None:
    if not Path(f"/proc/{pid}/syscall").exists():
        pytest.skip("needs /proc/<pid>/syscall to see when the prompt waits for input")
    deadline = time.monotonic() + LMSA_TIMEOUT
    while not reading_stdin(pid):
        assert time.monotonic() < deadline, "the chat never waited for input"
        time.sleep(0.01)


def test_ctrl_c_at_the_prompt_leaves_the_chat_without_waiting_for_input(
    lmsa_env: dict[str, str], run_cwd: Path
) -> None:
    proc = subprocess.Popen(
        lmsa_command("chat", "--thread", "interrupted"),
        env=lmsa_env,
        cwd=run_cwd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    chunks: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        while chunk := proc.stdout.read(1):
            chunks.put(chunk)

    threading.Thread(target=pump, daemon=True).start()
    seen = ""
    try:
        while "you> " not in seen:
            seen += chunks.get(timeout=LMSA_TIMEOUT)
        # The prompt is written just before the read starts; a signal in between is only
        # handled once the read returns, so wait until the process really waits for a line.
        wait_until_reading_stdin(proc.pid)
        proc.send_signal(signal.SIGINT)
        # stdin stays open: the chat must leave on the signal, not on end of input.
        code = proc.wait(timeout=LMSA_TIMEOUT / 2)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        assert proc.stdin is not None
        proc.stdin.close()
    while not chunks.empty():
        seen += chunks.get()
    assert proc.stderr is not None
    stderr = proc.stderr.read()
    proc.stderr.close()
    assert code == 0, seen + stderr
    assert "bye - resume with: lmsa chat --thread interrupted" in seen
    assert "Traceback" not in stderr, stderr


# ---- doctor -------------------------------------------------------------------------------


def doctor_rows(stdout: str) -> dict[str, str]:
    rows = {}
    for line in stdout.splitlines():
        cells = [cell.strip() for cell in line.split("│") if cell.strip()]
        if len(cells) >= 2 and cells[1] in ("OK", "WARN", "FAIL"):
            rows[cells[0]] = " | ".join(cells[1:])
    return rows


def test_doctor_with_one_unreachable_endpoint_does_not_mention_other_endpoints(
    run_lmsa: RunLmsa, lmsa_env: dict[str, str]
) -> None:
    env = {**lmsa_env, "LMSA_BASE_URL": f"http://127.0.0.1:{closed_port()}/v1"}

    proc = run_lmsa("doctor", env=env)

    assert proc.returncode == 2, output(proc)
    rows = doctor_rows(proc.stdout)
    assert rows["LLM endpoint reachable"].startswith("FAIL")
    routing = rows["LLM endpoint routing"]
    assert "other endpoints" not in routing and "only endpoint" in routing, routing


def test_doctor_passes_when_the_primary_is_down_but_a_fallback_serves(
    stub: LMStudioStub, run_lmsa: RunLmsa, lmsa_env: dict[str, str]
) -> None:
    env = {
        **lmsa_env,
        "LMSA_BASE_URL": f"http://127.0.0.1:{closed_port()}/v1",
        "LMSA_FALLBACKS": json.dumps([{"base_url": stub.base_url}]),
    }

    proc = run_lmsa("doctor", env=env)

    assert proc.returncode == 0, output(proc)
    rows = doctor_rows(proc.stdout)
    assert rows["LLM endpoint reachable"].startswith("WARN"), rows
    assert rows["Fallback 1 reachable"].startswith("OK"), rows
    assert "tried 1 of 2" in rows["LLM endpoint routing"], rows
    assert "tried 2 of 2" in rows["Fallback 1 routing"], rows


def test_doctor_passes_when_no_server_answers_but_the_embedded_model_would(
    run_lmsa: RunLmsa, lmsa_env: dict[str, str]
) -> None:
    from lmsa.local.model import DEFAULT_MODEL, MODELS, missing_extra

    if missing_extra() or not MODELS[DEFAULT_MODEL].installed():
        missing("needs the [local] extra and its default model")
    env = {
        **lmsa_env,
        "LMSA_BASE_URL": f"http://127.0.0.1:{closed_port()}/v1",
        "LMSA_LOCAL_FALLBACK": "auto",
    }

    proc = run_lmsa("doctor", env=env)

    assert proc.returncode == 0, output(proc)
    rows = doctor_rows(proc.stdout)
    assert rows["LLM endpoint reachable"].startswith("WARN"), rows
    assert rows["Embedded model (--local, fallback)"].startswith("OK"), rows


# ---- examples/embed_in_parent.py (a script: a real process) --------------------------------


def test_the_embedding_example_without_lm_studio_is_one_sentence_and_exit_2(
    tmp_path: Path,
) -> None:
    env = base_env(LMSA_BASE_URL=f"http://127.0.0.1:{closed_port()}/v1")

    proc = subprocess.run(
        [sys.executable, str(EXAMPLE), "--lmstudio"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=LMSA_TIMEOUT,
        check=False,
    )

    assert_one_sentence_exit_2(proc, "Could not reach an LLM server", "LMSA_BASE_URL")


def test_the_documented_redis_scan_pattern_finds_the_thread_keys(
    stub: LMStudioStub, run_lmsa: RunLmsa, lmsa_env: dict[str, str], redis_prefix: str
) -> None:
    import redis

    from tests.redis_support import REDIS_URL

    env = {**lmsa_env, "LMSA_CHECKPOINTER": "redis", "LMSA_REDIS_KEY_PREFIX": redis_prefix}
    conversation(stub, "Stored.")
    assert_ok(run_lmsa("ask", "--thread", "scanned", "a", env=env))
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert "--scan --pattern '{lmsa[:}]*'" in readme

    client = redis.Redis.from_url(REDIS_URL)
    try:
        documented = {k.decode() for k in client.scan_iter(match=f"{{{redis_prefix}[:}}]*")}
        plain = list(client.scan_iter(match=f"{redis_prefix}*"))
    finally:
        client.close()

    assert {f"{{{redis_prefix}:scanned}}:data", f"{{{redis_prefix}}}:threads"} <= documented
    assert plain == []  # why the README warns: the prefix sits inside a hash tag
