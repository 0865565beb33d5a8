"""The CLI on the Redis checkpointer: a paused turn survives a process restart, two processes
take turns on one thread, and Redis failures (down at start, dying mid-turn) are one clear
sentence with nothing already saved lost."""

from __future__ import annotations

import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from tests.deps import missing
from tests.integration.conftest import RunLmsa, RunLmsaProcess, closed_port, lmsa_command
from tests.integration.helpers import (
    CLARIFY_SCENARIO,
    assert_no_traceback,
    body_text,
    intent,
    output,
    queue_of,
)
from tests.redis_support import REDIS_URL, fresh_key_prefix, require_redis
from tests.stubs.lmstudio import LMStudioStub

pytestmark = pytest.mark.integration

require_redis()


@pytest.fixture
def key_prefix() -> Iterator[str]:
    yield from fresh_key_prefix("cli")


@pytest.fixture
def redis_env(lmsa_env: dict[str, str], key_prefix: str) -> dict[str, str]:
    return {
        **lmsa_env,
        "LMSA_CHECKPOINTER": "redis",
        "LMSA_REDIS_URL": REDIS_URL,
        "LMSA_REDIS_KEY_PREFIX": key_prefix,
    }


def thread_keys(prefix: str, thread_id: str) -> list[bytes]:
    return list(redis.Redis.from_url(REDIS_URL).scan_iter(match=f"*{prefix}:{thread_id}*"))


def test_paused_turn_resumes_from_redis_in_a_new_process(
    stub: LMStudioStub,
    run_lmsa: RunLmsa,
    run_lmsa_process: RunLmsaProcess,
    redis_env: dict[str, str],
    key_prefix: str,
) -> None:
    stub.set_scenario(CLARIFY_SCENARIO)

    asked = run_lmsa("ask", "--thread", "paused", "summarise the file", env=redis_env)
    assert asked.returncode == 0, output(asked)
    assert asked.stdout.strip() == "Which file should I summarise?"
    assert thread_keys(key_prefix, "paused"), "the paused thread was not stored in Redis"

    # A new process: the paused turn can only come from Redis.
    answered = run_lmsa_process("ask", "--thread", "paused", "the notes.txt one", env=redis_env)

    assert answered.returncode == 0, output(answered)
    assert answered.stdout.strip() == "Summary: it holds the launch code."
    bodies = stub.chat_requests()
    assert [queue_of(b) for b in bodies] == [
        "IntentResult",
        "IntentResult",
        "Plan",
        "text",
    ]
    assert "summarise the file" in body_text(bodies[1])
    assert "the notes.txt one" in body_text(bodies[1])


class ChatProcess:
    """A long-running ``lmsa chat`` fed line by line, its output read as it arrives."""

    def __init__(self, env: dict[str, str], cwd: Path, thread_id: str) -> None:
        self.proc = subprocess.Popen(
            lmsa_command("chat", "--thread", thread_id),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            text=True,
            bufsize=1,
        )
        self.output = ""
        self._chunks: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        while True:
            chunk = self.proc.stdout.read(1)
            if not chunk:
                break
            self._chunks.put(chunk)

    # Generous: a CLI start-up takes ~3 s alone but far longer beside parallel test workers.
    def wait_for(self, text: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{text!r} never appeared; output so far:\n{self.output}")
            try:
                self.output += self._chunks.get(timeout=remaining)
            except queue.Empty:
                continue

    def say(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def close(self) -> int:
        if self.proc.poll() is None:
            self.say("/quit")
        return self.proc.wait(timeout=30)


def test_two_processes_continue_one_thread_alternately(
    stub: LMStudioStub, redis_env: dict[str, str], run_cwd: Path
) -> None:
    stub.set_scenario(
        {
            "IntentResult": [intent()],
            "text": ["Reply one.", "Reply two.", "Reply three."],
        }
    )
    first = ChatProcess(redis_env, run_cwd, "shared")
    second = ChatProcess(redis_env, run_cwd, "shared")
    try:
        first.wait_for("you> ")
        second.wait_for("you> ")
        first.say("turn one from A")
        first.wait_for("Reply one.\nyou> ")  # the turn is saved once the prompt returns
        second.say("turn two from B")
        second.wait_for("Reply two.\nyou> ")  # the turn is saved once the prompt returns
        first.say("turn three from A")
        first.wait_for("Reply three.\nyou> ")  # the turn is saved once the prompt returns
        first.say("/history")
        first.wait_for("you> turn three from A\nassistant> Reply three.\n")
    finally:
        codes = (first.close(), second.close())
    assert codes == (0, 0), first.output + second.output

    answers = [b for b in stub.chat_requests() if queue_of(b) == "text"]
    assert len(answers) == 3
    # B's turn saw A's first turn, and A's next turn saw B's: each process read the thread
    # from Redis rather than from its own memory.
    assert "turn one from A" in body_text(answers[1]) and "Reply one." in body_text(answers[1])
    assert "turn two from B" in body_text(answers[2]) and "Reply two." in body_text(answers[2])
    history = first.output[first.output.index("/history") if "/history" in first.output else 0 :]
    for line in ("you> turn one from A", "you> turn two from B", "assistant> Reply three."):
        assert line in history


def test_redis_down_at_start_names_the_url(
    stub: LMStudioStub, run_lmsa: RunLmsa, redis_env: dict[str, str]
) -> None:
    stub.set_scenario({"IntentResult": [intent()], "text": ["unused"]})
    url = f"redis://127.0.0.1:{closed_port()}/0"
    env = {**redis_env, "LMSA_REDIS_URL": url}

    proc = run_lmsa("ask", "hello", env=env)

    assert proc.returncode == 2, output(proc)
    assert_no_traceback(proc)
    assert url in proc.stderr
    assert [queue_of(b) for b in stub.chat_requests()] == []  # no turn started

    doctor = run_lmsa("doctor", env=env)
    assert doctor.returncode == 2
    assert_no_traceback(doctor)
    store_row = next(line for line in doctor.stdout.splitlines() if "Conversation store" in line)
    assert "FAIL" in store_row and url in store_row


def test_redis_dying_mid_turn_fails_the_turn_and_keeps_earlier_turns(
    stub: LMStudioStub, run_lmsa: RunLmsa, lmsa_env: dict[str, str], run_cwd: Path, tmp_path: Path
) -> None:
    """A private Redis with an fsync-always append-only file, killed once the model has been
    asked for turn two's answer and before it replies: the turn fails with one sentence, and
    after a restart turn one is all there."""
    if shutil.which("redis-server") is None:
        missing("needs the redis-server binary (Debian package redis-server)")
    port = closed_port()
    data = tmp_path / "redis"
    data.mkdir()
    command = [
        "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
        "--appendonly", "yes", "--appendfsync", "always", "--dir", str(data),
    ]  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    env = {**lmsa_env, "LMSA_CHECKPOINTER": "redis", "LMSA_REDIS_URL": url}

    def start_redis() -> subprocess.Popen[bytes]:
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(url)
        for _ in range(100):
            try:
                client.ping()
                return server
            except redis.ConnectionError:
                time.sleep(0.05)
        server.kill()
        raise AssertionError("private redis-server did not start")

    def answer_requests() -> int:
        return sum(queue_of(b) == "text" for b in stub.chat_requests())

    server = start_redis()
    try:
        stub.set_scenario(
            {
                "IntentResult": [intent()],
                # Turn two's answer is held back long enough for the test to kill Redis.
                "text": ["Turn one answer.", {"content": "Turn two answer.", "delay_ms": 2000}],
            }
        )
        first = run_lmsa("ask", "--thread", "fragile", "first question", env=env)
        assert first.returncode == 0, output(first)
        assert answer_requests() == 1

        # A real process, so that the Redis connection it loses is its own.
        second = subprocess.Popen(
            lmsa_command("ask", "--thread", "fragile", "second question"),
            env=env,
            cwd=run_cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        try:
            deadline = time.monotonic() + 60
            while answer_requests() < 2 and second.poll() is None:
                assert time.monotonic() < deadline, "the stub never got turn two's request"
                time.sleep(0.02)
            assert answer_requests() == 2, "lmsa ask ended before asking for turn two's answer"
            server.kill()
            server.wait(timeout=10)
            # Redis died while the model was still writing turn two's answer.
            stats = httpx.get(f"{stub.root_url}/_stub/stats", timeout=10).json()
            assert stats["in_progress"] == 1, stats
            stdout, stderr = second.communicate(timeout=60)
        finally:
            if second.poll() is None:
                second.kill()
                second.wait(timeout=10)

        assert second.returncode == 2, stdout + stderr
        assert "Traceback" not in stdout + stderr, stdout + stderr
        # The mid-turn failure, not the "cannot reach Redis" of a store that is down at start.
        assert "failed during the turn" in stderr and url in stderr, stderr
        assert "what was saved before this turn is kept" in stderr, stderr
        assert len(stderr.strip().splitlines()) == 1, stderr
        assert "Turn two answer." not in stdout

        server = start_redis()
        history = run_lmsa("chat", "--thread", "fragile", input="/history\n/quit\n", env=env)
        assert history.returncode == 0, output(history)
        assert "you> first question" in history.stdout
        assert "assistant> Turn one answer." in history.stdout
    finally:
        server.kill()
        server.wait(timeout=10)
