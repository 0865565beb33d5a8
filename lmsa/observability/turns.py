"""Per-turn and per-node timings, taken from the graph's own ``tasks`` stream, so nodes stay free
of instrumentation and every interface that streams a turn records the same metrics.

An interface streams with ``stream_mode=[..., "tasks"]`` and hands each ``tasks`` chunk to
:meth:`TurnTimer.on_task`; LangGraph emits one chunk when a node starts and one when it ends
(with its error or interrupts), which is exactly a node's wall time. :meth:`TurnTimer.finish`
records the turn's outcome and duration and writes the one log line per turn.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal

from lmsa.observability.logging import TURN_LOGGER
from lmsa.observability.metrics import GRAPH_TURN_SECONDS, GRAPH_TURNS, NODE_SECONDS

Outcome = Literal["completed", "interrupted", "error", "cancelled"]

log = logging.getLogger(TURN_LOGGER)


@dataclass
class TurnTimer:
    thread_id: str
    kind: str = "message"  # "message" (a new user message) or "resume" (answer to an interrupt)
    started: float = field(default_factory=time.perf_counter)
    nodes: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    path: list[str] = field(default_factory=list)
    _open: dict[str, tuple[str, float]] = field(default_factory=dict)
    finished: bool = False

    def on_task(self, chunk: Any) -> None:
        if not isinstance(chunk, dict) or "id" not in chunk or "name" not in chunk:
            return
        task_id, name = str(chunk["id"]), str(chunk["name"])
        now = time.perf_counter()
        if "input" in chunk:  # a node starts
            self._open[task_id] = (name, now)
            self.path.append(name)
            return
        started = self._open.pop(task_id, None)
        if started is not None:
            seconds = now - started[1]
            self.nodes[name] += seconds
            NODE_SECONDS.labels(node=name).observe(seconds)

    def finish(
        self, outcome: Outcome, *, intent: str | None = None, error: str | None = None
    ) -> float:
        """Records the turn once (later calls are ignored) and returns its wall time."""
        seconds = time.perf_counter() - self.started
        if self.finished:
            return seconds
        self.finished = True
        GRAPH_TURNS.labels(outcome=outcome).inc()
        GRAPH_TURN_SECONDS.observe(seconds)
        log.info(
            "turn %s",
            outcome,
            extra={
                "thread_id": self.thread_id,
                "event": "turn",
                "kind": self.kind,
                "outcome": outcome,
                "intent": intent,
                "seconds": round(seconds, 4),
                "nodes": {name: round(value, 4) for name, value in self.nodes.items()},
                "path": self.path,
                "error": error,
            },
        )
        return seconds
