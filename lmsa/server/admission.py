"""Admission of turns into one API process: at most N run at once, the rest wait in line.

Why bound it: asyncio runs every ready task in turn, so 500 turns started together advance in
lockstep. Each step of every turn (request parsing, the guard, checkpoint reads) ran before any
of them reached the LLM, so the LLM's slots sat idle for the first seconds of a burst, and every
hand-over of a slot waited behind hundreds of unrelated steps. With a bound, the turns that run
have the event loop to themselves, the LLM queue stays full (the default is well above LM
Studio's parallel predictions), and a waiting request costs a place in line and nothing else.

A thin layer over ``asyncio.Semaphore`` (first come, first served): it adds the two gauges and a
deadline, after which the client gets a 503 with ``Retry-After`` instead of an open-ended wait.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from lmsa.observability.metrics import TURNS_ADMITTED, TURNS_WAITING


class TurnQueueTimeout(RuntimeError):
    """A turn waited longer than the deadline to be admitted."""

    def __init__(self, limit: int, waited: float) -> None:
        super().__init__(
            f"The assistant is busy: all {limit} turn slots of this instance stayed taken for "
            f"{waited:g} s. Try again shortly (or raise LMSA_SERVER_MAX_CONCURRENT_TURNS)."
        )
        self.retry_after = max(1, math.ceil(waited / 10))


class TurnGate:
    def __init__(self, limit: int, timeout: float) -> None:
        self.limit = limit
        self.timeout = timeout
        self._slots = asyncio.Semaphore(limit) if limit > 0 else None

    @asynccontextmanager
    async def admit(self) -> AsyncIterator[None]:
        slots = self._slots
        if slots is None:
            yield
            return
        if slots.locked():
            TURNS_WAITING.inc()
            try:
                async with asyncio.timeout(self.timeout):
                    await slots.acquire()
            except TimeoutError:
                raise TurnQueueTimeout(self.limit, self.timeout) from None
            finally:
                TURNS_WAITING.dec()
        else:
            await slots.acquire()
        TURNS_ADMITTED.inc()
        try:
            yield
        finally:
            TURNS_ADMITTED.dec()
            slots.release()
