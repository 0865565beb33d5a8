"""The one place nodes get a chat model from.

Nodes never construct clients: they ask an :class:`LLMProvider` for a runnable. Without a custom
model, that runnable is a :class:`~lmsa.llm.router.RoutedChatModel` over every configured
endpoint (routing, retries, breakers, fallbacks, cache, queue). The provider resolves models on
first need (``LMSA_MODEL``, else the first *loaded* model the server reports), because asking a
server at import time would make ``langgraph dev``, ``--help`` and host apps fail or stall
whenever LM Studio is not running yet.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable

from lmsa.config import Settings
from lmsa.llm.core import RouterCore
from lmsa.llm.embedded import EmbeddedFallback, fallback_available
from lmsa.llm.endpoints import Endpoint, EndpointProbe, build_endpoints
from lmsa.llm.router import RoutedChatModel


class LLMProvider:
    """Hands nodes a chat runnable: the user's own model, or the router over LM Studio endpoints.

    ``chat_model`` lets a host app (or a test) supply any LangChain chat model; then it is used
    as-is (no routing layer, no network to resolve anything).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        chat_model: BaseChatModel | Runnable | None = None,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self._custom = chat_model
        self._notify = notify  # one-line notices for the user (the embedded fallback starting)
        self._core: RouterCore | None = None
        self._router: RoutedChatModel | None = None

    @property
    def base_url(self) -> str:
        return self.settings.base_url

    @property
    def core(self) -> RouterCore:
        """Routing state (endpoints, breakers, cache, queues); built on first use."""
        if self._core is None:
            embedded = (
                EmbeddedFallback(self.settings, self._notify)
                if fallback_available(self.settings)
                else None
            )
            self._core = RouterCore(self.settings, build_endpoints(self.settings), embedded)
        return self._core

    @property
    def endpoints(self) -> list[Endpoint]:
        return self.core.endpoints

    async def model(self, *, role: str | None = None, **bind: Any) -> Runnable:
        """A runnable chat model with ``bind`` kwargs (e.g. ``response_format``) applied.

        ``role`` (``"fast"``/``"main"``) overrides the router's own guess of how demanding the
        call is; it is ignored for a custom chat model."""
        if self._custom is not None:
            return self._custom.bind(**bind) if bind else self._custom
        router = await self._resolve()
        if role is not None:
            bind["role"] = role
        return router.bind(**bind) if bind else router

    async def model_name(self) -> str:
        if self._custom is not None:
            return str(getattr(self._custom, "model_name", None) or type(self._custom).__name__)
        return (await self._resolve()).model_name

    async def _resolve(self) -> RoutedChatModel:
        if self._router is not None:
            return self._router
        core = self.core
        await core.resolve()
        self._router = RoutedChatModel(core=core, model_name=core.primary().resolved_model or "")
        return self._router

    async def health(self) -> list[EndpointProbe]:
        """Probe every endpoint now (what ``lmsa doctor`` shows); also refreshes routing."""
        return await self.core.health.check_once()

    async def aclose(self) -> None:
        if self._core is not None:
            await self._core.aclose()
