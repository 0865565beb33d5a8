"""Speed of the embedded local model on this machine, raw and through the whole assistant graph.

``python benchmarks/local_model.py [--model PATH] [--runs 5] [--turns 3] [--threads 2] [--json]``

* ``generation``: ``--runs`` streamed completions (128 tokens max, temperature 0) against the
  local server's ``/api/v0/chat/completions``. Each prompt starts differently, so llama.cpp's
  prefix reuse does not flatter the time to first token. Reported: time to first token measured
  by the client (request sent -> first content chunk), prompt tokens per second (prompt tokens /
  server-side TTFT), and generated tokens per second (server ``stats``).
* ``full turn``: the assistant graph (guard -> intent -> plan -> read_file -> validate ->
  respond) on a fresh thread per turn, asked to read a file in a temp workspace; seconds per
  turn and model calls per turn (counted by the server), ``--turns`` times:
  - ``no cache``: ``LMSA_LLM_CACHE`` off, every call reaches the model;
  - ``cache``: the response cache on (issue 4), after one untimed warm-up turn with the same
    request, i.e. a repeated question. Only when lmsa's LLM layer records cache lookups
    (``lmsa_llm_cache_lookups_total``); otherwise the row says the cache is not available
    rather than showing a number.

Decoding is greedy (temperature 0), which is also what makes a response cacheable. Figures
depend on the CPU and on what else runs on it; the table prints the load average.
"""

from __future__ import annotations

import os

os.environ["LANGSMITH_TRACING"] = "false"
os.environ["LANGCHAIN_TRACING_V2"] = "false"

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from lmsa.config import Settings
from lmsa.context import Context

TOPICS = ["the sea", "a mountain", "a library", "a train journey", "a garden", "a city at night"]
REQUEST = "Use the read_file tool to read the file notes.txt and tell me what it says."


@dataclass
class TurnRow:
    name: str
    available: bool
    note: str = ""
    seconds: list[float] = field(default_factory=list)
    calls: list[int] = field(default_factory=list)
    cache_hits: float = 0.0


@dataclass
class Report:
    model: str
    model_path: str
    threads: int
    context_length: int
    load_seconds: float
    load_average: str
    ttft_client: list[float]
    prompt_tps: list[float]
    generation_tps: list[float]
    completion_tokens: list[int]
    turns: list[TurnRow]


def _cache_lookups() -> dict[str, float]:
    """Cache lookups by result, as recorded by lmsa's LLM layer (empty when it records none)."""
    from lmsa.observability.metrics import REGISTRY

    totals: dict[str, float] = {}
    for metric in REGISTRY.collect():
        if metric.name != "lmsa_llm_cache_lookups":
            continue
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                result = sample.labels.get("result", "?")
                totals[result] = totals.get(result, 0.0) + sample.value
    return totals


def generation(server: Any, runs: int) -> tuple[list[float], list[float], list[float], list[int]]:
    ttfts: list[float] = []
    prompt_tps: list[float] = []
    gen_tps: list[float] = []
    tokens: list[int] = []
    with httpx.Client(timeout=600) as client:
        for index in range(runs):
            topic = TOPICS[index % len(TOPICS)]
            body = {
                "model": server.model_id,
                "temperature": 0,
                "max_tokens": 128,
                "stream": True,
                "stream_options": {"include_usage": True},
                "messages": [
                    {"role": "system", "content": f"Run {index}. You write plain prose."},
                    {"role": "user", "content": f"Write a short paragraph about {topic}."},
                ],
            }
            started = time.perf_counter()
            first: float | None = None
            stats: dict[str, Any] = {}
            usage: dict[str, Any] = {}
            url = f"{server.root_url}/api/v0/chat/completions"
            with client.stream("POST", url, json=body) as response:
                response.raise_for_status()
                for line in response.iter_lines():
                    if not line.startswith("data: ") or line == "data: [DONE]":
                        continue
                    event = json.loads(line[len("data: ") :])
                    choices = event.get("choices") or []
                    if choices and choices[0]["delta"].get("content") and first is None:
                        first = time.perf_counter()
                    stats = event.get("stats") or stats
                    usage = event.get("usage") or usage
            if first is None:
                continue
            ttfts.append(first - started)
            server_ttft = stats.get("time_to_first_token") or 0
            if server_ttft:
                prompt_tps.append(usage.get("prompt_tokens", 0) / server_ttft)
            gen_tps.append(float(stats.get("tokens_per_second") or 0))
            tokens.append(int(usage.get("completion_tokens", 0)))
    return ttfts, prompt_tps, gen_tps, tokens


async def full_turns(
    server: Any, workspace: Path, turns: int, *, cache: bool, warm_up: bool
) -> TurnRow:
    from langchain_core.messages import HumanMessage
    from langgraph.checkpoint.memory import InMemorySaver

    from lmsa.graphs.builder import build_assistant, make_services

    name = "full turn, cache" if cache else "full turn, no cache"
    fields = Settings.model_fields
    if cache and "llm_cache" not in fields:
        return TurnRow(name, False, "Settings has no llm_cache: the response cache is not built")
    settings = Settings(
        base_url=server.base_url,
        model=server.model_id,
        temperature=0.0,
        workspace=workspace,
        checkpointer="memory",
        llm_cache=cache,
    )
    graph = build_assistant(make_services(settings)).compile(checkpointer=InMemorySaver())
    context = Context(clarify_threshold=0.0, max_clarify_rounds=0, max_iterations=1)
    row = TurnRow(name, True)

    async def turn() -> tuple[float, int]:
        config: Any = {"configurable": {"thread_id": str(uuid.uuid4())}}
        before = server.engine.predictions
        started = time.perf_counter()
        result = await graph.ainvoke(
            {"messages": [HumanMessage(content=REQUEST)]}, config, context=context
        )
        elapsed = time.perf_counter() - started
        if not str(result.get("answer") or "").strip():
            raise RuntimeError(f"a turn ended without an answer: {result.get('error')}")
        return elapsed, server.engine.predictions - before

    if warm_up:
        await turn()
    lookups_before = _cache_lookups()
    for _ in range(turns):
        seconds, calls = await turn()
        row.seconds.append(seconds)
        row.calls.append(calls)
    lookups = _cache_lookups()
    if cache:
        looked_up = sum(lookups.values()) - sum(lookups_before.values())
        if looked_up == 0:
            row.available = False
            row.note = (
                "lmsa.llm recorded no cache lookups: the response cache is not wired into "
                "the LLM provider yet, so there is no cached figure"
            )
        row.cache_hits = lookups.get("hit", 0.0) - lookups_before.get("hit", 0.0)
    return row


def _median(values: Sequence[float]) -> str:
    return f"{statistics.median(values):.2f}" if values else "-"


def _range(values: Sequence[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}" if values else "-"


def print_table(report: Report) -> None:
    print(
        f"model {report.model} ({report.model_path}); llama.cpp threads {report.threads}, "
        f"context {report.context_length}; loaded in {report.load_seconds:.2f} s; "
        f"load average {report.load_average}"
    )
    print()
    header = f"{'measure':<42} {'median':>9} {'range':>15} {'n':>3}"
    print(header)
    print("-" * len(header))
    rows = [
        ("time to first token, client (s)", report.ttft_client),
        ("prompt processing (tokens/s)", report.prompt_tps),
        ("generation (tokens/s)", report.generation_tps),
        ("generated tokens per reply", [float(t) for t in report.completion_tokens]),
    ]
    for label, values in rows:
        print(f"{label:<42} {_median(values):>9} {_range(values):>15} {len(values):>3}")
    for turn in report.turns:
        if not turn.available:
            print(f"{turn.name + ' (s)':<42} {'n/a':>9}   {turn.note}")
            continue
        label = f"{turn.name} (s)"
        seconds = turn.seconds
        print(f"{label:<42} {_median(seconds):>9} {_range(seconds):>15} {len(seconds):>3}")
        calls = f"  model calls per turn: {', '.join(str(c) for c in turn.calls)}"
        if turn.name.endswith(", cache"):
            calls += f"; cache hits: {turn.cache_hits:g}"
        print(calls)


async def run(args: argparse.Namespace) -> Report:
    from lmsa.local import start_local_server

    server = start_local_server(args.model, threads=args.threads)
    try:
        ttft, prompt_tps, gen_tps, tokens = generation(server, args.runs)
        with tempfile.TemporaryDirectory() as tmp:
            workspace = Path(tmp)
            (workspace / "notes.txt").write_text("The launch code is PINEAPPLE-42.\n")
            turns = [
                await full_turns(server, workspace, args.turns, cache=False, warm_up=False),
                await full_turns(server, workspace, args.turns, cache=True, warm_up=True),
            ]
        engine = server.engine
        return Report(
            model=engine.model_id,
            model_path=str(engine.model_path),
            threads=args.threads,
            context_length=engine.context_length,
            load_seconds=engine.load_seconds,
            load_average=" ".join(f"{v:.2f}" for v in os.getloadavg()),
            ttft_client=ttft,
            prompt_tps=prompt_tps,
            generation_tps=gen_tps,
            completion_tokens=tokens,
            turns=turns,
        )
    finally:
        server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="GGUF file (default: the packaged Gemma 3 270M)")
    parser.add_argument("--runs", type=int, default=5, help="streamed generations")
    parser.add_argument("--turns", type=int, default=3, help="timed graph turns per row")
    parser.add_argument("--threads", type=int, default=2, help="llama.cpp threads")
    parser.add_argument("--json", action="store_true", help="print machine-readable results")
    args = parser.parse_args(argv)
    from lmsa.local import LocalModelUnavailable

    try:
        report = asyncio.run(run(args))
    except LocalModelUnavailable as error:
        print(f"cannot benchmark the local model: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(asdict(report), indent=2))
    else:
        print_table(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
