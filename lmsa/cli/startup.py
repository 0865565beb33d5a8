"""Before the first turn: failing fast when the LLM server is not there, and loading the graph
stack without the garbage collector (:func:`collector_paused`).

Building the assistant imports LangGraph, LangChain and the OpenAI client, over a second of a
laptop's CPU; a user whose LM Studio is not running should not wait that long for the sentence
saying so. When the answer cannot depend on anything else (one endpoint, no fallbacks, the
embedded fallback off), a refused connection to ``/models`` is reported at once; every other
outcome goes on to the full check, which words each case. The probe is handed on
(:meth:`~lmsa.llm.core.RouterCore.adopt`), so the full check does not ask the server again."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lmsa.config import Settings
    from lmsa.llm.endpoints import EndpointProbe


async def probe_the_only_server(settings: Settings) -> EndpointProbe | None:
    """What the one LLM server said about itself; ``None`` when more than one could answer."""
    if settings.local_fallback != "off" or settings.endpoints or settings.fallbacks:
        return None
    from lmsa.llm.endpoints import probe_endpoint

    return await probe_endpoint(
        settings.base_url, settings.api_key, timeout=settings.connect_timeout
    )


def refusal(probe: EndpointProbe) -> str | None:
    """The error sentence when the server refused the connection, else ``None``."""
    if probe.reachable or probe.error != "connection refused":
        return None
    from lmsa.llm.errors import not_reachable_message

    return not_reachable_message(probe.base_url, probe.error)


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while the graph stack loads, and what it loaded frozen.

    Used around the probe and the imports it and the graph need, and again around building
    the graph (the security layer compiles its patterns then). The imports create some
    250,000 objects that live as long as the process (modules, classes, pydantic schemas);
    with CPython's thresholds the collector walks them again at every full collection, about
    0.2 s of CPU before the first request. ``gc.freeze()`` then
    keeps them out of every later collection, as ``lmsa serve`` does (``tune_gc``). The price:
    the little cyclic garbage the imports leave (about 1,700 objects, 1.5 MiB) is never freed;
    collecting it first would cost the full collection this avoids."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
