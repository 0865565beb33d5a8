"""Structured logs: one JSON object per line, each carrying the request id, thread id and graph
node it was written under, so a log search for one conversation finds every line of it.

The ids travel in :mod:`contextvars` set by the interface (HTTP middleware, CLI); the node is
read from LangGraph's own run config when a record is written inside a node, so nodes log with
the plain :mod:`logging` API and never pass ids around. The JSON rendering is
python-json-logger's; only the context filter is ours.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.json import JsonFormatter

REQUEST_ID: ContextVar[str | None] = ContextVar("lmsa_request_id", default=None)
THREAD_ID: ContextVar[str | None] = ContextVar("lmsa_thread_id", default=None)
CALLER: ContextVar[str | None] = ContextVar("lmsa_caller", default=None)
"""The API caller's key digest (never the key) while a request with a valid key is served."""

TURN_LOGGER = "lmsa.turn"
ACCESS_LOGGER = "lmsa.access"

_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"
_TEXT = "%(asctime)s %(levelname)-7s %(name)s [req=%(request_id)s thread=%(thread_id)s] %(message)s"


def _graph_context() -> tuple[str | None, str | None]:
    """(node, thread_id) when called from inside a LangGraph node, else (None, None)."""
    try:
        from langgraph.config import get_config

        config = get_config()
    except (RuntimeError, ImportError):
        return None, None
    metadata = config.get("metadata") or {}
    configurable = config.get("configurable") or {}
    node = metadata.get("langgraph_node")
    thread = configurable.get("thread_id")
    return (str(node) if node else None), (str(thread) if thread else None)


class ContextFilter(logging.Filter):
    """Adds ``request_id``, ``thread_id``, ``caller`` and ``node`` to every record (None when
    unknown); values set explicitly through ``extra=`` win."""

    def filter(self, record: logging.LogRecord) -> bool:
        node, graph_thread = _graph_context()
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get()
        if getattr(record, "thread_id", None) is None:
            record.thread_id = THREAD_ID.get() or graph_thread
        if getattr(record, "caller", None) is None:
            record.caller = CALLER.get()
        if getattr(record, "node", None) is None:
            record.node = node
        if hasattr(record, "color_message"):  # uvicorn's ANSI-coloured duplicate of the message
            del record.color_message
        return True


def configure_logging(level: str = "INFO", fmt: str | None = "json") -> None:
    """Route every logger (lmsa's, uvicorn's, LangChain's) to one stderr handler. Idempotent:
    a second call replaces the handler instead of doubling every line. ``fmt=None`` picks text
    when stderr is a terminal and JSON otherwise."""
    if fmt is None:
        fmt = "text" if _is_terminal(sys.stderr) else "json"
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_lmsa", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._lmsa = True  # type: ignore[attr-defined]
    handler.addFilter(ContextFilter())
    if fmt == "json":
        handler.setFormatter(
            JsonFormatter(
                _FIELDS,
                rename_fields={"asctime": "ts", "levelname": "level", "name": "logger"},
                json_ensure_ascii=False,
            )
        )
    else:
        handler.setFormatter(logging.Formatter(_TEXT))
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uv = logging.getLogger(name)
        uv.handlers.clear()
        uv.propagate = True
    # Our access log line carries the request id; uvicorn's would repeat it without one.
    logging.getLogger("uvicorn.access").disabled = True
    for noisy in ("httpx", "httpcore", "openai"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # replaced or closed streams
        return False


@contextmanager
def log_context(*, request_id: str | None = None, thread_id: str | None = None) -> Iterator[None]:
    """Sets the ids for everything logged inside the block (and tasks started from it)."""
    tokens: list[tuple[ContextVar[str | None], Any]] = []
    if request_id is not None:
        tokens.append((REQUEST_ID, REQUEST_ID.set(request_id)))
    if thread_id is not None:
        tokens.append((THREAD_ID, THREAD_ID.set(thread_id)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)
