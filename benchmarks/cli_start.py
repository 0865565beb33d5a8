"""How fast the ``lmsa`` command starts, as a user waits for it.

What is measured (``python benchmarks/cli_start.py [--runs 5] [--json]``), each as a fresh
``python -m lmsa.cli.main`` process, min and median wall seconds over the runs:

* ``ask: first LLM request``: from spawning ``lmsa ask`` until the scripted LM Studio stub
  (``tests/stubs/lmstudio.py``, in this process) receives the first chat completion request.
  The stub holds that request, so nothing after it is timed; the process is then killed.
* ``--help``: until ``lmsa --help`` exits.
* ``no-server error``: until ``lmsa ask`` exits with its one-sentence error, with
  ``LMSA_LOCAL_FALLBACK=off`` and ``LMSA_BASE_URL`` at a closed loopback port.

* ``floor: stack imports``: until a process that only imports what any LangGraph app calling a
  model through ``ChatOpenAI`` with a SQLite checkpointer must import (``langchain_openai``,
  ``langgraph.graph``, ``langgraph.checkpoint.sqlite.aio``) has imported them. No ``lmsa ask``
  can send its first request sooner, so ``first request - floor`` is what lmsa itself adds,
  a figure that travels between machines better than the absolute one.
* ``baseline: plain ReAct agent``: the named baseline, a plain LangGraph app doing the same job
  the plain way: ``create_react_agent`` over ``ChatOpenAI`` with one tool and the SQLite saver,
  invoked with the same text, until the stub receives its first chat request. It has no input
  guard, no server check and no CLI, so ``first request - baseline`` is what those cost.
  ``baseline, collector off`` is the same with ``gc.disable()`` first, as lmsa pauses the
  collector while its stack loads: the part of the difference that is the collector's.

Targets: first request < 1 s, ``--help`` < 0.3 s, no-server error < 1 s. A Python process with
nothing imported takes about 0.02 s; see ``python -X importtime -m lmsa.cli.main --help`` for
where the rest goes. Each run gets its own data dir (sqlite store) and workspace; LangSmith
tracing is off.

Bytecode is cached, as it is for an installed package (pip compiles it) or a checkout Python
may write to: the commands write it to a temporary ``PYTHONPYCACHEPREFIX`` and every case runs
once untimed first. Otherwise an environment with ``PYTHONDONTWRITEBYTECODE`` set would time
the compilation of lmsa's own modules on every run. ``--no-bytecode-cache`` keeps the
inherited setting.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.stubs.lmstudio import LMStudioStub  # noqa: E402

TARGETS = {
    "ask: first LLM request": 1.0,
    "--help": 0.3,
    "no-server error": 1.0,
    "floor: stack imports": None,
    "baseline: plain ReAct agent": None,
    "baseline, collector off": None,
}
FLOOR = (
    "import gc, os; gc.disable(); "
    "import langchain_openai, langgraph.graph, langgraph.checkpoint.sqlite.aio; os._exit(0)"
)
"""The floor process: the imports with the collector off (as lmsa loads them) and no interpreter
teardown, so it is timed to the end of its imports."""
BASELINE = """
import asyncio, os
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.prebuilt import create_react_agent

@tool
def read_file(path: str) -> str:
    \"\"\"Read a text file.\"\"\"
    with open(path, encoding="utf-8") as handle:
        return handle.read()

async def main():
    llm = ChatOpenAI(base_url=os.environ["LMSA_BASE_URL"], api_key="lm-studio", model="test-model")
    os.makedirs(os.environ["LMSA_DATA_DIR"], exist_ok=True)
    path = os.path.join(os.environ["LMSA_DATA_DIR"], "baseline.sqlite")
    async with AsyncSqliteSaver.from_conn_string(path) as saver:
        agent = create_react_agent(llm, [read_file], checkpointer=saver)
        config = {"configurable": {"thread_id": "1"}}
        await agent.ainvoke({"messages": [("user", "hello")]}, config)

asyncio.run(main())
"""
"""The baseline process: a plain LangGraph ReAct agent as its documentation writes one."""


PYCACHE: dict[str, str] = {}
"""``PYTHONPYCACHEPREFIX`` for the commands, when the bytecode cache is on."""


def _env(base_url: str, root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LMSA_", "LANGSMITH_"))}
    if PYCACHE:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update(PYCACHE)
    workspace = root / "workspace"
    workspace.mkdir(exist_ok=True)
    env.update(
        PYTHONPATH=str(ROOT),
        LANGSMITH_TRACING="false",
        LMSA_LOCAL_FALLBACK="off",
        LMSA_BASE_URL=base_url,
        LMSA_CHECKPOINTER="sqlite",
        LMSA_DATA_DIR=str(root / "data"),
        LMSA_WORKSPACE=str(workspace),
    )
    return env


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "lmsa.cli.main", *args]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def first_request(stub: LMStudioStub, command: list[str]) -> float:
    stub.set_scenario({"IntentResult": [{"hold": True}], "text": [{"hold": True}]})
    seen = stub.count()
    with tempfile.TemporaryDirectory() as root:
        started = time.perf_counter()
        proc = subprocess.Popen(
            command,
            env=_env(stub.base_url, Path(root)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while stub.count() == seen:  # polled: a 2 ms step is far below what is measured
                if proc.poll() is not None or time.perf_counter() - started > 60:
                    raise RuntimeError(f"{command[-2:]!r} never sent a chat request")
                time.sleep(0.002)
            return time.perf_counter() - started
        finally:
            proc.kill()
            proc.wait()
            stub.release()  # the held request's handler ends instead of polling on


def exits(args: tuple[str, ...], base_url: str, *, python: bool = False) -> Callable[[], float]:
    command = [sys.executable, *args] if python else _command(*args)

    def run() -> float:
        with tempfile.TemporaryDirectory() as root:
            started = time.perf_counter()
            subprocess.run(
                command,
                env=_env(base_url, Path(root)),
                capture_output=True,
                check=False,
            )
            return time.perf_counter() - started

    return run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-bytecode-cache", action="store_true")
    options = parser.parse_args(argv)
    closed = f"http://127.0.0.1:{_closed_port()}/v1"
    rows: dict[str, list[float]] = {}
    with LMStudioStub(scenario={}) as stub, tempfile.TemporaryDirectory() as pycache:
        cases: dict[str, Callable[[], float]] = {
            "ask: first LLM request": lambda: first_request(stub, _command("ask", "hello")),
            "baseline: plain ReAct agent": lambda: first_request(
                stub, [sys.executable, "-c", BASELINE]
            ),
            "baseline, collector off": lambda: first_request(
                stub, [sys.executable, "-c", "import gc; gc.disable()\n" + BASELINE]
            ),
            "--help": exits(("--help",), closed),
            "no-server error": exits(("ask", "hello"), closed),
            "floor: stack imports": exits(("-c", FLOOR), closed, python=True),
        }
        if not options.no_bytecode_cache:
            PYCACHE["PYTHONPYCACHEPREFIX"] = pycache
            for case in cases.values():  # writes the bytecode; not timed
                case()
        for _ in range(options.runs):  # interleaved, so drift hits every case alike
            for name, case in cases.items():
                rows.setdefault(name, []).append(case())
    summary = {
        name: {"min": min(times), "median": statistics.median(times), "target": TARGETS[name]}
        for name, times in rows.items()
    }
    if options.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"{'command':<28} {'min s':>7} {'median s':>9} {'target s':>9}")
    for name, row in summary.items():
        target = "-" if row["target"] is None else f"{row['target']:.1f}"
        print(f"{name:<28} {row['min']:>7.3f} {row['median']:>9.3f} {target:>9}")
    own = {
        key: summary["ask: first LLM request"][key] - summary["floor: stack imports"][key]
        for key in ("min", "median")
    }
    print(f"{'lmsa over the floor':<28} {own['min']:>7.3f} {own['median']:>9.3f}")
    over = {
        key: summary["ask: first LLM request"][key] - summary["baseline: plain ReAct agent"][key]
        for key in ("min", "median")
    }
    print(f"{'lmsa over the baseline':<28} {over['min']:>7.3f} {over['median']:>9.3f}")


if __name__ == "__main__":
    main()
