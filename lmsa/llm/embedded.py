"""The embedded model as the router's last endpoint (``LMSA_LOCAL_FALLBACK=auto``).

When LM Studio is not running, unloads its model or crashes mid-session, a turn that would fail
is answered by the embedded llama.cpp model instead (the ``[local]`` extra). It is started only
when it is needed: every configured endpoint failed for a call, or none answered at start-up;
from then on it is an endpoint like any other (breaker, slots, metrics under the name
``embedded``), always tried last, so a configured endpoint that comes back (its breaker's
half-open probe succeeds) takes the turns again. The first start says so once, through
``notify``. Loading the model blocks for a second or more, so it runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from lmsa.config import Settings
from lmsa.llm.endpoints import Endpoint

log = logging.getLogger(__name__)

NAME = "embedded"
_UNSTARTED_URL = "http://embedded.invalid/v1"  # replaced by the real loopback URL on start


def fallback_available(settings: Settings) -> bool:
    """Whether ``settings`` ask for the fallback and the ``[local]`` extra is installed."""
    if settings.local_fallback != "auto":
        return False
    from lmsa.local.model import missing_extra

    return not missing_extra()


class EmbeddedFallback:
    """Starts the embedded model server on first need and stops it with the provider."""

    def __init__(self, settings: Settings, notify: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self.notify = notify or log.warning
        self.endpoint = Endpoint(
            name=NAME,
            base_url=_UNSTARTED_URL,
            api_key="lm-studio",
            model=None,
            roles=frozenset({"main", "fast"}),
            max_concurrency=1,
            context_window=settings.local_context_length,
            configured_window=True,
            cost_per_1k_tokens=0.0,
            priority=1 << 30,
            order=1 << 30,
        )
        self._server: Any = None
        self._starting: asyncio.Future[Any] | None = None
        self.error: str | None = None

    @property
    def started(self) -> bool:
        return self._server is not None

    @property
    def model(self) -> str:
        return self.settings.local_model or "the default embedded model"

    async def ensure_started(self, reason: str) -> bool:
        """Start the server if it is not running; False (with ``error``) when it cannot.

        The start runs as its own task, shielded: a caller cancelled while the model loads (a
        client hanging up) leaves the start to finish, and the next caller (or :meth:`aclose`)
        takes the server over instead of loading a second model."""
        if self._server is not None:
            return True
        if self.error is not None:
            return False  # a model that failed to load once is not retried on every call
        if self._starting is None:
            self._starting = asyncio.ensure_future(asyncio.to_thread(self._start))
        try:
            server = await asyncio.shield(self._starting)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            self.error = f"the embedded model could not start: {error}"
            log.error("%s", self.error)
            return False
        if self._server is None:
            self._server = server
            self.endpoint.base_url = server.base_url
            self.endpoint.resolved_model = server.model_id
            self.notify(
                f"{reason}; answering with the embedded model {server.model_id} "
                "(LMSA_LOCAL_FALLBACK=off turns this off)."
            )
        return True

    def _start(self) -> Any:
        from lmsa.local import start_local_server

        settings = self.settings
        return start_local_server(
            settings.local_model,
            host="127.0.0.1",
            port=0,
            context_length=settings.local_context_length,
            threads=settings.local_threads,
            default_max_tokens=settings.local_max_tokens,
            cpu_mode=settings.local_cpu_mode,
            cache_dir=settings.local_cache_dir,
            prompt_states=settings.local_prompt_states,
        )

    async def aclose(self) -> None:
        server, self._server = self._server, None
        starting, self._starting = self._starting, None
        if server is None and starting is not None:
            with contextlib.suppress(Exception):
                server = await starting  # a start nobody waited for: stop what it made
        if server is not None:
            await asyncio.to_thread(server.stop)
