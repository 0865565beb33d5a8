"""How lmsa's LLM router survives a failing endpoint, beside LiteLLM's Router configured alike.

``python benchmarks/faults.py [--requests 1000] [--down-requests 300] [--skip-litellm]``

Two scripted LM Studio stubs on loopback (``tests/stubs/lmstudio.py``) play a primary and a
backup; every figure comes from requests the stubs really answered.

1. Transient faults: the primary answers HTTP 503 to 30% of requests (seeded random pattern,
   the same for both routers), the backup is healthy. Reported: success rate, mean attempts per
   request (chat requests both stubs saw / requests), share served by the backup.
2. Primary hard down (a closed port: connection refused): median latency per request once the
   breaker is open (after a warm-up), minus the median of the same router configured with only
   the backup. That difference is what a dead endpoint still costs each request.
3. Cache: latency of a cache hit (temperature 0) through ``model.ainvoke`` and through the
   router core alone.

Both routers get the same policy: 2 retries per endpoint, fallback primary -> backup, 5 failures
before an endpoint is taken out for 30 s, and a short retry backoff (lmsa: full jitter, base
10 ms, cap 100 ms; LiteLLM: ``retry_after=0``). Requests are sequential so per-request latency
is clean. LiteLLM is imported with its local model cost map and telemetry off (no network).
"""

from __future__ import annotations

import os

os.environ["LANGSMITH_TRACING"] = "false"
os.environ["LANGCHAIN_TRACING_V2"] = "false"
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_LOG", "CRITICAL")

import argparse
import asyncio
import random
import socket
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from langchain_core.messages import HumanMessage

from lmsa.config import EndpointSettings, Settings
from lmsa.llm import LLMProvider
from tests.stubs.lmstudio import LMStudioStub

FAIL_RATE = 0.30
RETRIES = 2
THRESHOLD = 5
COOLDOWN = 30.0
TARGET_SUCCESS = 1.0
TARGET_DOWN_MS = 5.0
TARGET_HIT_MS = 1.0


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def flaky_script(count: int, seed: int = 7) -> dict[str, Any]:
    rng = random.Random(seed)
    replies: list[Any] = [
        {"status": 503, "error": "transient"} if rng.random() < FAIL_RATE else "primary ok"
        for _ in range(count)
    ]
    return {"text": [*replies, "primary ok"]}


# ---- the two routers ----------------------------------------------------------------------

Call = Callable[[str], Awaitable[str]]


def lmsa_router(*urls: str, cache: bool = False) -> tuple[Call, LLMProvider]:
    settings = Settings(
        endpoints=[
            EndpointSettings(base_url=url, model="test-model", name=f"ep{i}")
            for i, url in enumerate(urls)
        ],
        max_retries=RETRIES,
        llm_breaker_threshold=THRESHOLD,
        llm_breaker_cooldown=COOLDOWN,
        llm_retry_base_delay=0.01,
        llm_retry_max_delay=0.1,
        llm_health_interval=0,
        llm_cache=cache,
        temperature=0 if cache else 0.2,
    )
    provider = LLMProvider(settings)
    model: Any = None

    async def call(text: str) -> str:
        nonlocal model
        if model is None:
            model = await provider.model()
        reply = await model.ainvoke([HumanMessage(content=text)])
        return str(reply.content)

    return call, provider


def litellm_router(*urls: str) -> Call:
    import litellm
    from litellm import Router

    litellm.telemetry = False
    litellm.suppress_debug_info = True
    names = [f"ep{i}" for i in range(len(urls))]
    router = Router(
        model_list=[
            {
                "model_name": name,
                "litellm_params": {
                    "model": "openai/test-model",
                    "api_base": url,
                    "api_key": "lm-studio",
                    "max_retries": 0,
                },
            }
            for name, url in zip(names, urls, strict=True)
        ],
        fallbacks=[{names[0]: names[1:]}] if len(names) > 1 else [],
        num_retries=RETRIES,
        allowed_fails=THRESHOLD,
        cooldown_time=COOLDOWN,
        retry_after=0,
    )

    async def call(text: str) -> str:
        response: Any = await router.acompletion(
            model=names[0], messages=[{"role": "user", "content": text}]
        )
        return str(response.choices[0].message.content)

    return call


# ---- measurements -------------------------------------------------------------------------


async def transient(
    call: Call, primary: LMStudioStub, backup: LMStudioStub, n: int
) -> dict[str, Any]:
    ok = 0
    started = time.perf_counter()
    for i in range(n):
        try:
            if await call(f"request {i}"):
                ok += 1
        except Exception:
            pass
    seconds = time.perf_counter() - started
    attempts = primary.count() + backup.count()
    return {
        "success": ok / n,
        "attempts": attempts / n,
        "backup_share": backup.count() / n,
        "seconds": seconds,
    }


async def latencies(call: Call, n: int, warmup: int, same: str | None = None) -> list[float]:
    for i in range(warmup):
        await call(same or f"warm {i}")
    times = []
    for i in range(n):
        started = time.perf_counter()
        await call(same or f"timed {i}")
        times.append(time.perf_counter() - started)
    return times


async def run(args: argparse.Namespace) -> int:
    rows: list[tuple[str, str, str]] = []
    routers = ["lmsa"] if args.skip_litellm else ["lmsa", "litellm"]

    # 1. transient faults
    for name in routers:
        async with (
            LMStudioStub(flaky_script(args.requests * 3)) as primary,
            LMStudioStub({"text": ["backup ok"]}) as backup,
        ):
            if name == "lmsa":
                call, provider = lmsa_router(primary.base_url, backup.base_url)
            else:
                call = litellm_router(primary.base_url, backup.base_url)
            result = await transient(call, primary, backup, args.requests)
            rows.append(
                (
                    name,
                    f"30% transient 503 on primary, {args.requests} requests",
                    f"success {result['success']:.1%}, {result['attempts']:.3f} attempts/request, "
                    f"{result['backup_share']:.1%} served by backup, {result['seconds']:.1f} s",
                )
            )

    # 2. primary hard down
    dead = closed_port_url()
    for name in routers:
        async with LMStudioStub({"text": ["backup ok"]}) as backup:
            if name == "lmsa":
                direct, _ = lmsa_router(backup.base_url)
                routed, _ = lmsa_router(dead, backup.base_url)
            else:
                direct = litellm_router(backup.base_url)
                routed = litellm_router(dead, backup.base_url)
            # Interleave blocks so drift hits both alike.
            base: list[float] = []
            down: list[float] = []
            await latencies(routed, 0, args.warmup)
            await latencies(direct, 0, args.warmup)
            for _ in range(5):
                base += await latencies(direct, args.down_requests // 5, 0)
                down += await latencies(routed, args.down_requests // 5, 0)
            down_ms, base_ms = statistics.median(down) * 1000, statistics.median(base) * 1000
            added = down_ms - base_ms
            rows.append(
                (
                    name,
                    f"primary down (connection refused), {args.down_requests} requests after "
                    f"{args.warmup} warm-up",
                    f"median {down_ms:.2f} ms vs {base_ms:.2f} ms "
                    f"backup-only: added {added:+.2f} ms/request (target < {TARGET_DOWN_MS:g} ms)",
                )
            )

    # 3. cache hits
    async with LMStudioStub({"text": ["cached answer"]}) as stub:
        call, provider = lmsa_router(stub.base_url, cache=True)
        await call("same question")
        hits = await latencies(call, 500, 50, same="same question")
        model = await provider.model()
        request = model._prepare([HumanMessage(content="same question")], None, None, {})  # type: ignore[attr-defined]
        core_hits = []
        for _ in range(500):
            started = time.perf_counter()
            await provider.core.complete(request)
            core_hits.append(time.perf_counter() - started)
        rows.append(
            (
                "lmsa",
                "cache hit (temperature 0), 500 calls",
                f"median {statistics.median(hits) * 1000:.3f} ms via model.ainvoke, "
                f"{statistics.median(core_hits) * 1000:.3f} ms in the router "
                f"(target < {TARGET_HIT_MS:g} ms); server saw {stub.count()} request(s)",
            )
        )

    width = max(len(r[1]) for r in rows)
    print(f"{'router':8} {'scenario':{width}}  result")
    for router, scenario, result in rows:
        print(f"{router:8} {scenario:{width}}  {result}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--down-requests", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--skip-litellm", action="store_true")
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
