"""ASGI middleware: request ids, HTTP metrics, the access log line, security headers, the Host
check of a keyless server, and the body size limit and read deadline.

Written as plain ASGI callables rather than Starlette's ``BaseHTTPMiddleware``, which buffers
and re-wraps streaming responses (SSE here) and costs a task per request.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import Sequence
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lmsa.observability.logging import ACCESS_LOGGER, CALLER, REQUEST_ID, THREAD_ID
from lmsa.observability.metrics import HTTP_LATENCY, HTTP_REQUESTS
from lmsa.server.errors import error_payload

log = logging.getLogger(ACCESS_LOGGER)

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_UNTIMED = {"/metrics", "/health"}
_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}
_LOOPBACK = {"localhost", "127.0.0.1", "[::1]"}
# Reached by address, not name, by the deployment's own probes and by Prometheus (which finds
# replicas through DNS and scrapes them by IP): the Host check would refuse them all.
_PROBES = {"/health", "/ready", "/metrics"}
# The offline /docs and /redoc pages load their scripts and styles from /docs/assets and start
# them with an inline script; Swagger UI draws icons from data: URIs and ReDoc runs a blob:
# worker. Nothing may be framed, or loaded from another origin.
_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", _CSP.encode()),
]


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
        caller_token = CALLER.set(None)
        started = time.perf_counter()
        status = 500
        recorded = False

        def record() -> None:
            nonlocal recorded
            recorded = True
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
                        # Set by the authenticator on the request's state: the key's digest.
                        "caller": (scope.get("state") or {}).get("identity"),
                    },
                )

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                headers.extend(SECURITY_HEADERS)
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                # Counted and logged before the last byte leaves, so a client that has its
                # response finds the request in /metrics and in the log.
                record()
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if not recorded:
                record()
            CALLER.reset(caller_token)
            THREAD_ID.reset(thread_token)
            REQUEST_ID.reset(token)


class BodyLimitMiddleware:
    """Refuses bodies over ``max_bytes`` with 413 before any handler parses them, whether the
    client sent a Content-Length or streamed the body chunked. The body is read here (it is
    small by construction) and replayed to the app."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout: float = 30.0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout

    async def _refuse(self, send: Send) -> None:
        await send_error(
            send,
            413,
            f"The request body is larger than {self.max_bytes} bytes (LMSA_MAX_BODY_BYTES).",
            "body_too_large",
        )

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
        # One deadline for the whole body: a client trickling bytes must not hold a worker.
        deadline = asyncio.get_running_loop().time() + self.timeout
        while True:
            try:
                remaining = deadline - asyncio.get_running_loop().time()
                message = await asyncio.wait_for(receive(), max(remaining, 0))
            except TimeoutError:
                await send_error(
                    send,
                    408,
                    f"The request body did not arrive within {self.timeout:g} s "
                    "(LMSA_BODY_TIMEOUT).",
                    "body_timeout",
                )
                return
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


async def send_error(send: Send, status: int, message: str, code: str) -> None:
    """An error answer in the API's JSON shape, closing the connection."""
    body = json.dumps(error_payload(message, code=code)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class HostGuardMiddleware:
    """Without API keys, serves only loopback ``Host`` headers (plus ``allowed_hosts``) and
    refuses a cross-origin browser ``Origin`` unless ``allowed_origins`` lists it: a page on
    another site, or a name rebound to 127.0.0.1 (DNS rebinding), could otherwise drive the open
    API from a user's browser.
    ``allowed_hosts=None`` (keys are set) turns the check off; ``"*"`` allows every host.
    Liveness and readiness stay open to orchestrators' probes, which name the pod's address."""

    def __init__(
        self,
        app: ASGIApp,
        allowed_hosts: list[str] | None,
        allowed_origins: Sequence[str] = (),
    ) -> None:
        self.app = app
        self.origins = {origin.lower().rstrip("/") for origin in allowed_origins}
        self.hosts = None if allowed_hosts is None or "*" in allowed_hosts else set(_LOOPBACK)
        if self.hosts is not None and allowed_hosts:
            self.hosts |= {host.lower() for host in allowed_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.hosts is None or scope["path"] in _PROBES:
            await self.app(scope, receive, send)
            return
        host = (_header(scope, b"host") or "").lower()
        if _host_name(host) not in self.hosts:
            await send_error(
                send,
                403,
                "This server without API keys answers only loopback Host names; "
                "list others in LMSA_ALLOWED_HOSTS.",
                "host_not_allowed",
            )
            return
        origin = _header(scope, b"origin")
        if (
            origin is not None
            and urlsplit(origin).netloc.lower() != host
            and origin.lower().rstrip("/") not in self.origins
        ):
            await send_error(
                send,
                403,
                "Cross-origin browser requests are refused by a server without API keys.",
                "origin_not_allowed",
            )
            return
        await self.app(scope, receive, send)


def _host_name(host: str) -> str:
    """``host`` without its port: ``[::1]:8000`` -> ``[::1]``, ``localhost:80`` -> ``localhost``."""
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0] if ":" in host else host


def client_address(scope: Scope) -> str:
    """The peer address; uvicorn's ``--proxy-headers`` already replaced it with the
    ``X-Forwarded-For`` client when the peer is a trusted proxy (``LMSA_TRUSTED_PROXIES``)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"
