"""Fixtures for driving the ``lmsa`` CLI against the scripted LM Studio stub.

Each test gets its own stub (real loopback HTTP), its own data dir (sqlite conversation store)
and its own workspace. ``run_lmsa`` runs the CLI in this process (typer's ``CliRunner``) under
exactly the environment a subprocess would get; ``run_lmsa_process`` spawns the real thing, for
the few tests whose claim is about a process (exit status, pipes, a restart, two processes).
Both start from a clean environment with no ``LMSA_*`` leaking in from the developer's shell and
run in a temporary cwd so no ``.env`` file is picked up.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest
from rich.console import Console
from typer.testing import CliRunner

from tests.redis_support import LocalCluster, local_cluster
from tests.stubs.lmstudio import LMStudioStub

LMSA_TIMEOUT = 60.0


class Finished(Protocol):
    """What the assertions read from a finished ``lmsa`` run, in-process or a subprocess."""

    @property
    def returncode(self) -> int: ...
    @property
    def stdout(self) -> str: ...
    @property
    def stderr(self) -> str: ...


@dataclass(frozen=True)
class InProcessRun:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


class RunLmsa(Protocol):
    def __call__(
        self, *args: str, input: str | None = None, env: Mapping[str, str] | None = None
    ) -> Finished: ...


class RunLmsaProcess(Protocol):
    def __call__(
        self,
        *args: str,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = LMSA_TIMEOUT,
    ) -> subprocess.CompletedProcess[str]: ...


def lmsa_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "lmsa.cli.main", *args]


def run_lmsa_subprocess(
    *args: str,
    input: str | None = None,
    env: Mapping[str, str],
    cwd: Path | None = None,
    timeout: float = LMSA_TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """Run ``lmsa ARGS`` as a process to completion; stdin gets ``input`` (or nothing: EOF)."""
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


class _StderrAtEmit(logging.Handler):
    """``logging.lastResort`` as a process without logging configuration has it: WARNING and
    above, bare message, to whatever ``sys.stderr`` is at emit time. In-process, pytest's
    handlers on the root logger keep lastResort from ever firing, so a warning the CLI would
    print on its stderr would go unseen."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


def run_lmsa_in_process(
    *args: str, input: str | None = None, env: Mapping[str, str], cwd: Path
) -> InProcessRun:
    """Run ``lmsa ARGS`` in this process as a fresh process would: ``os.environ`` replaced by
    ``env`` (nothing else), cwd ``cwd``, stdin ``input`` (or EOF), stdout and stderr captured
    separately, the rich consoles rebuilt under that environment (rich reads ``COLUMNS``,
    ``NO_COLOR`` and the terminal when a console is built, which for ``lmsa.cli.main.out/err``
    is import time), and an uncaught exception printed as the traceback Python would print."""
    import lmsa.cli.local as cli_local
    import lmsa.cli.main as cli_main

    with pytest.MonkeyPatch.context() as patch:
        for key in list(os.environ):
            if key not in env:
                patch.delenv(key)
        for key, value in env.items():
            patch.setenv(key, value)
        patch.chdir(cwd)
        # The same consoles lmsa/cli/main.py and lmsa/cli/local.py build at import.
        for module, out_name, err_name in ((cli_main, "out", "err"), (cli_local, "_out", "_err")):
            patch.setattr(module, out_name, Console(highlight=False, soft_wrap=True))
            patch.setattr(module, err_name, Console(stderr=True, highlight=False, soft_wrap=True))
        handler = _StderrAtEmit()
        root = logging.getLogger()
        root.addHandler(handler)
        try:
            result = CliRunner().invoke(cli_main.app, list(args), input=input or "")
        finally:
            root.removeHandler(handler)
    stderr = result.stderr
    code = result.exit_code
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        assert result.exc_info is not None
        stderr += "".join(traceback.format_exception(*result.exc_info))
        code = 1
    return InProcessRun(args=args, returncode=code, stdout=result.stdout, stderr=stderr)


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


@pytest.fixture
def run_lmsa(lmsa_env: dict[str, str], run_cwd: Path) -> RunLmsa:
    """``run_lmsa(*args, input=None, env=None)``: the CLI in this process, against the stub
    unless ``env`` says otherwise."""

    def run(*args: str, input: str | None = None, env: Mapping[str, str] | None = None) -> Finished:
        return run_lmsa_in_process(
            *args, input=input, env=lmsa_env if env is None else env, cwd=run_cwd
        )

    return run


@pytest.fixture
def run_lmsa_process(lmsa_env: dict[str, str], run_cwd: Path) -> RunLmsaProcess:
    """``run_lmsa_process(*args, input=None, env=None)``: the CLI as a real subprocess."""

    def run(
        *args: str,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = LMSA_TIMEOUT,
    ) -> subprocess.CompletedProcess[str]:
        return run_lmsa_subprocess(
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


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """One local three-master Redis Cluster for the whole session (a test that kills a node
    starts its own with :func:`tests.redis_support.local_cluster`)."""
    with local_cluster(tmp_path_factory.mktemp("redis-cluster")) as cluster:
        yield cluster
