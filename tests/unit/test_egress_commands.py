"""Shell and Python calls that can reach the network count as egress: once the turn has read
untrusted content, ``run_command`` with ``curl``/``wget``/``nc``/``ssh``/``git push``/``pip
install``... and ``run_python`` importing ``socket``/``urllib``/``requests``/``httpx`` ask a
person even where ``LMSA_AUTO_APPROVE=write`` would run them unasked. Scripted model, real
command and Python tools over a temporary workspace, a stand-in web tool (no sockets: every
network call here is stopped at the approval)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langgraph.types import Command
from pydantic import BaseModel

from lmsa.tools import (
    CommandPolicy,
    ToolRegistry,
    make_file_tools,
    make_run_command_tool,
    make_run_python_tool,
)
from lmsa.tools.factory import make_tool
from lmsa.tools.workspace import Workspace
from tests.unit.helpers import ask, intent, make_graph, plan, step, thread, validation


class _Url(BaseModel):
    url: str


def _tools(tmp_path: Path, fetched: list[str]) -> ToolRegistry:
    async def fetch(args: _Url) -> str:
        fetched.append(args.url)
        return "a page about widgets"

    web = make_tool(
        name="fetch_url",
        description="Download a web page.",
        schema=_Url,
        capability="Read a web page.",
        risk="read",
        arun=fetch,
        egress=True,
    )
    workspace = Workspace(tmp_path)
    return ToolRegistry(
        [
            *make_file_tools(workspace),
            make_run_command_tool(workspace),
            make_run_python_tool(workspace, allow_unisolated=True),
            web,
        ]
    )


def _script(*steps: dict[str, Any]) -> dict[str, list[Any]]:
    return {
        "IntentResult": [intent()],
        "Plan": [plan(*steps)],
        "Validation": [validation(True)],
        "text": ["Done."],
    }


async def _pending(graph: Any, config: dict[str, Any]) -> list[Any]:
    return [i.value for i in (await graph.aget_state(config)).interrupts]


@pytest.mark.parametrize(
    ("command", "network"),
    [
        ("curl https://example.com/page", True),
        ("wget -q https://example.com/file.txt", True),
        ("nc example.com 80", True),
        ("ssh build@example.com uptime", True),
        ("git push origin main", True),
        ("git fetch", True),
        ("pip install requests", True),
        ("python3 -m pip install httpx", True),
        ("timeout 5 curl https://example.com", True),
        ("sh -c 'wget https://example.com'", True),
        ("python3 -c 'import socket; socket.create_connection((\"x\", 80))'", True),
        ("ls -la", False),
        ("git status", False),
        ("echo curl https://example.com", False),
        ("pip list", False),
        ("python3 -c 'print(2 + 2)'", False),
    ],
)
def test_command_policy_says_which_lines_reach_the_network(
    tmp_path: Path, command: str, network: bool
) -> None:
    assert CommandPolicy(Workspace(tmp_path)).classify(command).network is network


@pytest.mark.parametrize(
    "command",
    # Addresses that fail at once (a closed loopback port, no index), should a call run.
    ["curl http://127.0.0.1:9/x", "wget http://127.0.0.1:9/x", "git push origin main",
     "pip install --no-index lmsa-no-such-package"],
)  # fmt: skip
async def test_network_command_after_a_fetch_asks_even_when_writes_run_unasked(
    tmp_path: Path, command: str
) -> None:
    fetched: list[str] = []
    steps = (
        step("f1", "fetch_url", {"url": "https://docs.example/a"}),
        step("c1", "run_command", {"command": command}, depends_on=["f1"]),
    )
    graph, _ = make_graph(
        tmp_path, _script(*steps), tools=_tools(tmp_path, fetched), auto_approve="write"
    )
    config = thread()
    await graph.ainvoke(ask("read the page, then do it"), config)
    (request,) = await _pending(graph, config)
    assert request["step_id"] == "c1" and "untrusted content" in request["reason"]
    assert fetched == []  # nothing ran before the answer
    await graph.ainvoke(Command(resume={"decision": "reject"}), config)
    results = (await graph.aget_state(config)).values["results"]
    assert [r["approval"] for r in results] == ["auto", "rejected"]


async def test_network_command_without_untrusted_input_follows_the_auto_level(
    tmp_path: Path,
) -> None:
    steps = (step("c1", "run_command", {"command": "git fetch"}),)
    graph, _ = make_graph(
        tmp_path, _script(*steps), tools=_tools(tmp_path, []), auto_approve="write"
    )
    config = thread()
    await graph.ainvoke(ask("fetch"), config)
    assert await _pending(graph, config) == []  # ran unasked (and failed: not a repository)
    (result,) = (await graph.aget_state(config)).values["results"]
    assert result["approval"] == "auto" and result["egress"] is True


async def test_a_download_makes_later_network_calls_ask(tmp_path: Path) -> None:
    steps = (
        step("c1", "run_command", {"command": "git fetch"}),
        step("c2", "run_command", {"command": "git push origin main"}, depends_on=["c1"]),
    )
    graph, _ = make_graph(
        tmp_path, _script(*steps), tools=_tools(tmp_path, []), auto_approve="write"
    )
    config = thread()
    await graph.ainvoke(ask("sync"), config)
    assert [p["step_id"] for p in await _pending(graph, config)] == ["c2"]


@pytest.mark.parametrize(
    ("code", "asks"),
    [
        ("import urllib.request\nurllib.request.urlopen('http://127.0.0.1:9/')", True),
        ("import socket\nsocket.create_connection(('127.0.0.1', 9))", True),
        ("import requests\nrequests.get('http://127.0.0.1:9/')", True),
        ("from httpx import get\nget('http://127.0.0.1:9/')", True),
        ("print(sum(range(10)))", False),
    ],
)
async def test_run_python_with_a_network_import_after_a_fetch_asks(
    tmp_path: Path, code: str, asks: bool
) -> None:
    steps = (
        step("f1", "fetch_url", {"url": "https://docs.example/a"}),
        step("p1", "run_python", {"code": code}, depends_on=["f1"]),
    )
    graph, _ = make_graph(
        tmp_path, _script(*steps), tools=_tools(tmp_path, []), auto_approve="write"
    )
    config = thread()
    await graph.ainvoke(ask("read the page, then compute"), config)
    pending = await _pending(graph, config)
    assert [p["step_id"] for p in pending] == (["p1"] if asks else [])
