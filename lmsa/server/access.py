"""Who may call the API and how often: optional API keys (``LMSA_API_KEYS``) and per-key rate
limits from the security layer's limiter.

Keys are compared in constant time. The rate-limit key is a digest of the API key (never the key
itself, which would end up in Redis and logs), or the client address when auth is off.
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from lmsa.config import Settings
from lmsa.observability.metrics import RATE_LIMITED
from lmsa.server.errors import ApiError
from lmsa.server.middleware import client_address

log = logging.getLogger("lmsa.server")

bearer_scheme = HTTPBearer(auto_error=False, description="Authorization: Bearer <LMSA_API_KEYS>")
header_scheme = APIKeyHeader(name="X-API-Key", auto_error=False)

RateCheck = Callable[[str], Awaitable[float | None]]
"""``await check(key)`` -> None when allowed, else seconds until a retry may succeed."""


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def make_authenticator(settings: Settings) -> Callable[..., Awaitable[str | None]]:
    """A FastAPI dependency returning the caller's identity (key digest), or raising 401."""
    keys = [key.encode() for key in settings.api_keys]

    async def authenticate(
        request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
        header_key: Annotated[str | None, Depends(header_scheme)],
    ) -> str | None:
        offered = header_key or (bearer.credentials if bearer else None)
        if offered is None:
            raise ApiError(
                401,
                "An API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key'.",
                type="authentication_error",
                code="missing_api_key",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not any(hmac.compare_digest(offered.encode(), key) for key in keys):
            raise ApiError(
                401,
                "The API key is not valid.",
                type="authentication_error",
                code="invalid_api_key",
                headers={"WWW-Authenticate": "Bearer"},
            )
        identity = key_digest(offered)
        request.state.identity = identity
        return identity

    return authenticate


def make_rate_check(settings: Settings) -> RateCheck | None:
    """The security layer's limiter as an async check, or None when it is not available.

    This is the single hook between the API and :mod:`lmsa.security`'s
    ``RateLimiter.from_settings(settings).hit(key) -> decision(allowed, retry_after_s)``.
    """
    try:
        from lmsa.security import RateLimiter  # type: ignore[attr-defined]
    except ImportError:
        try:
            from lmsa.security.ratelimit import RateLimiter  # type: ignore[no-redef]
        except ImportError:
            log.info("no rate limiter in lmsa.security; per-key rate limits are off")
            return None
    limiter = RateLimiter.from_settings(settings)
    if limiter is None:
        return None

    async def check(key: str) -> float | None:
        decision = limiter.hit(key)
        if inspect.isawaitable(decision):
            decision = await decision
        if getattr(decision, "allowed", True):
            return None
        return float(getattr(decision, "retry_after_s", 1.0) or 1.0)

    return check


def make_rate_limiter_dep(check: RateCheck | None) -> Callable[..., Awaitable[None]]:
    async def rate_limit(request: Request) -> None:
        if check is None:
            return
        identity = getattr(request.state, "identity", None)
        scope = "api_key" if identity else "client"
        key = f"{scope}:{identity or client_address(request.scope)}"
        retry_after = await check(key)
        if retry_after is not None:
            RATE_LIMITED.labels(scope=scope).inc()
            seconds = max(1, int(retry_after + 0.999))
            raise ApiError(
                429,
                f"Rate limit exceeded; retry in {seconds} s.",
                type="rate_limit_error",
                code="rate_limited",
                headers={"Retry-After": str(seconds)},
            )

    return rate_limit
