"""What a turn is doing, shown in a terminal while it runs.

A turn on a small model on a laptop CPU takes from seconds to minutes; without this the user
sees nothing between their message and the answer and cannot tell planning from a hang. The
status line (step, elapsed seconds) is redrawn in place with ``\\r`` on stderr, only when stderr
is a terminal: piped output stays exactly the answer. Each finished tool step is left as one
short line; its full output is kept for ``/details`` (or printed at once with ``--verbose``).
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

if TYPE_CHECKING:
    from lmsa.turns import TurnEvent

# The node a turn is in, as the user would name the step.
STEPS = {
    "guard": "understanding",
    "classify_intent": "understanding",
    "clarify": "asking",
    "plan": "planning",
    "execute": "running tools",
    "validate": "checking",
    "respond": "answering",
}
T = TypeVar("T")
TICK_SECONDS = 0.25
ARG_CHARS = 40
ERROR_CHARS = 80


def summarize_args(args: Any) -> str:
    """A tool call's arguments in a few words: the first argument's value (the path, URL,
    query or command; the rest are mostly defaults the planner filled in)."""
    if isinstance(args, dict):
        first = next(iter(args.values()), "")
        text = first if isinstance(first, str) else json.dumps(first, ensure_ascii=False)
    else:
        text = str(args)
    text = " ".join(text.split())
    return text if len(text) <= ARG_CHARS else text[: ARG_CHARS - 3] + "..."


def tool_line(step: dict[str, Any]) -> str:
    """One finished tool step: tool, argument summary, ok/error, seconds."""
    head = f"{step['tool']} {summarize_args(step.get('args'))}".rstrip()
    if step.get("ok"):
        outcome = "ok"
    else:
        error = " ".join(str(step.get("error") or "failed").split())
        outcome = "error: " + (error if len(error) <= ERROR_CHARS else error[:ERROR_CHARS] + "...")
    return f"  - {head}: {outcome} ({step.get('seconds', 0.0):.2f} s)"


def details_text(steps: list[dict[str, Any]]) -> str:
    """The tool steps of the last turn with their full output, for ``/details``."""
    if not steps:
        return "no tool steps in the last turn"
    blocks = []
    for step in steps:
        body = step.get("output") if step.get("ok") else step.get("error")
        blocks.append(f"{tool_line(step).strip()}\n{body if body is not None else ''}".rstrip())
    return "\n\n".join(blocks)


class TurnProgress:
    """Renders a turn's events on ``stream`` (a terminal) while the turn runs.

    ``live`` False draws no status line (not a terminal) but still records the tool steps for
    ``/details``. ``before_answer`` is called once, just before the first answer token, so the
    caller can print its ``assistant>`` prefix on a clean line. ``answer_shown`` False (the
    answer is printed only at the end, as by ``lmsa ask``) keeps the line up while the answer
    is written, with its tokens/s."""

    def __init__(
        self, stream: TextIO, *, live: bool, verbose: bool = False, answer_shown: bool = True
    ) -> None:
        self.stream = stream
        self.live = live
        self.answer_shown = answer_shown
        self.verbose = verbose
        self.steps: list[dict[str, Any]] = []
        self.step = "starting"
        self.started = time.monotonic()
        self.answer_started: float | None = None
        self.tokens = 0
        self._shown = False
        self._ticker: asyncio.Task[None] | None = None

    async def __aenter__(self) -> TurnProgress:
        self.started = time.monotonic()
        if self.live:
            self._draw()
            self._ticker = asyncio.create_task(self._tick())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._stop()

    def _stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        self._clear()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            self._draw()

    def _draw(self) -> None:
        if not self.live or (self.answer_shown and self.answer_started is not None):
            return
        now = time.monotonic()
        pace = ""
        if self.answer_started is not None:
            pace = f", {self.tokens / max(now - self.answer_started, 1e-6):.1f} tokens/s"
        self.stream.write(f"\r\x1b[K... {self.step} ({now - self.started:.1f} s{pace})")
        self.stream.flush()
        self._shown = True

    def _clear(self) -> None:
        if self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = False

    def on_event(self, event: TurnEvent) -> None:
        if event.kind == "start":
            node = str(event.data.get("node"))
            if node in STEPS:
                self.step = STEPS[node]
                planned = event.data.get("steps") or []
                if node == "execute" and planned:
                    self.step = "running " + ", ".join(
                        f"{s['tool']} {summarize_args(s.get('args'))}".rstrip() for s in planned
                    )
                self._draw()
        elif event.kind == "tool":
            self.steps.append(event.data)
            if self.live or self.verbose:
                self._clear()
                self.stream.write(tool_line(event.data) + "\n")
                if self.verbose:
                    body = event.data.get("output") if event.data.get("ok") else None
                    if body:
                        self.stream.write(str(body).rstrip() + "\n")
                self.stream.flush()
                self._draw()
        elif event.kind == "token":
            self.tokens += 1
            if self.answer_started is None:
                self.answer_started = time.monotonic()
                if self.answer_shown:
                    self._stop()

    def summary(self) -> str | None:
        """The answer's pace, once it has streamed: tokens, tokens/s, the turn's seconds."""
        if self.answer_started is None:
            return None
        now = time.monotonic()
        writing = max(now - self.answer_started, 1e-6)
        return (
            f"({self.tokens} tokens, {self.tokens / writing:.1f} tokens/s, "
            f"{now - self.started:.1f} s in all)"
        )


class Cancelled:
    """A turn the user stopped with Ctrl-C; ``leave`` when they pressed it again meanwhile."""

    def __init__(self, presses: int) -> None:
        self.leave = presses > 1


async def cancellable(turn: Coroutine[Any, Any, T]) -> T | Cancelled:
    """Runs ``turn`` so that Ctrl-C cancels it rather than the program.

    Under ``asyncio.run`` Ctrl-C cancels the main task, which would end the chat; here it
    cancels only the turn. What the turn completed is already checkpointed, so the thread
    stays at its last finished step and the next message continues it."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(turn)
    presses = 0

    def on_interrupt() -> None:
        nonlocal presses
        presses += 1
        task.cancel()

    previous = signal.getsignal(signal.SIGINT)
    try:
        loop.add_signal_handler(signal.SIGINT, on_interrupt)
        installed = True
    except (ValueError, RuntimeError, NotImplementedError):  # not the main thread
        installed = False
    try:
        return await task
    except asyncio.CancelledError:
        if presses == 0:
            raise
        return Cancelled(presses)
    finally:
        if installed:
            loop.remove_signal_handler(signal.SIGINT)
            signal.signal(signal.SIGINT, previous)


async def chat_turn(session: Any, text: str, *, verbose: bool = False) -> Any:
    """One chat turn in a terminal: the live status and tool lines on stderr (when it is a
    terminal), the streamed answer or the pending question on stdout; Ctrl-C stops the turn.
    Returns the session's ``TurnOutcome``, or :class:`Cancelled`."""
    from lmsa.cli.session import describe_question

    live = sys.stderr.isatty()
    out = sys.stdout
    prefixed = False

    def prefix() -> None:
        nonlocal prefixed
        if not prefixed:
            prefixed = True
            out.write("assistant> ")
            out.flush()

    if not live:
        prefix()  # a pipe or a file reads as before: the prefix, then the answer
    progress = TurnProgress(sys.stderr, live=live, verbose=verbose)

    def on_event(event: TurnEvent) -> None:
        progress.on_event(event)
        if event.kind == "token":
            prefix()
            out.write(event.data["text"])
            out.flush()

    async with progress:
        outcome = await cancellable(session.send(text, on_event=on_event))
    session.last_steps = progress.steps
    if isinstance(outcome, Cancelled):
        if prefixed:
            out.write("\n")
        out.write("(turn stopped; the thread keeps what was done before it)\n")
        out.flush()
        return outcome
    prefix()
    if outcome.notice:
        out.write(f"{outcome.notice}\n")
    if outcome.question:
        if outcome.streamed:
            out.write("\n")
        out.write(f"{describe_question(outcome.question)}\n")
    elif outcome.streamed:
        out.write("\n")
    else:
        out.write(f"{outcome.answer or ''}\n")
    out.flush()
    summary = progress.summary()
    if live and summary:
        sys.stderr.write(summary + "\n")
        sys.stderr.flush()
    return outcome
