"""Runs a checked plan: steps in dependency order, independent steps concurrently, each under a
timeout. A failing tool becomes an observation the validator and the answer can talk about; it
never aborts the turn.

Approval (human in the loop). Every step's risk is judged first (``ToolRegistry.assess``:
``run_command`` parses the command line); dangerous calls are refused without asking, calls above
``LMSA_AUTO_APPROVE`` pause the graph with ``interrupt()`` carrying the exact call, one call per
interrupt. ALL approvals of the plan are gathered before ANY step runs, in this node:
``interrupt()`` re-runs the node from the top on resume, so everything before the last interrupt
must be free of side effects, and gathering first guarantees that no tool ever runs twice. This
works because a plan's arguments are fixed when it is checked (a step never takes its arguments
from an earlier step's output), so every call is known up front. A separate ``approve`` node
would do the same with one more checkpoint per turn and the plan split across two nodes; keeping
it here keeps the graph (and Studio's picture of it) as it was. The interrupt sequence is
deterministic for a given plan, which is what lets LangGraph match resume values to questions.
A rejected call, and every step that depends on it, becomes an observation for the planner.

Results of read-only tools are cached across steps, turns and threads (:mod:`lmsa.tools.cache`)
keyed by arguments and a fingerprint of what they read; any other tool call empties the cache.

What the model sees of a tool's output is made in one place, :func:`to_observation`: untrusted
data, truncated with a note (the full output stays in ``results[i]["full_output"]``) and with our
result delimiters neutralised so the output cannot close the data block it is quoted in.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from langgraph.runtime import Runtime

from lmsa.context import Context, Services
from lmsa.nodes._approval import ApprovalGate, StepVerdict
from lmsa.observability.metrics import TOOL_RUNS, TOOL_SECONDS
from lmsa.state import AssistantState
from lmsa.tools import ToolResultCache

_DELIMITERS = ("<<<TOOL_RESULTS", "TOOL_RESULTS>>>")
_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class Observation:
    """What the model is shown of one tool output, and whether anything was left out."""

    text: str
    truncated: bool
    altered: bool


def to_observation(tool: str, output: Any, cap: int) -> Observation:
    """Turn a tool's raw output into what the model may read.

    The single place where tool output enters the model's context: tool output is data from the
    user's machine or the web, never instructions, so it is (1) stripped of the markers the
    prompts use to fence results in (a file containing ``TOOL_RESULTS>>>`` could otherwise end
    the data block and speak as the system), and (2) cut to ``cap`` characters with a note, the
    note counted inside the cap so later rendering never cuts the note itself off.
    """
    text = output if isinstance(output, str) else str(output)
    cleaned = text
    for marker in _DELIMITERS:
        cleaned = cleaned.replace(marker, marker.replace("TOOL_RESULTS", "TOOL-RESULTS"))
    altered = cleaned != text
    if len(cleaned) <= cap:
        return Observation(cleaned, truncated=False, altered=altered)
    omitted = len(cleaned) - cap
    note = f"\n[... output truncated for the model: about {omitted} more characters not shown]"
    keep = max(cap - len(note), 0)
    omitted = len(cleaned) - keep
    note = f"\n[... output truncated for the model: {omitted} more characters not shown]"
    return Observation(cleaned[:keep] + note, truncated=True, altered=altered)


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


class StepRunner:
    """Runs one approved step: under its timeout, through the read-only result cache, with its
    output screened for injection and shaped by :func:`to_observation`."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.registry = services.tools
        self.cache = ToolResultCache(services.settings.tool_cache_size)

    async def run(
        self, step: dict[str, Any], verdict: StepVerdict, context: Context, iteration: int
    ) -> dict[str, Any]:
        args = verdict.args
        result: dict[str, Any] = {
            "step_id": step["id"],
            "tool": step["tool"],
            "args": args,
            "iteration": iteration,
            "ok": False,
            "output": None,
            "error": None,
            "approval": verdict.approval,
        }
        if verdict.args != step.get("args"):
            result["planned_args"] = step.get("args")
        if step.get("grounding"):
            result["grounding"] = True  # read because the request names it (see the planner)
        if verdict.egress:
            result["egress"] = True  # what it brings back is untrusted (nodes/_approval)
        started = time.perf_counter()
        outcome = "error"
        timeout = context.tool_timeout
        try:
            tool = self.registry.get(step["tool"])
            metadata = tool.metadata or {}
            read_only = verdict.risk == "read" and metadata.get("risk", "read") == "read"
            generation = self.cache.generation
            key = await asyncio.to_thread(self.cache.key, tool, args) if read_only else None
            raw = self.cache.get(key)
            if raw is not None:
                outcome = "cached"
                result["cached"] = True
            else:
                timeout = max(
                    context.tool_timeout,
                    float(metadata.get("max_seconds") or 0)
                    + (_GRACE_SECONDS if metadata.get("max_seconds") else 0),
                )
                try:
                    output = await asyncio.wait_for(tool.ainvoke(args), timeout=timeout)
                finally:
                    if not read_only:
                        self.cache.invalidate()  # even a failed write may have changed something
                raw = output if isinstance(output, str) else str(output)
                self.cache.put(key, raw, generation)
                outcome = "ok"
            for_model = await self._screened(step, raw, context.tool_output_chars, result)
            observation = to_observation(step["tool"], for_model, context.tool_output_chars)
            result.update(ok=True, output=observation.text)
            if observation.truncated or observation.altered:
                result.update(full_output=raw, truncated=observation.truncated)
        except TimeoutError:
            result["error"] = f"timed out after {timeout:g} s"
            outcome = "timeout"
        except Exception as error:  # a tool failure is an observation, not a crash
            message = str(error) or type(error).__name__
            result["error"] = to_observation(step["tool"], message, context.tool_output_chars).text
        result["duration_ms"] = round((time.perf_counter() - started) * 1000, 2)
        TOOL_RUNS.labels(tool=step["tool"], outcome=outcome).inc()
        if outcome != "cached":
            TOOL_SECONDS.labels(tool=step["tool"]).observe(time.perf_counter() - started)
        return result

    async def _screened(
        self, step: dict[str, Any], raw: str, cap: int, result: dict[str, Any]
    ) -> str:
        """Tool output as the model may see it: scanned for indirect prompt injection (only the
        part the model would read, since scan time grows with length) and, when flagged,
        quarantined as quoted data with a warning. The verdict is audited either way."""
        source = f"{step['tool']} {step['id']}"
        security = self.services.security
        verdict = security.screen_tool_output(raw[: 4 * cap], source=source)
        await security.record("tool_output", verdict, ids=security.run_ids(), tool=step["tool"])
        if verdict.allowed:
            return raw
        result["quarantined"] = True
        return security.quarantine(raw, verdict, source=source)


def make_execute(services: Services) -> Callable[..., Awaitable[dict[str, Any]]]:
    gate = ApprovalGate(services.tools, services.settings.auto_approve, services.security)
    runner = StepRunner(services)

    async def execute(state: AssistantState, runtime: Runtime) -> dict[str, Any]:
        context = services.context_of(runtime.context)
        plan = state.get("plan") or {}
        iteration = state.get("iteration", 0)
        results = list(state.get("results") or [])
        layers = dependency_layers(list(plan.get("steps") or []))
        verdicts = await gate.gather(layers, results)  # may interrupt; nothing has run yet
        await gate.audit(layers, verdicts, services.security)
        failed: set[str] = set()
        for layer in layers:
            runnable = []
            for step in layer:
                blocked = [d for d in step.get("depends_on") or [] if d in failed]
                verdict = verdicts.get(step["id"])
                if blocked or verdict is None:
                    failed.add(step["id"])
                    results.append(_skipped(step, blocked, iteration))
                elif verdict.error is not None:
                    failed.add(step["id"])
                    results.append(_refused(step, verdict, iteration))
                    TOOL_RUNS.labels(tool=step["tool"], outcome=verdict.approval).inc()
                else:
                    runnable.append((step, verdict))
            outcomes = await asyncio.gather(
                *(runner.run(step, verdict, context, iteration) for step, verdict in runnable)
            )
            for outcome in outcomes:
                if not outcome["ok"]:
                    failed.add(outcome["step_id"])
                results.append(outcome)
        return {"results": results}

    execute.cache = runner.cache  # type: ignore[attr-defined]  # for tests and benchmarks
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
        "skipped": True,
        "duration_ms": 0.0,
    }


def _refused(step: dict[str, Any], verdict: StepVerdict, iteration: int) -> dict[str, Any]:
    return {
        "step_id": step["id"],
        "tool": step["tool"],
        "args": verdict.args,
        "iteration": iteration,
        "ok": False,
        "output": None,
        "error": verdict.error,
        "approval": verdict.approval,
        "refused": True,
        "duration_ms": 0.0,
    }
