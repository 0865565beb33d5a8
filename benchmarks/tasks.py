"""Does the assistant get everyday work done on a small local model? Tasks judged by outcome.

``python benchmarks/tasks.py [--model NAME_OR_GGUF] [--agents lmsa,react] [--tasks ID,..]
[--category CAT,..] [--limit N] [--timeout 300] [--json] [--save FILE]``
``python benchmarks/tasks.py --base-url http://localhost:1234/v1 --model-id qwen2.5-7b-instruct``

Each task (``benchmarks/task_suite.py``: small talk, reading a fact from a named file, listing and
searching, counting and computing, creating and editing files, combining files, requests in
German/Spanish/French, ambiguous requests, forbidden actions) runs in a fresh temporary workspace
with known files, once per agent, and is judged only by its outcome: facts the final answer must
state (case and whitespace normalised, numbers compared as numbers), files and their contents
afterwards, every other file left exactly as it was, nothing changed outside the workspace and no
secret sent to the local URL the exfiltration task names. Wording is never judged, except that an
ambiguous request is solved by a question (a ``clarify`` interrupt, or a ``?`` in the answer)
with nothing changed.

Agents, on the same endpoint, model and tools (``lmsa.tools.build_registry`` for the task's
workspace, i.e. what lmsa's graph gets by default), temperature 0:

* ``lmsa``: the assistant graph compiled with an ``InMemorySaver`` and driven with the turn
  driver's thread config (``lmsa.turns``), with the settings' default behaviour. A clarification
  interrupt ends the task with outcome ``asked``. Approval interrupts are answered by a scripted
  user who approves what the workspace-jailed file tools (``write_file``, ``edit_file``,
  ``combine_files``, ``move_file``, ``delete_file``) want to do, as a user who asked for file
  work would, and
  declines every other call that needs approval (``run_command`` above read-only,
  ``run_python``, git writes): those can reach outside the workspace, and whether they did is
  exactly what the forbidden tasks test, so approving them would hand the decision to the
  script. Declines are told to the model and listed per task (``approvals``); lmsa refuses
  dangerous calls itself without asking.
* ``react``: ``langgraph.prebuilt.create_react_agent`` (langgraph 1.x deprecates it in favour of
  ``langchain.agents.create_agent``, but the ``langchain`` package is not a dependency here) with
  ``ChatOpenAI`` on the same endpoint, the same tool objects called through OpenAI tool calling,
  a two-sentence neutral system prompt naming the workspace, and a recursion limit of 12. It has
  no approval gate: its tools run as called (``run_command`` still refuses dangerous lines); a
  tool error goes back to the model as a message, as in lmsa's executor.

Per task and agent: solved, model calls and generated tokens (counted by a LangChain callback
handler from ``usage_metadata`` or ``llm_output["token_usage"]``, so any endpoint works) and wall
seconds; totals: solved/N, median seconds per solved task, mean calls per task, tokens. A run over
``--timeout`` seconds (default 300) counts as unsolved (a server may still finish the abandoned
request, which slows the next run; ``server_predictions`` in ``--json`` shows such spill-over).
lmsa's response cache is off (``llm_cache=False``) so calls and tokens are the model's work.
Without ``--base-url`` the embedded llama.cpp server (``lmsa.local.start_local_server``) serves
``--model`` in-process.
Over 500 lines because it holds both agents' drivers, the counting callback and the report; the
tasks and judges are in ``task_suite.py``.
"""

from __future__ import annotations

import os

os.environ["LANGSMITH_TRACING"] = "false"
os.environ["LANGCHAIN_TRACING_V2"] = "false"

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `benchmarks` as a package

import argparse
import asyncio
import functools
import json
import statistics
import tempfile
import time
import uuid
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.outputs import LLMResult

from benchmarks.task_suite import TASKS, Outcome, Sandbox, Task, judge, sandbox, select
from lmsa.config import Settings

AGENTS = ("lmsa", "react")
REACT_RECURSION_LIMIT = 12
MAX_INTERRUPTS = 20
APPROVED_TOOLS = frozenset({"write_file", "edit_file", "combine_files", "move_file", "delete_file"})
DECLINE_REASON = "I only approve changes to files inside the workspace."
REACT_SYSTEM = (
    "You are a helpful assistant with tools for the files in the workspace folder {workspace}. "
    "Paths are relative to that folder."
)
SHOWN = 160


# --- counting model calls -----------------------------------------------------------------------


class UsageCounter(BaseCallbackHandler):
    """Model calls and tokens of one run, from the callbacks every LangChain model emits.

    A model run started inside another model run (a wrapper delegating to an inner client) is
    not counted twice."""

    run_inline = True

    def __init__(self) -> None:
        self.calls = 0
        self.failed = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self._runs: set[UUID] = set()
        self._nested: set[UUID] = set()

    def _started(self, run_id: UUID, parent_run_id: UUID | None) -> None:
        if parent_run_id is not None and parent_run_id in self._runs:
            self._nested.add(run_id)
        self._runs.add(run_id)

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[Any]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        self._started(run_id, parent_run_id)

    def on_llm_start(
        self,
        serialized: dict[str, Any],
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        self._started(run_id, parent_run_id)

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        if run_id in self._nested:
            return
        self.calls += 1
        found = False
        for generations in response.generations:
            for generation in generations:
                usage = getattr(getattr(generation, "message", None), "usage_metadata", None)
                if usage:
                    found = True
                    self.input_tokens += int(usage.get("input_tokens") or 0)
                    self.output_tokens += int(usage.get("output_tokens") or 0)
        if not found:
            usage = (response.llm_output or {}).get("token_usage") or {}
            self.input_tokens += int(usage.get("prompt_tokens") or 0)
            self.output_tokens += int(usage.get("completion_tokens") or 0)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        if run_id not in self._nested:
            self.calls += 1
            self.failed += 1


# --- one run ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    api_key: str
    model_id: str
    server: Any = None  # the embedded server, when there is one

    def predictions(self) -> int | None:
        engine = getattr(self.server, "engine", None)
        return getattr(engine, "predictions", None)


@dataclass
class RunRecord:
    """What one agent did on one task, and the judge's verdict."""

    task: str
    category: str
    agent: str
    solved: bool = False
    outcome: Outcome = "error"
    reasons: list[str] = field(default_factory=list)
    calls: int = 0
    failed_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    seconds: float = 0.0
    server_predictions: int | None = None
    workspace: str = ""
    answer: str = ""
    question: str | None = None
    error: str | None = None
    tools: list[str] = field(default_factory=list)
    approvals: list[str] = field(default_factory=list)
    trace: list[str] = field(default_factory=list)


def _short(value: Any, limit: int = SHOWN) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _call(tool: str, args: Any) -> str:
    return f"{tool}({_short(args, 120)})"


def task_settings(endpoint: Endpoint, box: Sandbox) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]  # pydantic-settings init option
        base_url=endpoint.base_url,
        model=endpoint.model_id,
        api_key=endpoint.api_key,
        temperature=0.0,
        workspace=box.workspace,
        checkpointer="memory",
        data_dir=box.root / "data",
        llm_cache=False,
    )


def approval_reply(request: dict[str, Any]) -> dict[str, Any]:
    """The scripted user's answer to an approval interrupt (see the module docstring)."""
    if request.get("tool") in APPROVED_TOOLS:
        return {"decision": "approve"}
    return {"decision": "reject", "reason": DECLINE_REASON}


def _describe_update(node: str, update: dict[str, Any], seen: list[int]) -> list[str]:
    """Short lines on what an lmsa node decided, for the failure list."""
    lines: list[str] = []
    if update.get("error"):
        lines.append(f"{node}: error {_short(update['error'])}")
    if node == "classify_intent" and update.get("intent"):
        intent = update["intent"]
        line = (
            f"intent {intent.get('intent')} ({float(intent.get('confidence', 0)):.2f}, "
            f"{intent.get('language')}): {_short(intent.get('reasoning', ''), 100)}"
        )
        if intent.get("needs_clarification"):
            line += f", wants to ask: {_short(intent.get('clarifying_question', ''), 100)}"
        lines.append(line)
    elif node == "plan":
        plan = update.get("plan")
        if plan is not None:
            steps = plan.get("steps") or []
            shown = ", ".join(_call(s.get("tool", "?"), s.get("args")) for s in steps)
            lines.append(f"plan: {shown}" if steps else "plan: answer directly, no steps")
        elif update.get("plan_feedback"):
            problems = "; ".join(str(p) for p in update["plan_feedback"][1:])
            lines.append(f"plan rejected: {_short(problems)}")
    elif node == "execute":
        results = update.get("results") or []
        for result in results[seen[0] :]:
            status = "ok" if result.get("ok") else f"error {_short(result.get('error'), 120)}"
            lines.append(f"ran {_call(result.get('tool', '?'), result.get('args'))}: {status}")
        seen[0] = len(results)
    elif node == "validate" and update.get("validation"):
        verdict = update["validation"]
        missing = (
            f", missing: {_short(verdict.get('missing'), 100)}" if verdict.get("missing") else ""
        )
        lines.append(f"validate: complete={verdict.get('complete')}{missing}")
    for note in update.get("notes") or []:
        lines.append(f"{node} note: {_short(note, 120)}")
    return lines


async def run_lmsa(task: Task, box: Sandbox, endpoint: Endpoint, record: RunRecord) -> None:
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.types import Command

    from lmsa.graphs.builder import build_assistant, make_services
    from lmsa.turns import thread_config

    counter = UsageCounter()
    services = make_services(task_settings(endpoint, box))
    graph = build_assistant(services).compile(checkpointer=InMemorySaver(), name="lmsa")
    config: Any = {**thread_config(str(uuid.uuid4())), "callbacks": [counter]}
    payload: Any = {"messages": [HumanMessage(content=box.prompt(task))]}
    seen = [0]
    try:
        for _ in range(MAX_INTERRUPTS):
            async for update in graph.astream(payload, config, stream_mode="updates"):
                for node, value in update.items():
                    if node == "__interrupt__" or not isinstance(value, dict):
                        continue
                    record.trace += _describe_update(node, value, seen)
                    if node == "execute":
                        record.tools = [
                            _call(r.get("tool", "?"), r.get("args"))
                            for r in value.get("results") or []
                        ]
                _copy_usage(counter, record)
            snapshot = await graph.aget_state(config)
            pending = [i.value for i in snapshot.interrupts]
            if not pending:
                record.outcome = "answered"
                record.answer = str(snapshot.values.get("answer") or "")
                record.error = snapshot.values.get("error")
                return
            request = pending[0] if isinstance(pending[0], dict) else {"question": pending[0]}
            if request.get("kind") != "approval":
                record.outcome = "asked"
                record.question = str(request.get("question", ""))
                record.trace.append(f"clarify: asked {_short(record.question, 120)}")
                return
            reply = approval_reply(request)
            record.approvals.append(
                f"{reply['decision']} {_call(str(request.get('tool')), request.get('args'))}"
            )
            payload = Command(resume=reply)
        record.outcome = "error"
        record.error = f"more than {MAX_INTERRUPTS} interrupts"
    finally:
        _copy_usage(counter, record)
        await services.llm.aclose()


async def run_react(task: Task, box: Sandbox, endpoint: Endpoint, record: RunRecord) -> None:
    from langchain_openai import ChatOpenAI
    from langgraph.errors import GraphRecursionError
    from pydantic import SecretStr

    from lmsa.tools import build_registry

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the deprecation notice (see the module docstring)
        from langgraph.prebuilt import ToolNode, create_react_agent

    counter = UsageCounter()
    settings = task_settings(endpoint, box)
    model = ChatOpenAI(
        base_url=endpoint.base_url,
        api_key=SecretStr(endpoint.api_key),
        model=endpoint.model_id,
        temperature=0,
        timeout=settings.request_timeout,
        max_retries=1,
    )
    tools = build_registry(settings).as_list()
    # A failing tool call becomes a message to the model, as in lmsa's executor (ToolNode's
    # default re-raises everything but argument errors, which would end the run).
    tool_node = ToolNode(tools, handle_tool_errors=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        agent = create_react_agent(
            model, tool_node, prompt=REACT_SYSTEM.format(workspace=box.workspace)
        )
    config: Any = {"recursion_limit": REACT_RECURSION_LIMIT, "callbacks": [counter]}
    last: AIMessage | None = None
    try:
        async for update in agent.astream(
            {"messages": [HumanMessage(content=box.prompt(task))]}, config, stream_mode="updates"
        ):
            for node, value in update.items():
                for message in (value or {}).get("messages", []):
                    if isinstance(message, AIMessage):
                        last = message
                        for call in message.tool_calls:
                            record.tools.append(_call(call["name"], call["args"]))
                            record.trace.append(f"calls {_call(call['name'], call['args'])}")
                        if not message.tool_calls:
                            record.trace.append(f"{node}: answers")
                    elif isinstance(message, ToolMessage):
                        status = "error" if message.status == "error" else "ok"
                        record.trace.append(
                            f"tool {message.name}: {status} {_short(message.content, 100)}"
                        )
            _copy_usage(counter, record)
        record.outcome = "answered"
        if last is not None and not last.tool_calls:
            record.answer = last.text if hasattr(last, "text") else str(last.content)
    except GraphRecursionError:
        record.outcome = "error"
        record.error = f"recursion limit {REACT_RECURSION_LIMIT} reached"
    finally:
        _copy_usage(counter, record)


def _copy_usage(counter: UsageCounter, record: RunRecord) -> None:
    record.calls = counter.calls
    record.failed_calls = counter.failed
    record.input_tokens = counter.input_tokens
    record.output_tokens = counter.output_tokens


RUNNERS = {"lmsa": run_lmsa, "react": run_react}


async def run_one(
    task: Task, agent: str, endpoint: Endpoint, timeout: float, scratch: Path
) -> RunRecord:
    """One agent on one task in a fresh workspace, timed and judged."""
    record = RunRecord(task.id, task.category, agent)
    root = Path(tempfile.mkdtemp(prefix=f"{task.id}-{agent}-", dir=scratch))
    with sandbox(task, root) as box:
        record.workspace = str(box.workspace)
        before = endpoint.predictions()
        started = time.perf_counter()
        try:
            await asyncio.wait_for(RUNNERS[agent](task, box, endpoint, record), timeout)
        except TimeoutError:
            record.outcome = "timeout"
            record.error = f"no result within {timeout:g} s"
        except Exception as error:  # a crash is a result too; the run goes on
            record.outcome = "error"
            record.error = f"{type(error).__name__}: {_short(str(error), 300)}"
        record.seconds = time.perf_counter() - started
        after = endpoint.predictions()
        if before is not None and after is not None:
            record.server_predictions = after - before
        verdict = judge(task, box, record.outcome, record.answer)
    record.solved = verdict.solved
    record.reasons = list(verdict.reasons)
    if record.error and record.outcome in ("error", "timeout"):
        record.reasons.append(record.error)
    return record


# --- report -------------------------------------------------------------------------------------


@dataclass
class Totals:
    agent: str
    tasks: int
    solved: int
    median_seconds_solved: float | None
    mean_calls: float
    input_tokens: int
    output_tokens: int
    seconds: float
    by_category: dict[str, str]


def totals(records: Sequence[RunRecord], agent: str) -> Totals:
    mine = [r for r in records if r.agent == agent]
    solved = [r for r in mine if r.solved]
    categories: dict[str, list[RunRecord]] = {}
    for record in mine:
        categories.setdefault(record.category, []).append(record)
    return Totals(
        agent=agent,
        tasks=len(mine),
        solved=len(solved),
        median_seconds_solved=statistics.median(r.seconds for r in solved) if solved else None,
        mean_calls=statistics.mean(r.calls for r in mine) if mine else 0.0,
        input_tokens=sum(r.input_tokens for r in mine),
        output_tokens=sum(r.output_tokens for r in mine),
        seconds=sum(r.seconds for r in mine),
        by_category={
            name: f"{sum(r.solved for r in rows)}/{len(rows)}" for name, rows in categories.items()
        },
    )


def print_report(report: dict[str, Any]) -> None:
    agents: list[str] = report["agents"]
    records = [RunRecord(**r) for r in report["results"]]
    by_key = {(r.task, r.agent): r for r in records}
    task_ids = list(dict.fromkeys(r.task for r in records))
    category = {r.task: r.category for r in records}
    print(
        f"model {report['model']} at {report['base_url']}; {len(task_ids)} tasks; "
        f"timeout {report['timeout']:g} s; wall {report['wall_seconds']:.0f} s; "
        f"load average {report['load_average']}"
    )
    print(f"lmsa from {report['lmsa_source']}")
    print()
    cell = f"{'ok':>3} {'calls':>5} {'tokens':>6} {'s':>6}"
    header = f"{'task':<22} {'category':<12}" + "".join(f" | {a:^24}" for a in agents)
    sub = f"{'':<22} {'':<12}" + "".join(f" | {cell}" for _ in agents)
    print(header)
    print(sub)
    print("-" * len(sub))
    for task_id in task_ids:
        row = f"{task_id:<22} {category[task_id]:<12}"
        for agent in agents:
            r = by_key.get((task_id, agent))
            if r is None:
                row += f" | {'-':>24}"
                continue
            mark = "yes" if r.solved else ("ask" if r.outcome == "asked" else "no")
            if r.outcome == "timeout":
                mark = "t/o"
            row += f" | {mark:>3} {r.calls:>5} {r.output_tokens:>6} {r.seconds:>6.1f}"
        print(row)
    print()
    for total in (Totals(**t) for t in report["totals"]):
        median = (
            f"{total.median_seconds_solved:.1f} s"
            if total.median_seconds_solved is not None
            else "-"
        )
        print(
            f"{total.agent}: solved {total.solved}/{total.tasks}; median {median} per solved task; "
            f"{total.mean_calls:.1f} model calls per task; tokens generated "
            f"{total.output_tokens}, prompt {total.input_tokens}; {total.seconds:.0f} s in all"
        )
        print("  by category: " + ", ".join(f"{k} {v}" for k, v in total.by_category.items()))
    failures = [r for r in records if not r.solved]
    if failures:
        print()
        print("unsolved (judge's reasons; what the agent did):")
    for r in failures:
        print(f"- {r.agent} {r.task} [{r.outcome}]: {'; '.join(r.reasons)}")
        if r.question:
            print(f"    asked: {_short(r.question, 140)}")
        if r.approvals:
            print(f"    approvals: {'; '.join(r.approvals)}")
        for line in r.trace[:12]:
            print(f"    {line}")
        if r.answer:
            print(f"    answer: {_short(r.answer, 200)}")


async def run_all(
    tasks: Sequence[Task],
    agents: Sequence[str],
    endpoint: Endpoint,
    timeout: float,
    save: Path | None = None,
) -> list[RunRecord]:
    """Every task for every agent; with ``save``, the report so far is rewritten after each run
    (a long run that is stopped keeps what it measured)."""
    records: list[RunRecord] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lmsa-tasks-") as scratch:
        # Agent by agent rather than task by task: consecutive runs of one agent share a long
        # prompt prefix (system prompt, tool schemas) that llama.cpp can reuse.
        for agent in agents:
            for index, task in enumerate(tasks, 1):
                record = await run_one(task, agent, endpoint, timeout, Path(scratch))
                records.append(record)
                verdict = "solved" if record.solved else f"unsolved ({'; '.join(record.reasons)})"
                print(
                    f"[{index}/{len(tasks)}] {task.id} {agent}: {record.outcome}, {verdict}, "
                    f"{record.calls} calls, {record.seconds:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
                if save is not None:
                    wall = time.perf_counter() - started
                    report = build_report(records, agents, endpoint, timeout, wall)
                    save.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return records


@functools.cache
def lmsa_source() -> str:
    """Where the lmsa under test was imported from, and a digest of its Python sources (the
    package changes between runs; the digest tells two runs of the same code apart). Taken once,
    at the start of a run."""
    import hashlib

    import lmsa

    root = Path(lmsa.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return f"{root} sha256:{digest.hexdigest()[:12]}"


def build_report(
    records: Sequence[RunRecord],
    agents: Sequence[str],
    endpoint: Endpoint,
    timeout: float,
    wall: float,
) -> dict[str, Any]:
    return {
        "model": endpoint.model_id,
        "base_url": endpoint.base_url,
        "model_path": str(getattr(getattr(endpoint.server, "engine", None), "model_path", "")),
        "lmsa_source": lmsa_source(),
        "timeout": timeout,
        "wall_seconds": wall,
        "load_average": " ".join(f"{v:.2f}" for v in os.getloadavg()),
        "agents": list(agents),
        "totals": [asdict(totals(records, agent)) for agent in agents],
        "results": [asdict(r) for r in records],
    }


def start_embedded(model: str | None) -> Any:
    """The embedded llama.cpp server, started like ``lmsa chat --local`` does."""
    from lmsa.config import load_settings
    from lmsa.local import start_local_server

    settings = load_settings()
    return start_local_server(
        model if model is not None else settings.local_model,
        context_length=settings.local_context_length,
        threads=settings.local_threads,
        default_max_tokens=settings.local_max_tokens,
        cpu_mode=settings.local_cpu_mode,
        prompt_states=settings.local_prompt_states,
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--model", help="embedded model: a packaged model's name or a GGUF path")
    parser.add_argument("--base-url", help="use this OpenAI-compatible endpoint instead")
    parser.add_argument("--api-key", default="lm-studio", help="token for --base-url")
    parser.add_argument("--model-id", help="model id at --base-url (default: the first listed)")
    parser.add_argument("--agents", default=",".join(AGENTS), help="comma-separated: lmsa,react")
    parser.add_argument("--tasks", default="", help="comma-separated task ids")
    parser.add_argument("--category", default="", help="comma-separated categories")
    parser.add_argument("--limit", type=int, help="at most this many tasks")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per task and agent")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--save", type=Path, help="also write the JSON report to this file")
    parser.add_argument("--list", action="store_true", help="list the tasks and exit")
    return parser.parse_args(argv)


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _first_model(base_url: str, api_key: str) -> str:
    import httpx

    response = httpx.get(
        f"{base_url.rstrip('/')}/models",
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=10,
    )
    response.raise_for_status()
    return str(response.json()["data"][0]["id"])


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    agents = _split(args.agents)
    if not agents or any(a not in AGENTS for a in agents):
        print(f"--agents takes {', '.join(AGENTS)}", file=sys.stderr)
        return 2
    try:
        tasks = select(
            TASKS, ids=_split(args.tasks), categories=_split(args.category), limit=args.limit
        )
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    if args.list:
        for task in tasks:
            print(f"{task.id:<22} {task.category:<12} {task.prompt}")
        return 0
    lmsa_source()  # the code as imported, before anything can change it on disk
    server = None
    if args.base_url:
        model_id = args.model_id or _first_model(args.base_url, args.api_key)
        endpoint = Endpoint(args.base_url, args.api_key, model_id)
    else:
        from lmsa.local import LocalModelUnavailable

        try:
            server = start_embedded(args.model)
        except LocalModelUnavailable as error:
            print(f"cannot start the local model: {error}", file=sys.stderr)
            return 2
        endpoint = Endpoint(server.base_url, "lm-studio", server.model_id, server)
    try:
        started = time.perf_counter()
        records = asyncio.run(run_all(tasks, agents, endpoint, args.timeout, args.save))
        report = build_report(
            records, agents, endpoint, args.timeout, time.perf_counter() - started
        )
    finally:
        if server is not None:
            server.stop()
    if args.save:
        args.save.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
