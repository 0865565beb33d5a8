"""ASGI middleware: request ids, HTTP metrics, the access log line, and the body size limit.

Written as plain ASGI callables rather than Starlette's ``BaseHTTPMiddleware``, which buffers
and re-wraps streaming responses (SSE here) and costs a task per request.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lmsa.observability.logging import ACCESS_LOGGER, REQUEST_ID, THREAD_ID
from lmsa.observability.metrics import HTTP_LATENCY, HTTP_REQUESTS
from lmsa.server.errors import error_payload

log = logging.getLogger(ACCESS_LOGGER)

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_UNTIMED = {"/metrics", "/health"}
_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class RequestContextMiddleware:
    """Gives each request an id (``X-Request-Id`` in, or a new one; echoed back), records
    ``lmsa_http_*`` metrics labelled by route template, and writes one access log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        request_id = incoming if incoming and _SAFE_ID.match(incoming) else uuid.uuid4().hex
        thread = _header(scope, b"x-thread-id")
        token = REQUEST_ID.set(request_id)
        thread_token = THREAD_ID.set(thread if thread and _SAFE_ID.match(thread) else None)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "GET")
            method = method if method in _METHODS else "OTHER"  # bounded label values
            HTTP_REQUESTS.labels(method=method, route=template, status=str(status)).inc()
            if template not in _UNTIMED:
                HTTP_LATENCY.labels(method=method, route=template).observe(seconds)
                log.info(
                    "%s %s %s",
                    method,
                    scope.get("path"),
                    status,
                    extra={
                        "event": "http",
                        "method": method,
                        "route": template,
                        "status": status,
                        "seconds": round(seconds, 4),
                    },
                )
            THREAD_ID.reset(thread_token)
            REQUEST_ID.reset(token)


class BodyLimitMiddleware:
    """Refuses bodies over ``max_bytes`` with 413 before any handler parses them, whether the
    client sent a Content-Length or streamed the body chunked. The body is read here (it is
    small by construction) and replayed to the app."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            error_payload(
                f"The request body is larger than {self.max_bytes} bytes (LMSA_MAX_BODY_BYTES).",
                code="body_too_large",
            )
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def client_address(scope: Scope) -> str:
    """The peer address; uvicorn's ``--proxy-headers`` already replaced it with the
    ``X-Forwarded-For`` client when the peer is a trusted proxy (``FORWARDED_ALLOW_IPS``)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"
