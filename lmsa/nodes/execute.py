"""Runs a checked plan: steps in dependency order, independent steps concurrently, each under a
timeout. A failing tool becomes an observation the validator and the answer can talk about; it
never aborts the turn."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from langgraph.runtime import Runtime

from lmsa.context import Services
from lmsa.state import AssistantState


def dependency_layers(steps: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Groups steps so each group depends only on earlier groups (the planner already rejected
    cycles and unknown ids)."""
    remaining = {step["id"]: step for step in steps}
    done: set[str] = set()
    layers: list[list[dict[str, Any]]] = []
    while remaining:
        layer = [s for s in remaining.values() if set(s.get("depends_on") or []) <= done]
        if not layer:  # defensive: a plan that was not checked
            layer = list(remaining.values())
        layers.append(layer)
        for step in layer:
            done.add(step["id"])
            del remaining[step["id"]]
    return layers


def make_execute(services: Services) -> Callable[..., Awaitable[dict[str, Any]]]:
    async def run_step(step: dict[str, Any], timeout: float, iteration: int) -> dict[str, Any]:
        result: dict[str, Any] = {
            "step_id": step["id"],
            "tool": step["tool"],
            "args": step["args"],
            "iteration": iteration,
            "ok": False,
            "output": None,
            "error": None,
        }
        started = time.perf_counter()
        try:
            tool = services.tools.get(step["tool"])
            output = await asyncio.wait_for(tool.ainvoke(step["args"]), timeout=timeout)
            result.update(ok=True, output=output if isinstance(output, str) else str(output))
        except TimeoutError:
            result["error"] = f"timed out after {timeout:g} s"
        except Exception as error:  # a tool failure is an observation, not a crash
            result["error"] = str(error) or type(error).__name__
        result["duration_ms"] = round((time.perf_counter() - started) * 1000, 2)
        return result

    async def execute(state: AssistantState, runtime: Runtime) -> dict[str, Any]:
        context = services.context_of(runtime.context)
        plan = state.get("plan") or {}
        iteration = state.get("iteration", 0)
        results = list(state.get("results") or [])
        failed: set[str] = set()
        for layer in dependency_layers(list(plan.get("steps") or [])):
            runnable = []
            for step in layer:
                blocked = [d for d in step.get("depends_on") or [] if d in failed]
                if blocked:
                    failed.add(step["id"])
                    results.append(_skipped(step, blocked, iteration))
                else:
                    runnable.append(step)
            outcomes = await asyncio.gather(
                *(run_step(step, context.tool_timeout, iteration) for step in runnable)
            )
            for outcome in outcomes:
                if not outcome["ok"]:
                    failed.add(outcome["step_id"])
                results.append(outcome)
        return {"results": results}

    return execute


def _skipped(step: dict[str, Any], blocked: list[str], iteration: int) -> dict[str, Any]:
    return {
        "step_id": step["id"],
        "tool": step["tool"],
        "args": step["args"],
        "iteration": iteration,
        "ok": False,
        "output": None,
        "error": f"skipped because step(s) {', '.join(blocked)} failed",
        "duration_ms": 0.0,
    }
