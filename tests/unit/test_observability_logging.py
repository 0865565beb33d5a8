"""JSON log lines carry the request id, thread id and graph node they were written under."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from pythonjsonlogger.json import JsonFormatter
from typing_extensions import TypedDict

from lmsa.observability.logging import ContextFilter, configure_logging, log_context


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter("%(levelname)s %(name)s %(message)s"))
    logger = logging.getLogger("lmsa.test.logging")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_ids_come_from_the_context(captured: io.StringIO) -> None:
    log = logging.getLogger("lmsa.test.logging")
    log.info("outside")
    with log_context(request_id="req-1", thread_id="thread-1"):
        log.info("inside")
    log.info("explicit", extra={"thread_id": "given"})

    outside, inside, explicit = _lines(captured)
    assert outside["request_id"] is None and outside["thread_id"] is None
    assert inside["request_id"] == "req-1" and inside["thread_id"] == "thread-1"
    assert inside["node"] is None
    assert explicit["thread_id"] == "given"


async def test_a_node_logging_is_tagged_with_its_name_and_thread(captured: io.StringIO) -> None:
    class State(TypedDict):
        n: int

    async def counter(state: State) -> dict[str, int]:
        logging.getLogger("lmsa.test.logging").info("counting")
        return {"n": state["n"] + 1}

    builder = StateGraph(State)
    builder.add_node("counter", counter)
    builder.add_edge(START, "counter")
    builder.add_edge("counter", END)
    graph = builder.compile(checkpointer=InMemorySaver())

    with log_context(request_id="req-9"):
        await graph.ainvoke({"n": 1}, {"configurable": {"thread_id": "graph-thread"}})

    [line] = _lines(captured)
    assert line["node"] == "counter"
    assert line["thread_id"] == "graph-thread"
    assert line["request_id"] == "req-9"


def test_configure_logging_is_idempotent_and_writes_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger()
    saved_level, saved = root.level, list(root.handlers)
    try:
        configure_logging("INFO", "json")
        configure_logging("INFO", "json")
        ours = [h for h in root.handlers if getattr(h, "_lmsa", False)]
        assert len(ours) == 1
        logging.getLogger("lmsa.test.configure").info("hello", extra={"seconds": 0.5})
        line = capsys.readouterr().err.strip().splitlines()[-1]
        record = json.loads(line)
        assert record["message"] == "hello"
        assert record["level"] == "INFO"
        assert record["logger"] == "lmsa.test.configure"
        assert record["seconds"] == 0.5
        assert "ts" in record
    finally:
        for handler in list(root.handlers):
            if getattr(handler, "_lmsa", False):
                root.removeHandler(handler)
        for handler in saved:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(saved_level)
