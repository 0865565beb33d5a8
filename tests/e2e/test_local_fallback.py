"""The embedded model as the last fallback of ``lmsa chat`` (``LMSA_LOCAL_FALLBACK=auto``): one
real chat process, the scripted LM Studio stub as the configured server, the real model behind
it. The stub going away mid-conversation hands the next turn to the embedded model, with one
notice; the stub coming back takes the turns again once its breaker lets a probe through."""

from __future__ import annotations

import codecs
import os
import queue
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pytest

from tests.integration.conftest import base_env, lmsa_command
from tests.stubs.lmstudio import LMStudioStub

pytestmark = pytest.mark.e2e

TURN_TIMEOUT = 300.0
BREAKER_COOLDOWN = 1.0

CONVERSATION = {
    "reasoning": "Small talk.",
    "intent": "conversation",
    "confidence": 0.95,
    "entities": [],
    "language": "en",
    "needs_clarification": False,
    "clarifying_question": "",
}


def _scenario(answer: str) -> dict[str, list[object]]:
    return {"IntentResult": [CONVERSATION], "text": [answer]}


class Transcript:
    """What a running process writes to one stream, read on a thread so the test never blocks
    on a pipe."""

    def __init__(self, stream: IO[bytes] | None) -> None:
        assert stream is not None
        self.text = ""
        self._chunks: queue.Queue[str] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: IO[bytes]) -> None:
        # Raw reads, not lines: the chat's prompt ("you> ") ends without a newline.
        decoder = codecs.getincrementaldecoder("utf-8")()
        while chunk := os.read(stream.fileno(), 4096):
            self._chunks.put(decoder.decode(chunk))

    def wait_for(self, done: Callable[[str], bool], what: str) -> str:
        deadline = time.monotonic() + TURN_TIMEOUT
        while not done(self.text):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; so far:\n{self.text}")
            try:
                self.text += self._chunks.get(timeout=0.5)
            except queue.Empty:
                continue
        return self.text


def test_the_embedded_model_answers_while_lm_studio_is_gone_and_hands_back(
    workspace: Path, tmp_path: Path
) -> None:
    stub = LMStudioStub(_scenario("FIRST-FROM-STUB")).start()
    port = stub.port
    env = base_env(
        LMSA_BASE_URL=stub.base_url,
        LMSA_LOCAL_FALLBACK="auto",
        LMSA_CHECKPOINTER="sqlite",
        LMSA_DATA_DIR=str(tmp_path / "data"),
        LMSA_WORKSPACE=str(workspace),
        LMSA_TEMPERATURE="0",
        LMSA_MAX_RETRIES="0",
        LMSA_LLM_BREAKER_THRESHOLD="1",
        LMSA_LLM_BREAKER_COOLDOWN=str(BREAKER_COOLDOWN),
        LMSA_LLM_HEALTH_INTERVAL="0",
        LMSA_LLM_CACHE="false",
    )
    if os.environ.get("LMSA_E2E_MODEL"):
        env["LMSA_LOCAL_MODEL"] = os.environ["LMSA_E2E_MODEL"]
    process = subprocess.Popen(
        lmsa_command("chat"),
        env=env,
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None
    out, err = Transcript(process.stdout), Transcript(process.stderr)
    try:

        def say(text: str) -> None:
            process.stdin.write(f"{text}\n".encode())  # type: ignore[union-attr]
            process.stdin.flush()  # type: ignore[union-attr]

        say("Hello there!")
        out.wait_for(
            lambda text: "FIRST-FROM-STUB" in text and text.count("you> ") == 2,
            "the stub's answer",
        )
        assert "embedded model" not in err.text

        stub.stop()
        say("Are you still there?")
        err.wait_for(lambda text: "embedded model" in text, "the fallback notice")
        out.wait_for(lambda text: text.count("you> ") == 3, "the embedded model's answer")
        assert "FIRST-FROM-STUB" not in out.text.rsplit("you> ", 2)[1]
        assert err.text.count("note:") == 1, err.text
        assert "LMSA_LOCAL_FALLBACK=off" in err.text

        stub = LMStudioStub(_scenario("BACK-FROM-STUB"), port=port).start()
        time.sleep(BREAKER_COOLDOWN * 1.5)  # the breaker's configured cooldown, not a race
        say("Welcome back.")
        out.wait_for(lambda text: "BACK-FROM-STUB" in text, "the restarted stub's answer")
        assert len(stub.chat_requests()) == 2  # the intent and the answer: both from the stub
        assert err.text.count("note:") == 1, err.text

        say("/quit")
        assert process.wait(timeout=60) == 0, err.text
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        stub.stop()
