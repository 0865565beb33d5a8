"""``RoutedChatModel``: one LangChain chat model over every configured endpoint.

For each call it decides the role (``fast``/``main``, from the request's shape unless the caller
says), prepares the request once (priority, conversation, cache key) and hands it to the
provider's :class:`~lmsa.llm.core.RouterCore`, which orders the endpoints and walks them.

Why not ``Runnable.with_fallbacks``: it keeps no state (no breaker, no latency or load to route
on) and gives up on a stream once the first chunk is out. Here a text stream that breaks after
some tokens continues on the next attempt (:mod:`lmsa.llm.streaming`). Structured and
tool-calling calls are delivered whole even when streamed: nobody reads half a JSON object, so
they are sent as whole requests (the lean path of :mod:`lmsa.llm.wire`, retried whole) and
handed to the stream as one chunk.

Deterministic calls (temperature 0, or a JSON schema requested) go through the response cache
and single-flight; a streamed call replays cached chunks and fills the cache when it completes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict

from lmsa.llm.cache import CachedReply, cache_key
from lmsa.llm.complexity import MAIN, approx_tokens, choose_role
from lmsa.llm.core import RouterCore
from lmsa.llm.queue import PRIORITIES
from lmsa.llm.replies import structured_output
from lmsa.llm.request import Request

ROUTING_KWARGS = ("role", "priority", "conversation", "cache")


class RoutedChatModel(BaseChatModel):
    """The chat model nodes use: routes each call over the provider's endpoints.

    Routing hints travel as call kwargs (``model.bind(role="fast", priority="background")``) or
    run metadata (``lmsa_priority``; ``thread_id`` is the conversation for queue fairness).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    core: Any
    model_name: str = "routed"

    @property
    def _llm_type(self) -> str:
        return "lmsa-routed"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name}

    # -- request preparation -----------------------------------------------------------------

    def _prepare(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        run_manager: AsyncCallbackManagerForLLMRun | CallbackManagerForLLMRun | None,
        kwargs: dict[str, Any],
    ) -> Request:
        core: RouterCore = self.core
        settings = core.settings
        params = {k: v for k, v in kwargs.items() if k not in ROUTING_KWARGS}
        metadata = (getattr(run_manager, "metadata", None) or {}) if run_manager else {}
        priority_name = kwargs.get("priority") or metadata.get("lmsa_priority") or "interactive"
        conversation = str(kwargs.get("conversation") or metadata.get("thread_id") or "-")
        extra = params.get("tools") or params.get("response_format")
        tokens = approx_tokens(messages, extra)
        role = kwargs.get("role")
        if role is None:
            if core.has_fast and settings.llm_complexity_routing:
                role = choose_role(messages, params, settings.llm_fast_schemas, tokens)
            else:
                role = MAIN
        temperature = params.get("temperature", settings.temperature)
        cache_flag = kwargs.get("cache")
        cacheable = core.cache is not None and (
            cache_flag
            if cache_flag is not None
            else (temperature == 0 or bool(params.get("response_format")))
        )
        key = None
        if cacheable:
            group = ",".join(
                f"{e.name}={e.resolved_model}" for e in core.endpoints if role in e.roles
            )
            key = cache_key(
                f"{role}:{group}", messages, {**params, "stop": stop, "temperature": temperature}
            )
        return Request(
            messages=list(messages),
            stop=stop,
            params=params,
            role=str(role),
            priority=PRIORITIES.get(str(priority_name), 0),
            conversation=conversation,
            tokens=tokens,
            cache_key=key,
            buffered=bool(params.get("response_format") or params.get("tools")),
        )

    # -- BaseChatModel -----------------------------------------------------------------------

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        core: RouterCore = self.core
        await core.resolve()
        core.health.ensure_started()
        message = await core.complete(self._prepare(messages, stop, run_manager, kwargs))
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        core: RouterCore = self.core
        await core.resolve()
        core.health.ensure_started()
        request = self._prepare(messages, stop, run_manager, kwargs)
        async with contextlib.aclosing(core.stream(request)) as chunks:
            async for chunk in chunks:
                yield ChatGenerationChunk(message=chunk)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        """Sync calls run the async path on a private loop (lmsa itself is async; this serves
        scripts). Redis-shared state is not supported on this path."""

        async def run() -> ChatResult:
            return await self._agenerate(messages, stop, None, **kwargs)

        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, run()).result()

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        result = self._generate(messages, stop, run_manager, **kwargs)
        message = result.generations[0].message
        assert isinstance(message, AIMessage)
        for chunk in CachedReply(message).replay():
            yield ChatGenerationChunk(message=chunk)

    # -- tools and structured output ---------------------------------------------------------

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | Any],
        *,
        tool_choice: str | bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """OpenAI tool format; ``tool_choice`` limited to what LM Studio accepts
        (``none``/``auto``/``required``; a named tool becomes ``required``)."""
        formatted = [convert_to_openai_tool(tool) for tool in tools]
        if tool_choice is not None:
            if tool_choice not in ("none", "auto", "required"):
                tool_choice = "required"  # True, "any" or a tool's name
            kwargs["tool_choice"] = tool_choice
        return self.bind(tools=formatted, **kwargs)

    def with_structured_output(  # type: ignore[override]
        self, schema: Any, *, include_raw: bool = False, **kwargs: Any
    ) -> Runnable[LanguageModelInput, Any]:
        """JSON through ``response_format`` (grammar-constrained on LM Studio), parsed here;
        LangChain's function-calling method sends a ``tool_choice`` LM Studio rejects."""
        return structured_output(self, schema, include_raw=include_raw)
