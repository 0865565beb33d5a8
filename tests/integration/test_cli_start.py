"""What ``lmsa`` loads before it answers: start-up time is mostly imports (LangGraph, LangChain
and the OpenAI client take over a second of a laptop's CPU), so these tests read Python's own
import log (``-X importtime``) instead of timing anything. ``benchmarks/cli_start.py`` has the
figures."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest

from tests.integration.conftest import LMSA_TIMEOUT
from tests.integration.helpers import intent
from tests.stubs.lmstudio import LMStudioStub

pytestmark = pytest.mark.integration

HEAVY = ("langgraph", "langchain_core", "openai")
# What only other entry points need: the HTTP server, the guardrails engine, the Redis saver.
NOT_FOR_ASK = (
    "fastapi",
    "starlette",
    "uvicorn",
    "guardrails",
    "lmsa.server",
    "lmsa.checkpoint.redis",
)


def imported(log: str) -> set[str]:
    """Top-level packages named in an ``-X importtime`` log."""
    return {name.split(".")[0] for name in modules(log)}


def modules(log: str) -> set[str]:
    """Every module named in an ``-X importtime`` log."""
    return {
        line.rsplit("|", 1)[1].strip()
        for line in log.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def run_traced(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "lmsa.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=LMSA_TIMEOUT,
        check=False,
    )


def test_no_server_error_comes_before_the_graph_stack_is_loaded(
    unreachable_env: Callable[..., dict[str, str]],
) -> None:
    proc = run_traced("ask", "hello", env=unreachable_env())

    assert proc.returncode == 2
    assert "Could not reach an LLM server at http://127.0.0.1:" in proc.stderr
    assert "(connection refused)" in proc.stderr
    assert not set(HEAVY) & imported(proc.stderr)


def test_help_loads_neither_the_settings_nor_the_graph_stack(
    unreachable_env: Callable[..., dict[str, str]],
) -> None:
    proc = run_traced("--help", env=unreachable_env())

    assert proc.returncode == 0
    assert "Usage:" in proc.stdout
    loaded = imported(proc.stderr)
    assert "pydantic_settings" not in loaded
    assert not set(HEAVY) & loaded


def test_ask_loads_nothing_only_the_server_guardrails_or_redis_need(
    stub: LMStudioStub, lmsa_env: dict[str, str]
) -> None:
    stub.set_scenario({"IntentResult": [intent("conversation")], "text": ["Hello there!"]})
    proc = run_traced("ask", "hello", env=lmsa_env)

    assert proc.returncode == 0, proc.stderr
    assert "Hello there!" in proc.stdout
    loaded = modules(proc.stderr)
    unwanted = {
        name for name in loaded for prefix in NOT_FOR_ASK if f"{name}.".startswith(f"{prefix}.")
    }
    assert not unwanted
