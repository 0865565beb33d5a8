"""Retries on one endpoint: transient errors are retried there (tenacity, full-jitter backoff,
``Retry-After`` honoured up to a cap) before the call moves on to the next endpoint."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_random_exponential

from lmsa.config import Settings
from lmsa.llm.admission import Admission
from lmsa.llm.endpoints import Endpoint
from lmsa.llm.errors import RETRYABLE, ErrorKind, classify, retry_after_seconds
from lmsa.observability.metrics import LLM_RETRIES

T = TypeVar("T")


class Retrier:
    """Runs one whole attempt (slot, breaker, request) on an endpoint, retrying it while the
    error is transient and the endpoint's breaker still lets requests through."""

    def __init__(self, settings: Settings, admission: Admission) -> None:
        self.admission = admission
        self.attempts = max(1, settings.max_retries + 1)
        self.retry_after_cap = settings.llm_retry_after_cap
        self._wait_backoff = wait_random_exponential(
            multiplier=settings.llm_retry_base_delay, max=settings.llm_retry_max_delay
        )

    def _should_retry(self, error: BaseException) -> bool:
        kind = classify(error)
        if kind not in RETRYABLE:
            return False
        if kind is ErrorKind.RATE_LIMIT:
            wait = retry_after_seconds(error)
            return wait is None or wait <= self.retry_after_cap
        return True

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if error is not None:
            wait = retry_after_seconds(error)
            if wait is not None:
                return min(wait, self.retry_after_cap)
        return float(self._wait_backoff(state))

    async def on_endpoint(self, endpoint: Endpoint, once: Callable[[], Awaitable[T]]) -> T:
        """``once`` (one whole attempt: slot, breaker, request), retried on transient errors."""
        if self.attempts == 1:
            return await once()

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            reason = classify(error).value if error else "unknown"
            LLM_RETRIES.labels(endpoint.name, reason).inc()

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.attempts),
            wait=self._wait,
            retry=retry_if_exception(self._should_retry),
            before_sleep=before_sleep,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                if attempt.retry_state.attempt_number > 1 and not await self.admission.allows(
                    endpoint
                ):
                    raise self.admission.open_error(endpoint)
                return await once()
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover
