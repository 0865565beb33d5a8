"""What several integration test modules share: scenario pieces for the scripted LM Studio stub,
assertions on a finished ``lmsa`` process, the ``lmsa serve`` subprocess, and small probes."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
from langchain_core.messages import AIMessage, HumanMessage

from lmsa.llm import LLMProvider
from tests.integration.conftest import Finished, base_env, closed_port, lmsa_command
from tests.stubs.lmstudio import LMStudioStub

# ---- scenario pieces ------------------------------------------------------------------------


def intent(
    kind: str = "conversation",
    confidence: float = 0.95,
    *,
    question: str = "",
    entities: tuple[str, ...] = (),
) -> dict[str, Any]:
    return {
        "reasoning": "The user wants something.",
        "intent": kind,
        "confidence": confidence,
        "entities": list(entities),
        "language": "en",
        "needs_clarification": bool(question),
        "clarifying_question": question,
    }


def step(step_id: str, tool: str, **args: Any) -> dict[str, Any]:
    return {"id": step_id, "tool": tool, "args": args, "purpose": "", "depends_on": []}


def plan(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"reasoning": "Use the tools.", "answer_directly": not steps, "steps": list(steps)}


COMPLETE = {"complete": True, "missing": "", "retry_with": ""}


def chat_bodies(stub: LMStudioStub) -> list[dict[str, Any]]:
    return list(stub.chat_requests())


def queue_of(body: dict[str, Any]) -> str:
    """Which reply queue the stub routed a request to: a schema name or "text"."""
    response_format = body.get("response_format") or {}
    return (response_format.get("json_schema") or {}).get("name") or "text"


def body_text(body: dict[str, Any]) -> str:
    return json.dumps(body.get("messages", []), ensure_ascii=False)


def output(proc: Finished) -> str:
    return proc.stdout + proc.stderr


def assert_no_traceback(proc: Finished) -> None:
    assert "Traceback" not in output(proc), output(proc)


def assert_ok(proc: Finished) -> None:
    assert proc.returncode == 0, f"exit {proc.returncode}\n{output(proc)}"
    assert_no_traceback(proc)


HISTORY_HEADING = re.compile(r"history of thread \S+ \((\d+) messages?\):$")
SPEAKER_TYPES = {"you": "human", "assistant": "ai"}


def history_lines(stdout: str) -> list[str]:
    """The messages every ``/history`` of a chat transcript printed, each as ``<message
    type>> <content>`` (``human> ...`` / ``ai> ...``, the graph's names for the speakers the
    chat shows as ``you>`` / ``assistant>``). A heading names how many lines follow it."""
    lines: list[str] = []
    rows = stdout.splitlines()
    for index, row in enumerate(rows):
        heading = HISTORY_HEADING.search(row)
        if heading is None:
            continue
        for line in rows[index + 1 : index + 1 + int(heading.group(1))]:
            speaker, _, content = line.partition("> ")
            lines.append(f"{SPEAKER_TYPES.get(speaker, speaker)}> {content}")
    return lines


def chat_script(*lines: str) -> str:
    return "".join(f"{line}\n" for line in lines)


CLARIFY_SCENARIO = {
    "IntentResult": [
        intent("file_operation", 0.3, question="Which file should I summarise?"),
        intent("file_operation", entities=("notes.txt",)),
    ],
    "Plan": [plan(step("s1", "read_file", path="notes.txt"))],
    "Validation": [COMPLETE],
    "text": ["Summary: it holds the launch code."],
}


# ---- lmsa serve -----------------------------------------------------------------------------

START_TIMEOUT = 60.0


class ServerProcess:
    """``lmsa serve`` on a free loopback port; stderr (the JSON log) goes to a file."""

    def __init__(self, env: Mapping[str, str], log_path: Path, cwd: Path) -> None:
        self.port = closed_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = log_path.open("w", encoding="utf-8")
        self.proc = subprocess.Popen(
            lmsa_command("serve", "--host", "127.0.0.1", "--port", str(self.port)),
            env=dict(env),
            cwd=cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._wait_healthy()

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"lmsa serve exited {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"lmsa serve did not become healthy:\n{self.log()}")

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_records(self) -> list[dict[str, Any]]:
        records = []
        for line in self.log().splitlines():
            line = line.strip()
            if line.startswith("{"):
                records.append(json.loads(line))
        return records

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._log.close()


def server_env(stub: LMStudioStub | None, tmp_path: Path, **overrides: str) -> dict[str, str]:
    workspace = tmp_path / "workspace"
    workspace.mkdir(exist_ok=True)
    (workspace / "notes.txt").write_text("The launch code is PINEAPPLE-42.\n", encoding="utf-8")
    base_url = stub.base_url if stub else f"http://127.0.0.1:{closed_port()}/v1"
    env = base_env(
        LMSA_BASE_URL=base_url,
        LMSA_CHECKPOINTER="sqlite",
        LMSA_DATA_DIR=str(tmp_path / "data"),
        LMSA_WORKSPACE=str(workspace),
        LMSA_READY_CACHE_SECONDS="0",
        LMSA_RATE_LIMIT="",
        LMSA_LLM_CACHE="false",
    )
    env.update(overrides)
    return env


def start_server(env: Mapping[str, str], tmp_path: Path, name: str = "server") -> ServerProcess:
    cwd = tmp_path / f"{name}-cwd"
    cwd.mkdir(exist_ok=True)
    return ServerProcess(env, tmp_path / f"{name}.log", cwd)


def metric_value(text: str, name: str, **labels: str) -> float:
    """The sample ``name{labels}`` in a Prometheus exposition (0 when absent)."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        metric, _, value = line.rpartition(" ")
        if metric.split("{")[0] != name:
            continue
        if all(f'{key}="{val}"' in metric for key, val in labels.items()):
            total += float(value)
    return total


def sse_events(response: httpx.Response) -> list[tuple[str, str]]:
    """(event name, data) pairs of a Server-Sent Events body ("message" when unnamed)."""
    events = []
    for block in response.text.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[len("event:") :].strip()
            elif line.startswith("data:"):
                data.append(line[len("data:") :].strip())
        if data:
            events.append((name, "\n".join(data)))
    return events


CHAT = {"IntentResult": [intent("conversation")], "echo": True}


# ---- LLM layer ------------------------------------------------------------------------------


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


async def ask(provider: LLMProvider, text: str = "hello", **bind: Any) -> AIMessage:
    model = await provider.model(**bind)
    reply = await model.ainvoke([HumanMessage(content=text)])
    assert isinstance(reply, AIMessage)
    return reply
