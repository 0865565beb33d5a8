"""The embedded model as the router's last endpoint: never started while a configured endpoint
serves, started once (with one notice) when the walk reaches it, always last in the order, and
not retried on every call after it failed to load. The model server is replaced by a stand-in
that records starts; no socket is opened."""

from __future__ import annotations

import contextlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from lmsa.config import EndpointSettings, Settings
from lmsa.llm.complexity import MAIN
from lmsa.llm.core import RouterCore
from lmsa.llm.embedded import NAME, EmbeddedFallback, fallback_available
from lmsa.llm.endpoints import build_endpoints
from lmsa.llm.errors import Attempt, ErrorKind
from lmsa.llm.request import Request


class StandIn(EmbeddedFallback):
    def __init__(self, settings: Settings, *, fails: bool = False) -> None:
        self.notices: list[str] = []
        super().__init__(settings, self.notices.append)
        self.starts = 0
        self.fails = fails

    def _start(self) -> Any:
        self.starts += 1
        if self.fails:
            raise RuntimeError("no model file")
        return SimpleNamespace(
            base_url="http://embedded.test/v1", model_id="tiny-model", stop=lambda: None
        )


def _setup(tmp_path: Path, *, fails: bool = False) -> tuple[RouterCore, StandIn]:
    settings = Settings(
        workspace=tmp_path,
        endpoints=[
            EndpointSettings(base_url="http://a/v1", model="m", name="a"),
            EndpointSettings(base_url="http://b/v1", model="m", name="b"),
        ],
        routing_strategy="latency",
        local_fallback="auto",
    )
    embedded = StandIn(settings, fails=fails)
    return RouterCore(settings, build_endpoints(settings), embedded), embedded


def _request() -> Request:
    return Request(
        messages=[HumanMessage(content="hi")],
        stop=None,
        params={},
        role=MAIN,
        priority=0,
        conversation="t",
        tokens=10,
        cache_key=None,
        buffered=False,
    )


async def _walk(core: RouterCore, failing: set[str]) -> tuple[list[str], list[Attempt]]:
    """The endpoints a call tries when those named in ``failing`` fail (as callers record it)."""
    tried: list[str] = []
    failures: list[Attempt] = []
    async with contextlib.aclosing(core.plan(_request(), failures)) as walk:
        async for endpoint, _ in walk:
            tried.append(endpoint.name)
            if endpoint.name not in failing:
                break
            failures.append(
                Attempt(endpoint.name, endpoint.base_url, ErrorKind.CONNECTION, "refused")
            )
    return tried, failures


async def test_the_embedded_model_is_last_and_started_only_when_every_endpoint_failed(
    tmp_path: Path,
) -> None:
    core, embedded = _setup(tmp_path)
    core.endpoints[0].latency_ewma = 9.0  # the strategy puts b first; embedded stays last
    assert [e.name for e in core.order(MAIN)] == ["b", "a", NAME]

    assert (await _walk(core, failing={"b"}))[0] == ["b", "a"]
    assert embedded.starts == 0 and not embedded.notices

    tried, _ = await _walk(core, failing={"a", "b"})
    assert tried == ["b", "a", NAME]
    assert embedded.starts == 1
    assert embedded.endpoint.base_url == "http://embedded.test/v1"
    assert embedded.endpoint.resolved_model == "tiny-model"
    assert embedded.endpoint in core.health.endpoints  # the health loop watches it from now on
    (notice,) = embedded.notices
    assert "http://a/v1" in notice and "http://b/v1" in notice
    assert "LMSA_LOCAL_FALLBACK=off" in notice

    assert (await _walk(core, failing={"a", "b"}))[0] == ["b", "a", NAME]
    assert embedded.starts == 1 and len(embedded.notices) == 1  # started and announced once
    assert (await _walk(core, failing=set()))[0] == ["b"]  # a configured endpoint is back
    await core.aclose()


async def test_a_model_that_cannot_load_fails_the_call_once_and_is_not_reloaded(
    tmp_path: Path,
) -> None:
    core, embedded = _setup(tmp_path, fails=True)
    tried, failures = await _walk(core, failing={"a", "b"})
    assert tried == ["a", "b"]
    assert [f.endpoint for f in failures] == ["a", "b", NAME]
    assert "could not start" in failures[-1].message
    await _walk(core, failing={"a", "b"})
    assert embedded.starts == 1 and not embedded.notices
    await core.aclose()


async def test_no_endpoint_answering_at_start_up_starts_the_embedded_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(workspace=tmp_path, base_url="http://127.0.0.1:9/v1", local_fallback="auto")
    embedded = StandIn(settings)
    core = RouterCore(settings, build_endpoints(settings), embedded)

    async def unreachable(*_: Any) -> Any:
        from lmsa.llm.endpoints import EndpointProbe

        return EndpointProbe("http://127.0.0.1:9/v1", reachable=False, error="refused")

    monkeypatch.setattr("lmsa.llm.core.probe_endpoint", unreachable)
    await core.resolve()
    assert embedded.starts == 1
    assert core.primary() is embedded.endpoint
    assert embedded.notices[0].startswith("No LLM server answered at http://127.0.0.1:9/v1")
    await core.aclose()


def test_the_fallback_is_off_unless_asked_for(tmp_path: Path) -> None:
    assert not fallback_available(Settings(workspace=tmp_path))
    assert not fallback_available(Settings(workspace=tmp_path, local_fallback="off"))


async def test_a_caller_cancelled_while_the_model_loads_leaves_one_server(tmp_path: Path) -> None:
    import asyncio
    import threading

    core, embedded = _setup(tmp_path)
    loading = threading.Event()
    loaded = threading.Event()
    original = embedded._start

    def slow_start() -> Any:
        loading.set()
        loaded.wait(10)
        return original()

    embedded._start = slow_start  # type: ignore[method-assign]
    first = asyncio.ensure_future(embedded.ensure_started("down"))
    await asyncio.to_thread(loading.wait, 10)
    first.cancel()  # the client hung up while the model loads
    loaded.set()
    assert await embedded.ensure_started("still down")
    assert embedded.starts == 1 and embedded.started
    assert len(embedded.notices) == 1
    await core.aclose()
    assert not embedded.started


async def test_resolving_uses_the_probe_the_cli_just_made_instead_of_asking_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lmsa.llm.endpoints import EndpointProbe

    url = "http://127.0.0.1:9/v1"
    settings = Settings(workspace=tmp_path, base_url=url, local_fallback="off")
    core = RouterCore(settings, build_endpoints(settings))
    asked: list[str] = []

    async def probe(base_url: str, *_: Any) -> EndpointProbe:
        asked.append(base_url)
        return EndpointProbe(base_url, reachable=True, models=["other"], loaded=["other"])

    monkeypatch.setattr("lmsa.llm.core.probe_endpoint", probe)
    seen = EndpointProbe(url, reachable=True, models=["a", "b"], loaded=["b"])
    seen.context_lengths = {"b": 4096}
    core.adopt(seen, settings.api_key)
    await core.resolve()
    assert asked == []
    assert (core.primary().resolved_model, core.primary().context_window) == ("b", 4096)
    await core.aclose()


async def test_a_probe_made_with_another_key_is_not_taken_for_the_endpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lmsa.llm.endpoints import EndpointProbe

    url = "http://127.0.0.1:9/v1"
    settings = Settings(workspace=tmp_path, base_url=url, local_fallback="off")
    core = RouterCore(settings, build_endpoints(settings))

    async def probe(base_url: str, *_: Any) -> EndpointProbe:
        return EndpointProbe(base_url, reachable=True, models=["other"], loaded=["other"])

    monkeypatch.setattr("lmsa.llm.core.probe_endpoint", probe)
    core.adopt(EndpointProbe(url, reachable=True, loaded=["b"]), "another-key")
    await core.resolve()
    assert core.primary().resolved_model == "other"
    await core.aclose()
