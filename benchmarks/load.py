"""Load test of the HTTP API: many concurrent conversations through ``lmsa serve`` against a
loopback LM Studio stub with fixed latency and a fixed number of parallel slots.

    python benchmarks/load.py [--conversations 500] [--turns 3] [--latency-ms 200] [--slots 16]
                              [--checkpointer memory|redis] [--stream]

Processes (all on 127.0.0.1, stopped at the end): the stub (``tests/stubs/lmstudio.py`` with
``--latency-ms`` and ``--max-concurrency``), one ``lmsa serve`` instance, and this client
(httpx, one client and connection per conversation). Each turn is an OpenAI-style chat
completion on the conversation's thread (``X-Thread-Id``); a turn is an error unless it is
HTTP 200 and the answer is the stub's echo of that turn's message.

Two phases:
  overhead    as many conversations as the stub has slots (no request ever waits for a slot):
              turn latency minus the model time (LLM calls per turn x latency) is what lmsa adds.
  load        ``--conversations`` at once: completed turns per second beside the stub's own
              limit (slots / latency / LLM calls per turn), latency percentiles, errors, how
              busy the stub's slots were (its own slot-seconds count) and the server's CPU
              time per turn.
Peak RSS of the server process is sampled every 50 ms throughout.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
INTENT = {
    "reasoning": "Small talk.",
    "intent": "conversation",
    "confidence": 0.95,
    "entities": [],
    "language": "en",
    "needs_clarification": False,
    "clarifying_question": "",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer in {timeout} s")


@dataclass
class Phase:
    name: str
    conversations: int
    turns: int
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    llm_calls: int = 0
    stub_slot_seconds: float = 0.0
    server_cpu_seconds: float = 0.0

    @property
    def completed(self) -> int:
        return len(self.latencies)

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                procs = [self.process, *self.process.children(recursive=True)]
                self.peak = max(self.peak, sum(p.memory_info().rss for p in procs))
            except psutil.Error:
                return
            self._halt.wait(0.05)

    def stop(self) -> None:
        self._halt.set()
        self.join()


async def conversation(
    base_url: str, phase: Phase, index: int, stream: bool, start: asyncio.Event
) -> None:
    """One user: its own client and connection. (One shared httpx pool of 500 connections
    costs the client O(connections) per request and stalled it for seconds at a time, which
    then showed up as idle LLM slots, i.e. as the server's fault.)"""
    async with httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(600.0)) as client:
        await start.wait()
        await _turns(client, phase, index, stream)


async def _turns(client: httpx.AsyncClient, phase: Phase, index: int, stream: bool) -> None:
    thread_id = f"load-{phase.name}-{index}-{uuid.uuid4().hex[:8]}"
    for turn in range(phase.turns):
        text = f"conversation {index} turn {turn} {uuid.uuid4().hex[:6]}"
        body = {"model": "lmsa", "messages": [{"role": "user", "content": text}], "stream": stream}
        began = time.perf_counter()
        try:
            if stream:
                answer = ""
                async with client.stream(
                    "POST", "/v1/chat/completions", json=body, headers={"X-Thread-Id": thread_id}
                ) as response:
                    status = response.status_code
                    async for line in response.aiter_lines():
                        if line.startswith("data: ") and line != "data: [DONE]":
                            chunk = json.loads(line[6:])
                            for choice in chunk.get("choices", []):
                                answer += choice["delta"].get("content") or ""
            else:
                response = await client.post(
                    "/v1/chat/completions", json=body, headers={"X-Thread-Id": thread_id}
                )
                status = response.status_code
                answer = (
                    response.json()["choices"][0]["message"]["content"] if status == 200 else ""
                )
        except (httpx.HTTPError, ValueError, KeyError) as error:
            phase.errors.append(f"{type(error).__name__}: {error}")
            continue
        elapsed = time.perf_counter() - began
        if status != 200 or answer != f"echo: {text}":
            phase.errors.append(f"HTTP {status}: {answer[:120]!r}")
            continue
        phase.latencies.append(elapsed)


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


async def run_phase(
    base_url: str, stub_root: str, phase: Phase, stream: bool, server: psutil.Process
) -> Phase:
    before = httpx.get(f"{stub_root}/_stub/stats").json()
    cpu_before = cpu_seconds(server)
    start = asyncio.Event()
    tasks = [
        asyncio.create_task(conversation(base_url, phase, i, stream, start))
        for i in range(phase.conversations)
    ]
    await asyncio.sleep(0.2)
    began = time.perf_counter()
    start.set()
    await asyncio.gather(*tasks)
    phase.seconds = time.perf_counter() - began
    phase.server_cpu_seconds = cpu_seconds(server) - cpu_before
    after = httpx.get(f"{stub_root}/_stub/stats").json()
    path = "/v1/chat/completions"
    phase.llm_calls = after["counts"].get(path, 0) - before["counts"].get(path, 0)
    phase.stub_slot_seconds = after["slot_seconds"] - before["slot_seconds"]
    return phase


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=500)
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--slots", type=int, default=16)
    parser.add_argument("--checkpointer", choices=["memory", "redis", "sqlite"], default="memory")
    parser.add_argument("--stream", action="store_true", help="stream the answers (SSE)")
    parser.add_argument("--log-level", default="WARNING", help="server log level")
    args = parser.parse_args()
    # The client's own collection pauses (500 conversations' worth of objects) would hold back
    # requests and count against the server; tuned like `lmsa serve` tunes itself.
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)

    tmp = Path(tempfile.mkdtemp(prefix="lmsa-load-"))
    scenario = tmp / "scenario.json"
    scenario.write_text(json.dumps({"IntentResult": [INTENT], "echo": True}))
    stub_port, api_port = free_port(), free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LMSA_", "LANGSMITH_", "LANGCHAIN_"))
    }
    env.update(
        PYTHONUNBUFFERED="1",
        LANGSMITH_TRACING="false",
        LMSA_BASE_URL=f"http://127.0.0.1:{stub_port}/v1",
        LMSA_CHECKPOINTER=args.checkpointer,
        LMSA_DATA_DIR=str(tmp / "data"),
        LMSA_WORKSPACE=str(tmp),
        LMSA_REDIS_KEY_PREFIX=f"lmsa-load-{uuid.uuid4().hex[:8]}",
        LMSA_RATE_LIMIT="",
        LMSA_LLM_CACHE="false",
        LMSA_LLM_MAX_CONCURRENCY=str(args.slots),
        LMSA_LOG_LEVEL=args.log_level,
    )
    stub = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.stubs.lmstudio",
            "--port",
            str(stub_port),
            "--scenario",
            str(scenario),
            "--latency-ms",
            str(args.latency_ms),
            "--max-concurrency",
            str(args.slots),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "lmsa.cli.main", "serve", "--port", str(api_port)],
        cwd=tmp,
        env=env,
        stderr=(tmp / "server.log").open("w"),
    )
    sampler: RssSampler | None = None
    try:
        stub_root = f"http://127.0.0.1:{stub_port}"
        base_url = f"http://127.0.0.1:{api_port}"
        wait_until(f"{stub_root}/v1/models", stub)
        wait_until(f"{base_url}/health", server)
        sampler = RssSampler(server.pid)
        sampler.start()
        # Warm-up: resolve the model, fill caches of imports and connections.
        server_process = psutil.Process(server.pid)

        def run(name: str, conversations: int, turns: int) -> Phase:
            phase = Phase(name, conversations, turns)
            return asyncio.run(run_phase(base_url, stub_root, phase, args.stream, server_process))

        run("warmup", 4, 1)
        overhead = run("overhead", args.slots, args.turns)
        load = run("load", args.conversations, args.turns)
        sampler.stop()
        report(args, overhead, load, sampler.peak)
        return 0 if not load.errors and not overhead.errors else 1
    finally:
        if sampler is not None and sampler.is_alive():
            sampler.stop()
        for proc in (server, stub):
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def report(args: argparse.Namespace, overhead: Phase, load: Phase, peak_rss: int) -> None:
    calls_per_turn = load.llm_calls / max(load.completed + len(load.errors), 1)
    model_seconds = calls_per_turn * args.latency_ms / 1000
    limit = args.slots / (args.latency_ms / 1000) / calls_per_turn
    rate = load.completed / load.seconds if load.seconds else 0.0
    mode = "stream" if args.stream else "json"
    print(
        f"lmsa load test: {args.conversations} conversations x {args.turns} turns, "
        f"stub {args.latency_ms:g} ms x {args.slots} slots, {args.checkpointer} checkpointer, "
        f"{mode} responses, 1 instance, {os.cpu_count()} CPUs"
    )
    print(f"LLM calls per turn (measured at the stub): {calls_per_turn:.2f}")
    rows = [
        (
            "phase",
            "convs",
            "turns ok",
            "errors",
            "turns/s",
            "p50 s",
            "p99 s",
            "p50 ovh ms",
            "p99 ovh ms",
        ),
    ]
    for phase in (overhead, load):
        rows.append(
            (
                phase.name,
                str(phase.conversations),
                str(phase.completed),
                str(len(phase.errors)),
                f"{phase.completed / phase.seconds:.1f}" if phase.seconds else "-",
                f"{phase.pct(0.5):.3f}",
                f"{phase.pct(0.99):.3f}",
                f"{(phase.pct(0.5) - model_seconds) * 1000:.1f}",
                f"{(phase.pct(0.99) - model_seconds) * 1000:.1f}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)))
    print(
        f"throughput under load: {rate:.1f} turns/s = {rate / limit:.1%} of the stub's limit "
        f"({limit:.1f} turns/s = {args.slots} slots / {args.latency_ms:g} ms / "
        f"{calls_per_turn:.2f} calls per turn)"
    )
    busy = load.stub_slot_seconds / (args.slots * load.seconds) if load.seconds else 0.0
    print(
        f"stub slots busy during the load phase: {busy:.1%} "
        f"({load.stub_slot_seconds:.1f} slot-seconds of {args.slots} x {load.seconds:.1f} s)"
    )
    if load.seconds and load.completed:
        print(
            f"server CPU during the load phase: {load.server_cpu_seconds / load.seconds:.0%} of "
            f"one core, {load.server_cpu_seconds / load.completed * 1000:.1f} ms per turn"
        )
    print(f"peak RSS of the server process: {peak_rss / 2**20:.0f} MB")
    print(
        "overhead = turn latency - model time "
        f"({calls_per_turn:.2f} calls x {args.latency_ms:g} ms); under load it includes "
        "waiting for a stub slot"
    )
    for phase in (overhead, load):
        if phase.errors:
            print(f"{phase.name} errors (first 5): {phase.errors[:5]}")


if __name__ == "__main__":
    sys.exit(main())
