"""``lmsa local-server``, ``lmsa ask --local`` and ``lmsa chat`` as a user runs them: real
subprocesses, the real model, loopback HTTP.

Loading the model is paid once per session where it can be: ``chat`` talks to the session's
``lmsa local-server`` through ``LMSA_BASE_URL``. ``ask --local`` (the embedded model started inside
the CLI process) and ``local-server`` itself (its start-up and SIGINT) start their own.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import base_env, lmsa_command

pytestmark = pytest.mark.e2e

CLI_TIMEOUT = 600


@pytest.fixture
def cli_env(workspace: Path, tmp_path: Path) -> dict[str, str]:
    env = base_env(
        LMSA_CHECKPOINTER="sqlite",
        LMSA_DATA_DIR=str(tmp_path / "data"),
        LMSA_WORKSPACE=str(workspace),
        LMSA_TEMPERATURE="0",
        LMSA_CLARIFY_THRESHOLD="0",
        LMSA_MAX_CLARIFY_ROUNDS="0",
        LMSA_MAX_ITERATIONS="1",
        # Nothing may reach LM Studio: a leak would show up as a connection to this port.
        LMSA_BASE_URL="http://127.0.0.1:9/v1",
    )
    if os.environ.get("LMSA_E2E_MODEL"):
        env["LMSA_LOCAL_MODEL"] = os.environ["LMSA_E2E_MODEL"]
    return env


def _run(
    args: list[str], env: dict[str, str], cwd: Path, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        lmsa_command(*args),
        input=stdin,
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=CLI_TIMEOUT,
        check=False,
    )


def test_ask_local_answers_with_the_embedded_model(cli_env: dict[str, str], tmp_path: Path) -> None:
    result = _run(["ask", "--local", "--json", "What files are in this folder?"], cli_env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert re.search(r"local model \S+ ready at http://127\.0\.0\.1:\d+/v1", result.stderr)
    state = json.loads(result.stdout)
    assert state["question"] is None
    assert state["answer"].strip()
    assert state["messages"][0]["content"] == "What files are in this folder?"


def test_chat_streams_a_turn_from_the_local_model_and_exits_cleanly(
    cli_env: dict[str, str], tmp_path: Path, local_server: Any
) -> None:
    env = {**cli_env, "LMSA_BASE_URL": local_server.base_url, "LMSA_MODEL": local_server.model_id}
    result = _run(["chat"], env, tmp_path, stdin="Hello!\n/quit\n")
    assert result.returncode == 0, result.stderr
    assert "assistant> " in result.stdout
    reply = result.stdout.split("assistant> ", 1)[1].split("you> ", 1)[0]
    assert reply.strip(), result.stdout
    assert "bye - resume with: lmsa chat --thread" in result.stdout


def test_local_server_serves_until_interrupted(cli_env: dict[str, str], tmp_path: Path) -> None:
    process = subprocess.Popen(
        [*lmsa_command("local-server", "--port", "0")],
        env=cli_env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("READY "):
                break
        else:
            errors = process.stderr.read() if process.stderr else ""
            pytest.fail(f"no READY line; stdout={lines} stderr={errors}")
        base_url = lines[-1].split()[1]
        models = httpx.get(f"{base_url}/models", timeout=10).json()
        model_id = models["data"][0]["id"]
        native = httpx.get(base_url.removesuffix("/v1") + "/api/v0/models", timeout=10).json()
        assert native["data"][0] == {**native["data"][0], "id": model_id, "state": "loaded"}
        reply = httpx.post(
            f"{base_url}/chat/completions",
            json={
                "model": model_id,
                "messages": [{"role": "user", "content": "Hi"}],
                "max_tokens": 8,
            },
            timeout=120,
        )
        assert reply.status_code == 200
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=30)
        assert process.returncode == 0
        assert "stopped" in out
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_local_server_with_a_missing_model_file_fails_clearly(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    result = _run(
        ["local-server", "--model", str(tmp_path / "nope.gguf"), "--port", "0"], cli_env, tmp_path
    )
    assert result.returncode == 2
    assert "No model file at" in result.stderr
    assert "Traceback" not in result.stderr
