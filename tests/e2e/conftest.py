"""End-to-end tests: a real GGUF model served by lmsa's own llama.cpp server on loopback.

Skipped, with the reason, when the ``[local]`` extra is not installed; with ``CI`` set that fails
instead (see :mod:`tests.deps`). The model is the default
packaged model (Qwen2.5-Coder-0.5B-Instruct) unless ``LMSA_E2E_MODEL`` names another packaged
model or a GGUF file. Decoding is greedy (temperature 0) so a run is repeatable on one machine;
the tests still assert only structure and tool effects, never wording, because a 0.5B model's
words are not worth asserting on.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from lmsa.config import Settings
from tests.deps import missing

E2E_TIMEOUT = 900  # seconds per test; a full turn is a few model calls on 2 CPU cores
# Every e2e test runs on one pytest-xdist worker: two llama.cpp processes decoding at once
# would share the 2 cores, and the session's model server is loaded once.
XDIST_GROUP = "llama-cpp"


@functools.cache
def _missing_reason() -> str | None:
    from lmsa.local.model import DEFAULT_MODEL, INSTALL_COMMAND_CHECKOUT, MODELS, missing_extra

    missing = missing_extra()
    if missing:
        return (
            f"e2e tests need the [local] extra ({', '.join(missing)} missing): "
            f"{INSTALL_COMMAND_CHECKOUT}"
        )
    if not os.environ.get("LMSA_E2E_MODEL") and not MODELS[DEFAULT_MODEL].installed():
        return f"e2e tests need the {DEFAULT_MODEL} packages (the [local] extra) or LMSA_E2E_MODEL"
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    e2e_items = [item for item in items if here in Path(str(item.fspath)).parents]
    if not e2e_items:
        return
    for item in e2e_items:
        item.add_marker(pytest.mark.e2e)
        item.add_marker(pytest.mark.timeout(E2E_TIMEOUT))
        item.add_marker(pytest.mark.xdist_group(XDIST_GROUP))


@pytest.fixture(scope="session", autouse=True)
def _local_extra() -> None:
    """Session-scoped so it runs before the session's model server is started."""
    reason = _missing_reason()
    if reason:
        missing(reason)


@dataclass
class ServedModel:
    """A running ``lmsa local-server`` subprocess, as clients see it."""

    process: subprocess.Popen[str]
    base_url: str
    model_id: str
    context_length: int
    cpu_mode: str

    @property
    def root_url(self) -> str:
        return self.base_url.removesuffix("/v1")


@pytest.fixture(scope="session")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedModel]:
    """One ``lmsa local-server`` subprocess for the whole session (loading costs a second or
    two; tests share it). A separate process, so a crash inside llama.cpp fails the tests that
    talk to it instead of killing the pytest run."""
    from tests.integration.conftest import base_env, lmsa_command

    env = base_env(LMSA_LOCAL_MAX_TOKENS="1024")
    if os.environ.get("LMSA_E2E_MODEL"):
        env["LMSA_LOCAL_MODEL"] = os.environ["LMSA_E2E_MODEL"]
    log = tmp_path_factory.mktemp("local-server") / "stderr.log"
    with log.open("w", encoding="utf-8") as stderr:
        process = subprocess.Popen(
            lmsa_command("local-server", "--port", "0"),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            encoding="utf-8",
        )
    try:
        assert process.stdout is not None
        base_url = None
        for line in process.stdout:
            if line.startswith("READY "):
                base_url = line.split()[1]
                break
        if base_url is None:
            process.wait(timeout=30)
            pytest.fail(
                f"lmsa local-server exited {process.returncode} before it was ready: "
                f"{log.read_text(encoding='utf-8')[-2000:]}"
            )
        # Keep reading stdout so the server never blocks on a full pipe.
        threading.Thread(target=process.stdout.read, daemon=True).start()
        listed = httpx.get(base_url.removesuffix("/v1") + "/api/v0/models", timeout=30).json()
        model = listed["data"][0]
        yield ServedModel(
            process, base_url, model["id"], model["max_context_length"], model["cpu_mode"]
        )
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(autouse=True)
def _server_alive(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that used the model server fails with the server's exit status if it died."""
    yield
    if "local_server" in request.fixturenames:
        server: ServedModel = request.getfixturevalue("local_server")
        code = server.process.poll()
        if code is not None:
            pytest.fail(f"lmsa local-server died during the test (exit status {code})")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "workspace"
    root.mkdir()
    (root / "notes.txt").write_text("The launch code is PINEAPPLE-42.\n", encoding="utf-8")
    return root


@pytest.fixture
def settings(local_server: Any, workspace: Path, tmp_path: Path) -> Settings:
    return Settings(
        base_url=local_server.base_url,
        model=local_server.model_id,
        temperature=0.0,
        workspace=workspace,
        data_dir=tmp_path / "data",
        checkpointer="memory",
        llm_cache=False,  # every call reaches the model (the benchmark measures the cache)
    )
