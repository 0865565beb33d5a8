"""Who may call the API and how often: optional API keys (``LMSA_API_KEYS``) and per-key rate
limits from the security layer's limiter.

Keys are compared in constant time. The rate-limit key is a digest of the API key (never the key
itself, which would end up in Redis and logs), or the client address when auth is off.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from lmsa.config import Settings
from lmsa.observability.logging import CALLER
from lmsa.server.errors import ApiError
from lmsa.server.middleware import client_address

log = logging.getLogger("lmsa.server")

bearer_scheme = HTTPBearer(auto_error=False, description="Authorization: Bearer <LMSA_API_KEYS>")
header_scheme = APIKeyHeader(name="X-API-Key", auto_error=False)

RateCheck = Callable[[str, str], Awaitable[tuple[float, str] | None]]
"""``await check(key, scope)`` -> None when allowed, else (retry-after seconds, message)."""


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def offered_key(request: Request) -> str | None:
    """The key the request carries in ``X-API-Key`` or ``Authorization: Bearer``, if any."""
    header = request.headers.get("x-api-key")
    if header:
        return header
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return credentials.strip() or None if scheme.lower() == "bearer" else None


def make_authenticator(
    settings: Settings, check: RateCheck | None = None
) -> Callable[..., Awaitable[str | None]]:
    """A FastAPI dependency returning the caller's identity (key digest), or raising 401.

    Failed attempts count against the client address in the limiter's ``auth_failure`` scope,
    so guessing keys is throttled like any other traffic (429 once over the limit)."""
    keys = [key.encode() for key in settings.api_keys]

    async def refuse(request: Request, message: str, code: str) -> ApiError:
        if check is not None:
            refused = await check(f"auth_failure:{client_address(request.scope)}", "auth_failure")
            if refused is not None:
                retry_after, limited = refused
                return ApiError(
                    429,
                    limited,
                    type="rate_limit_error",
                    code="rate_limited",
                    headers={"Retry-After": str(max(1, math.ceil(retry_after)))},
                )
        return ApiError(
            401,
            message,
            type="authentication_error",
            code=code,
            headers={"WWW-Authenticate": "Bearer"},
        )

    async def identify(request: Request) -> str:
        offered = offered_key(request)
        if offered is None:
            raise await refuse(
                request,
                "An API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key'.",
                "missing_api_key",
            )
        if not any(hmac.compare_digest(offered.encode(), key) for key in keys):
            raise await refuse(request, "The API key is not valid.", "invalid_api_key")
        identity = key_digest(offered)
        request.state.identity = identity
        tenant = settings.api_tenants.get(offered)
        # The thread space: the tenant's when the key is mapped to one, else the key's own.
        request.state.owner = key_digest(f"tenant:{tenant}") if tenant else identity
        # The middleware resets the variable when the request ends.
        CALLER.set(identity)
        return identity

    async def authenticate(
        request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
        header_key: Annotated[str | None, Depends(header_scheme)],
    ) -> str | None:
        # The schemes are parameters for the OpenAPI document; identify reads the headers.
        if getattr(request.state, "identity", None):
            return str(request.state.identity)
        return await identify(request)

    authenticate.identify = identify  # type: ignore[attr-defined]
    return authenticate


async def authenticate_first(request: Request) -> ApiError | None:
    """For error handlers that run before the route's dependencies (malformed or invalid
    bodies): the 401/429 a guarded route would give a caller without a valid key, else None,
    so a request without a valid key learns nothing about the body it sent. ``create_app``
    leaves the authenticator and the guarded endpoints on ``app.state``."""
    identify = getattr(request.app.state, "identify", None)
    if identify is None or getattr(request.state, "identity", None):
        return None
    endpoint = getattr(request.scope.get("route"), "endpoint", None)
    if endpoint not in request.app.state.guarded_endpoints:
        return None
    try:
        await identify(request)
    except ApiError as error:
        return error
    return None


def make_rate_check(settings: Settings) -> RateCheck | None:
    """The security layer's limiter as an async check, or None when rate limiting is off.

    This is the single hook between the API and :mod:`lmsa.security`'s
    ``RateLimiter.from_settings(settings).hit(key, scope=...)``. With Redis storage (shared by
    every instance) the limiter's blocking calls run in a worker thread so a slow Redis never
    stalls the event loop; in-memory counting is cheaper than the thread hop.
    """
    from lmsa.security.audit import AuditLog
    from lmsa.security.ratelimit import RateLimiter

    limiter = RateLimiter.from_settings(settings)
    if limiter is None:
        return None
    audit = AuditLog.from_settings(settings)
    in_memory = limiter.in_memory

    async def check(key: str, scope: str) -> tuple[float, str] | None:
        if in_memory:
            decision = limiter.hit(key, scope=scope)
        else:
            decision = await asyncio.to_thread(limiter.hit, key, scope=scope)
        if decision.allowed:
            return None
        # The key is a client address or an API-key digest, never the key itself.
        audit.record("rate_limited", scope=scope, key=key, retry_after_s=decision.retry_after_s)
        return decision.retry_after_s, decision.message()

    return check


def make_rate_limiter_dep(check: RateCheck | None) -> Callable[..., Awaitable[None]]:
    async def rate_limit(request: Request) -> None:
        if check is None:
            return
        identity = getattr(request.state, "identity", None)
        scope = "api_key" if identity else "client"
        key = f"{scope}:{identity or client_address(request.scope)}"
        refused = await check(key, scope)
        if refused is not None:
            retry_after, message = refused
            raise ApiError(
                429,
                message,
                type="rate_limit_error",
                code="rate_limited",
                headers={"Retry-After": str(max(1, math.ceil(retry_after)))},
            )

    return rate_limit


async def reject_unknown_query_params(request: Request) -> None:
    """A misspelt query parameter is a client mistake; FastAPI would silently ignore it and
    answer as if it were absent, which hides the mistake (and contradicts the OpenAPI spec)."""
    if not request.query_params:
        return
    dependant = getattr(request.scope.get("route"), "dependant", None)
    if dependant is None:
        return
    allowed = _query_names(dependant)
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise ApiError(
            422,
            f"Unknown query parameter(s): {', '.join(repr(name) for name in unknown[:5])}.",
            code="unknown_query_parameter",
        )


def _query_names(dependant: Any) -> set[str]:
    """Query parameter names a route accepts, its dependencies' included."""
    names = {param.alias for param in dependant.query_params}
    for dependency in dependant.dependencies:
        names |= _query_names(dependency)
    return names
