"""Audit trail: every guard verdict, approval decision, refused tool call and rate-limit hit as
one JSON object per line, in a file and (when configured) a Redis stream.

Records carry ids, categories, scores and reasons, never the guarded text or secret values:
:func:`scrub` runs the secret detector over every string field before anything is written, so a
reason that quotes user text cannot smuggle a credential into the log. Writing never fails a
turn: a failed write is logged as a warning.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from logging.handlers import WatchedFileHandler
from pathlib import Path
from typing import Any

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
    """The audit file, kept open between records (opening it per record cost more than the rest
    of a guard verdict) and reopened when logrotate moves it away."""

    def handleError(self, record: logging.LogRecord) -> None:
        log.warning("audit log write failed: %s", sys.exc_info()[1])


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
        self._redis_url = redis_url
        self._redis: Any = None
        self._maxlen = maxlen
        self._lock = threading.Lock()
        self._file: _AuditFile | None = None

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
        **fields: Any,
    ) -> dict[str, Any]:
        entry = {
            "ts": round(time.time(), 3),
            "event": event,
            "thread_id": thread_id,
            "request_id": request_id,
            **scrub(fields),
        }
        line = json.dumps(entry, ensure_ascii=False, default=str)
        if self.path is not None:
            self._write_file(line)
        if self.stream:
            try:
                self._client().xadd(
                    self.stream, {"entry": line}, maxlen=self._maxlen, approximate=True
                )
            except Exception as error:  # Redis down must not fail the turn
                log.warning("audit stream write failed: %s", error)
        return entry

    def _write_file(self, line: str) -> None:
        assert self.path is not None
        with self._lock:
            if self._file is None:
                try:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as error:
                    log.warning("audit log write failed: %s", error)
                    return
                self._file = _AuditFile(self.path, encoding="utf-8", delay=True)
                self._file.setFormatter(logging.Formatter("%(message)s"))
        self._file.handle(logging.makeLogRecord({"msg": line, "levelno": logging.INFO}))

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def _client(self) -> Any:
        if self._redis is None:
            import redis

            self._redis = redis.Redis.from_url(
                self._redis_url or "", socket_timeout=1.0, socket_connect_timeout=1.0
            )
        return self._redis
