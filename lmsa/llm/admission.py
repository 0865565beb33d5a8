"""Admission of one request to one endpoint: a queue slot (local, then global), then the
endpoint's circuit breaker. What is taken is given back when the request ends, or, for a stream,
when the stream is closed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import TypeVar

from lmsa.llm.breaker import Breakers, is_open_error
from lmsa.llm.endpoints import Endpoint
from lmsa.llm.errors import BreakerOpen, classify, is_endpoint_failure
from lmsa.llm.queue import GlobalLimit, SlotQueue
from lmsa.llm.request import Request
from lmsa.observability.metrics import LLM_REQUESTS

T = TypeVar("T")


class Admission:
    """Concurrency slots and breakers over a router's endpoints."""

    def __init__(
        self,
        slots: dict[str, SlotQueue],
        global_limit: GlobalLimit | None,
        breakers: Breakers,
        queue_timeout: float,
    ) -> None:
        self.slots = slots
        self.global_limit = global_limit
        self.breakers = breakers
        self.queue_timeout = queue_timeout

    def open_error(self, endpoint: Endpoint) -> BreakerOpen:
        return BreakerOpen(endpoint.name, endpoint.base_url, self.breakers.cooldown)

    async def allows(self, endpoint: Endpoint) -> bool:
        return await self.breakers.allows(endpoint.name)

    async def attempt(
        self,
        endpoint: Endpoint,
        request: Request,
        call: Callable[[], Awaitable[T]],
        *,
        hold: list[AsyncExitStack] | None = None,
    ) -> T:
        """One request: a queue slot (local, then global), the breaker, the call. With ``hold``
        the slot and breaker stay taken (for a stream) and the stack is handed back."""
        stack = AsyncExitStack()
        await stack.__aenter__()
        try:
            await self._enter(endpoint, request, stack)
            result = await call()
        except BaseException as error:
            await stack.__aexit__(type(error), error, error.__traceback__)
            if isinstance(error, Exception) and is_endpoint_failure(error):
                LLM_REQUESTS.labels(endpoint.name, classify(error).value).inc()
            raise
        if hold is not None:
            hold.append(stack)
        else:
            await stack.aclose()
        return result

    async def _enter(self, endpoint: Endpoint, request: Request, stack: AsyncExitStack) -> None:
        slots = self.slots[endpoint.name]
        timeout = self.queue_timeout
        await slots.acquire(request.priority, request.conversation, timeout)
        stack.callback(slots.release)
        if self.global_limit is not None:
            limit = self.global_limit
            token = await limit.acquire(endpoint.name, endpoint.max_concurrency, timeout)
            stack.push_async_callback(limit.release, endpoint.name, token)
        endpoint.in_flight += 1
        stack.callback(_decrement, endpoint)
        try:
            await stack.enter_async_context(self.breakers.guard(endpoint.name))
        except Exception as error:
            if is_open_error(error):
                raise self.open_error(endpoint) from None
            raise


def _decrement(endpoint: Endpoint) -> None:
    endpoint.in_flight -= 1
