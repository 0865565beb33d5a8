"""Per-turn orchestration overhead of lmsa's graph, with the LLM replaced by a zero-latency fake.

What is measured (``python benchmarks/overhead.py [--turns 300] [--warmup 30] [--json]``):

* ``lmsa tool turn``: the full assistant graph (guard -> classify_intent -> plan -> execute ->
  validate -> respond), compiled with an ``InMemorySaver``; the plan is one ``read_file`` step on a
  small file in a temporary workspace, so a turn makes 4 LLM calls (intent, plan, validate,
  respond).
* ``lmsa conversation``: intent=conversation -> respond, 2 LLM calls.
* ``ReAct baseline``: ``langgraph.prebuilt.create_react_agent`` with the same ``read_file`` tool
  and the same ``InMemorySaver`` class, making the same 4 LLM calls per turn (three tool-calling
  model turns, then a final answer); note it runs the tool 3 times where lmsa runs it once.

Both use the same :class:`lmsa.testing.ScriptedChatModel`, whose replies are prebuilt strings or
a tiny callable, so the model costs the same (next to nothing) in both. Every turn runs on a
fresh thread (``thread_id`` per turn, deleted afterwards, outside the timed region), so history
growth does not skew the numbers. The three scenarios are interleaved turn by turn so drift (GC,
CPU frequency) hits them alike. LangSmith tracing is disabled. Absolute times depend on the
machine; the ratio to the ReAct baseline is the portable number. ``--profile`` adds a cProfile
of lmsa tool turns (top functions by own and cumulative time).
"""

from __future__ import annotations

import os

os.environ["LANGSMITH_TRACING"] = "false"
os.environ["LANGCHAIN_TRACING_V2"] = "false"

import argparse
import asyncio
import cProfile
import gc
import io
import json
import pstats
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph.state import CompiledStateGraph

from lmsa.config import Settings
from lmsa.graphs.builder import build_assistant, make_services
from lmsa.testing import ScriptedChatModel
from lmsa.tools import Workspace, make_file_tools

TARGET_RATIO = 1.3
TARGET_TURN_MS = 5.0
REACT_TOOL_ROUNDS = 3
ANSWER = "The file says hello world."


def _intent(intent: str) -> str:
    return json.dumps(
        {
            "reasoning": "r",
            "intent": intent,
            "confidence": 0.95,
            "entities": ["a.txt"] if intent != "conversation" else [],
            "language": "en",
            "needs_clarification": False,
            "clarifying_question": "",
        }
    )


def lmsa_model(intent: str) -> ScriptedChatModel:
    """Replies are prebuilt JSON strings, so each call costs one ``AIMessage`` construction."""
    plan = {
        "reasoning": "read it",
        "answer_directly": False,
        "steps": [{"id": "s1", "tool": "read_file", "args": {"path": "a.txt"}, "purpose": "read"}],
    }
    return ScriptedChatModel(
        script={
            "IntentResult": [_intent(intent)],
            "Plan": [json.dumps(plan)],
            "Validation": [json.dumps({"complete": True, "missing": "", "retry_with": ""})],
            "text": [ANSWER],
        }
    )


def react_model() -> ScriptedChatModel:
    """Three tool-calling replies, then the answer, counted from this turn's tool results."""

    def reply(messages: Sequence[BaseMessage], _kwargs: dict[str, Any]) -> AIMessage:
        done = sum(isinstance(m, ToolMessage) for m in messages)
        if done < REACT_TOOL_ROUNDS:
            call = {"name": "read_file", "args": {"path": "a.txt"}, "id": f"call_{done}"}
            return AIMessage(content="", tool_calls=[call])
        return AIMessage(content=ANSWER)

    return ScriptedChatModel(script={"text": [reply]})


def build_react(
    llm: ScriptedChatModel, workspace: Workspace
) -> CompiledStateGraph[Any, Any, Any, Any]:
    from langgraph.prebuilt import create_react_agent

    read_file = next(t for t in make_file_tools(workspace) if t.name == "read_file")
    with warnings.catch_warnings():  # deprecated in favour of langchain.agents.create_agent
        warnings.simplefilter("ignore")
        return create_react_agent(llm, [read_file], checkpointer=InMemorySaver())


def build_lmsa(llm: ScriptedChatModel, workspace: Path) -> CompiledStateGraph[Any, Any, Any, Any]:
    services = make_services(Settings(workspace=workspace), llm=llm)
    return build_assistant(services).compile(checkpointer=InMemorySaver(), name="lmsa")


@dataclass
class Scenario:
    name: str
    graph: CompiledStateGraph[Any, Any, Any, Any]
    llm: ScriptedChatModel
    prompt: str
    llm_calls: int
    samples_ns: list[int]

    async def turn(self, index: int, *, timed: bool = True) -> None:
        thread_id = f"{self.name}-{index}"
        config: RunnableConfig = {"configurable": {"thread_id": thread_id}}
        payload = {"messages": [HumanMessage(content=self.prompt)]}
        started = time.perf_counter_ns()
        result = await self.graph.ainvoke(payload, config)
        elapsed = time.perf_counter_ns() - started
        # Outside the timed region: check the turn did what we claim, then forget it.
        if len(self.llm.calls) != self.llm_calls:
            raise RuntimeError(
                f"{self.name}: {len(self.llm.calls)} LLM calls, expected {self.llm_calls}"
            )
        if result["messages"][-1].content != ANSWER:
            raise RuntimeError(f"{self.name}: unexpected answer {result['messages'][-1]!r}")
        self.llm.calls.clear()
        self.graph.checkpointer.delete_thread(thread_id)  # type: ignore[union-attr]
        if timed:
            self.samples_ns.append(elapsed)


def summarise(scenario: Scenario) -> dict[str, Any]:
    ms = sorted(ns / 1e6 for ns in scenario.samples_ns)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    median = statistics.median(ms)
    return {
        "scenario": scenario.name,
        "llm_calls": scenario.llm_calls,
        "turns": len(ms),
        "turn_median_ms": round(median, 3),
        "turn_p95_ms": round(p95, 3),
        "call_median_ms": round(median / scenario.llm_calls, 3),
        "call_p95_ms": round(p95 / scenario.llm_calls, 3),
    }


@dataclass
class Report:
    turns: int
    warmup: int
    threads: str
    rows: list[dict[str, Any]]
    ratio: float
    ratio_target: float
    ratio_met: bool
    turn_target_ms: float
    turn_target_met: bool
    versions: dict[str, str]


def make_scenarios(workspace: Path) -> list[Scenario]:
    tool_llm, chat_llm, react_llm = (
        lmsa_model("file_operation"),
        lmsa_model("conversation"),
        (react_model()),
    )
    return [
        Scenario(
            "lmsa tool turn",
            build_lmsa(tool_llm, workspace),
            tool_llm,
            "What does a.txt say?",
            4,
            [],
        ),
        Scenario(
            "ReAct baseline",
            build_react(react_llm, Workspace(workspace)),
            react_llm,
            "What does a.txt say?",
            1 + REACT_TOOL_ROUNDS,
            [],
        ),
        Scenario(
            "lmsa conversation",
            build_lmsa(chat_llm, workspace),
            chat_llm,
            "Hi, how are you?",
            2,
            [],
        ),
    ]


async def run(turns: int, warmup: int, workspace: Path) -> Report:
    scenarios = make_scenarios(workspace)
    for i in range(warmup):
        for scenario in scenarios:
            await scenario.turn(-1 - i, timed=False)
    gc.collect()
    for i in range(turns):
        for scenario in scenarios:
            await scenario.turn(i)
    rows = [summarise(s) for s in scenarios]
    ours, react = rows[0], rows[1]
    ratio = ours["call_median_ms"] / react["call_median_ms"]
    return Report(
        turns=turns,
        warmup=warmup,
        threads="fresh thread per turn (deleted after each turn, outside the timing)",
        rows=rows,
        ratio=round(ratio, 3),
        ratio_target=TARGET_RATIO,
        ratio_met=ratio <= TARGET_RATIO,
        turn_target_ms=TARGET_TURN_MS,
        turn_target_met=ours["turn_median_ms"] < TARGET_TURN_MS,
        versions=_versions(),
    )


def _versions() -> dict[str, str]:
    from importlib.metadata import version

    names = ("langgraph", "langgraph-prebuilt", "langchain-core", "langgraph-checkpoint")
    found = {name: version(name) for name in names}
    found["python"] = sys.version.split()[0]
    return found


def print_table(report: Report) -> None:
    print(
        f"Orchestration overhead, zero-latency fake LLM; {report.turns} timed turns per "
        f"scenario after {report.warmup} warm-up turns; {report.threads}; InMemorySaver."
    )
    print(", ".join(f"{k} {v}" for k, v in report.versions.items()))
    header = (
        f"{'scenario':<20}{'LLM calls':>10}{'turn med ms':>13}{'turn p95 ms':>13}"
        f"{'call med ms':>13}{'call p95 ms':>13}"
    )
    print(header)
    print("-" * len(header))
    for row in report.rows:
        print(
            f"{row['scenario']:<20}{row['llm_calls']:>10}{row['turn_median_ms']:>13.3f}"
            f"{row['turn_p95_ms']:>13.3f}{row['call_median_ms']:>13.3f}"
            f"{row['call_p95_ms']:>13.3f}"
        )
    verdict = "met" if report.ratio_met else "MISSED"
    print(
        f"ratio (lmsa per LLM call / ReAct per LLM call, medians): {report.ratio:.3f} "
        f"(target <= {report.ratio_target}): {verdict}"
    )
    turn = report.rows[0]["turn_median_ms"]
    verdict = "holds" if report.turn_target_met else "does NOT hold"
    print(f"lmsa tool turn < {report.turn_target_ms:g} ms (median {turn:.3f} ms): {verdict}")


async def profile(turns: int, workspace: Path, top: int) -> str:
    """cProfile of ``turns`` lmsa tool turns (after a short warm-up); the top functions."""
    scenario = make_scenarios(workspace)[0]
    for i in range(10):
        await scenario.turn(-1 - i, timed=False)
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(turns):
        await scenario.turn(i, timed=False)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=300, help="timed turns per scenario")
    parser.add_argument("--warmup", type=int, default=30, help="untimed turns per scenario first")
    parser.add_argument("--json", action="store_true", help="print machine-readable results")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also cProfile lmsa tool turns and print the hot spots",
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="lmsa-bench-") as tmp:
        workspace = Path(tmp).resolve()
        (workspace / "a.txt").write_text("hello world\n", encoding="utf-8")
        report = asyncio.run(run(args.turns, args.warmup, workspace))
        if args.json:
            print(json.dumps(asdict(report), indent=2))
        else:
            print_table(report)
        if args.profile:
            hot_spots = asyncio.run(profile(args.turns, workspace, top=30))
            print(hot_spots, file=sys.stderr if args.json else sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
