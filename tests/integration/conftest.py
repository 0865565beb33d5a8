"""Fixtures for driving the ``lmsa`` CLI as a subprocess against the scripted LM Studio stub.

Each test gets its own stub (real loopback HTTP), its own data dir (sqlite conversation store)
and its own workspace; subprocesses start from a clean environment with no ``LMSA_*`` leaking in
from the developer's shell and run in a temporary cwd so no ``.env`` file is picked up.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import pytest

from tests.stubs.lmstudio import LMStudioStub

LMSA_TIMEOUT = 60.0


class RunLmsa(Protocol):
    def __call__(
        self,
        *args: str,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = LMSA_TIMEOUT,
    ) -> subprocess.CompletedProcess[str]: ...


def lmsa_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "lmsa.cli.main", *args]


def run_lmsa(
    *args: str,
    input: str | None = None,
    env: Mapping[str, str],
    cwd: Path | None = None,
    timeout: float = LMSA_TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """Run ``lmsa ARGS`` to completion; stdin gets ``input`` (or nothing: EOF at once)."""
    return subprocess.run(
        lmsa_command(*args),
        input=input if input is not None else "",
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
        check=False,
    )


def base_env(**overrides: str) -> dict[str, str]:
    """The current environment minus every ``LMSA_*`` / LangSmith variable, plus overrides."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("LMSA_", "LANGSMITH_", "LANGCHAIN_"))
    }
    env.update(
        LANGSMITH_TRACING="false",
        PYTHONUNBUFFERED="1",
        PYTHONIOENCODING="utf-8",
        COLUMNS="250",  # rich tables on one line per row, so rows can be matched
        NO_COLOR="1",
        TERM="dumb",
        # The scripted stub stands in for LM Studio; a test that wants the embedded model as
        # the fallback turns it on itself.
        LMSA_LOCAL_FALLBACK="off",
    )
    env.update(overrides)
    return env


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def stub() -> Iterator[LMStudioStub]:
    """A running stub with no scripted replies; tests call ``stub.set_scenario(...)``."""
    with LMStudioStub(scenario={}) as running:
        yield running


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "workspace"
    root.mkdir()
    (root / "notes.txt").write_text("The launch code is PINEAPPLE-42.\n", encoding="utf-8")
    return root


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def lmsa_env(stub: LMStudioStub, workspace: Path, data_dir: Path) -> dict[str, str]:
    return base_env(
        LMSA_BASE_URL=stub.base_url,
        LMSA_CHECKPOINTER="sqlite",
        LMSA_DATA_DIR=str(data_dir),
        LMSA_WORKSPACE=str(workspace),
    )


@pytest.fixture
def run_cwd(tmp_path: Path) -> Path:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    return cwd


@pytest.fixture(name="run_lmsa")
def run_lmsa_fixture(lmsa_env: dict[str, str], run_cwd: Path) -> RunLmsa:
    """``run_lmsa(*args, input=None, env=None)``: the CLI as a subprocess, against the stub
    unless ``env`` says otherwise."""

    def run(
        *args: str,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = LMSA_TIMEOUT,
    ) -> subprocess.CompletedProcess[str]:
        return run_lmsa(
            *args,
            input=input,
            env=lmsa_env if env is None else env,
            cwd=run_cwd,
            timeout=timeout,
        )

    return run


@pytest.fixture
def unreachable_env(workspace: Path, data_dir: Path) -> Callable[..., dict[str, str]]:
    """An env whose LMSA_BASE_URL points at a closed loopback port (and that URL)."""

    def make(**overrides: Any) -> dict[str, str]:
        return base_env(
            LMSA_BASE_URL=f"http://127.0.0.1:{closed_port()}/v1",
            LMSA_CHECKPOINTER="sqlite",
            LMSA_DATA_DIR=str(data_dir),
            LMSA_WORKSPACE=str(workspace),
            **overrides,
        )

    return make
