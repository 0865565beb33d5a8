"""Audit trail: every guard verdict, approval decision, refused tool call and rate-limit hit as
one JSON object per line, in a file and (when configured) a Redis stream.

Records carry ids, categories, scores and reasons, never the guarded text or secret values:
:func:`scrub` runs the secret detector over every string field before anything is written, so a
reason that quotes user text cannot smuggle a credential into the log. Writing never fails a
turn: a failed write is logged as a warning.

Records are written behind the caller's back by one writer thread per log: ``record`` returns
as soon as the line is queued. Turns run on an event loop, where a file append or a Redis round
trip is blocking I/O (``langgraph dev`` fails such calls outright), and awaiting a worker thread
per verdict would cost each request a GIL hand-over. The order of records is kept; :meth:`flush`
waits for everything queued so far (tests, shutdown), and an exiting process flushes its logs.
"""

from __future__ import annotations

import atexit
import json
import logging
import queue
import sys
import threading
import time
import weakref
from logging.handlers import WatchedFileHandler
from pathlib import Path
from typing import Any

from lmsa.redis_clients import sync_client
from lmsa.security.secret_scan import find_secrets, redact_values

log = logging.getLogger(__name__)


def scrub(value: Any) -> Any:
    if isinstance(value, str):
        found = find_secrets(value)
        return redact_values(value, found) if found else value
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


class _AuditFile(WatchedFileHandler):
    """The audit file, kept open between records (opening it per record costs more than the rest
    of a guard verdict) and reopened when logrotate moves it away."""

    def handleError(self, record: logging.LogRecord) -> None:
        log.warning("audit log write failed: %s", sys.exc_info()[1])


class _Sinks:
    """Where records go; owned by the writer thread, so a dropped :class:`AuditLog` lets its
    thread finish instead of keeping it alive."""

    def __init__(self, path: Path | None, stream: str | None, redis_url: str | None, maxlen: int):
        self.path = path
        self.stream = stream
        self._redis_url = redis_url
        self._redis: Any = None
        self._maxlen = maxlen
        self._file: _AuditFile | None = None
        self._stream_paused_until = 0.0

    def write(self, line: str) -> None:
        if self.path is not None:
            self._write_file(self.path, line)
        if self.stream and time.monotonic() >= self._stream_paused_until:
            try:
                self._client().xadd(
                    self.stream, {"entry": line}, maxlen=self._maxlen, approximate=True
                )
            except Exception as error:  # Redis down must not fail the turn
                # Each attempt can take a second; retrying every record would leave the file
                # (and the queue's memory) ever further behind.
                self._stream_paused_until = time.monotonic() + STREAM_RETRY_SECONDS
                log.warning(
                    "audit stream write failed (%s); records go to the file only for %g s",
                    error,
                    STREAM_RETRY_SECONDS,
                )

    def _write_file(self, path: Path, line: str) -> None:
        if self._file is None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                log.warning("audit log write failed: %s", error)
                return
            self._file = _AuditFile(path, encoding="utf-8", delay=True)
            self._file.setFormatter(logging.Formatter("%(message)s"))
        self._file.handle(logging.makeLogRecord({"msg": line, "levelno": logging.INFO}))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _client(self) -> Any:
        if self._redis is None:
            self._redis = sync_client(
                self._redis_url or "", socket_timeout=1.0, socket_connect_timeout=1.0
            )
        return self._redis


STREAM_RETRY_SECONDS = 30.0
_STOP = object()
_Item = str | threading.Event | object


def _write_queued(items: queue.SimpleQueue[_Item], sinks: _Sinks) -> None:
    while True:
        item = items.get()
        if item is _STOP:
            sinks.close()
            return
        if isinstance(item, threading.Event):
            item.set()
        elif isinstance(item, str):
            sinks.write(item)


class AuditLog:
    def __init__(
        self,
        path: Path | None = None,
        *,
        redis_url: str | None = None,
        stream: str | None = None,
        maxlen: int = 100_000,
    ) -> None:
        self.path = path
        self.stream = stream if redis_url else None
        self._sinks = _Sinks(path, self.stream, redis_url, maxlen)
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._start_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Any) -> AuditLog:
        path = getattr(settings, "audit_log", None)
        if path is None and getattr(settings, "data_dir", None) is not None:
            path = Path(settings.data_dir) / "audit.jsonl"
        stream = getattr(settings, "audit_redis_stream", None)
        return cls(path, redis_url=settings.redis_url if stream else None, stream=stream)

    def record(
        self,
        event: str,
        *,
        thread_id: str | None = None,
        request_id: str | None = None,
        caller: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Queues the record for writing and returns it (see the module docstring). ``caller``
        is the API key's digest when an HTTP request with a key caused the record."""
        entry = {
            "ts": round(time.time(), 3),
            "event": event,
            "thread_id": thread_id,
            "request_id": request_id,
            "caller": caller,
            **scrub(fields),
        }
        line = json.dumps(entry, ensure_ascii=False, default=str)
        if self.path is not None or self.stream:
            if self._writer is None:
                self._start_writer()
            self._queue.put(line)
        return entry

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every record queued so far is written; False if that took too long."""
        if self._writer is None:
            return True
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def close(self) -> None:
        """Write what is queued and stop the writer (a later record starts a new one)."""
        with self._start_lock:
            writer, self._writer = self._writer, None
            if writer is not None:
                self._queue.put(_STOP)
                writer.join(timeout=10.0)

    def _start_writer(self) -> None:
        with self._start_lock:
            if self._writer is not None:
                return
            writer = threading.Thread(
                target=_write_queued,
                args=(self._queue, self._sinks),
                name="lmsa-audit",
                daemon=True,
            )
            writer.start()
            self._writer = writer
            # Dropped without close(): the thread stops once it has written what was queued.
            weakref.finalize(self, self._queue.put, _STOP).atexit = False
            _LIVE_LOGS.add(self)


_LIVE_LOGS: weakref.WeakSet[AuditLog] = weakref.WeakSet()


@atexit.register
def flush_all(timeout: float = 2.0) -> None:
    """Write out every live log's queue (at exit; tests that read the files)."""
    for audit in list(_LIVE_LOGS):
        audit.flush(timeout=timeout)
