"""``lmsa local-server`` and the ``--local`` switch of ``lmsa chat`` / ``lmsa ask``.

``--local`` serves the embedded model from a background thread of the CLI process itself (not a
child process): it starts in about a second for a small model, shares nothing with other
processes, and stops when the command ends, whichever way it ends. The model listens on a free
loopback port, so a running LM Studio on 1234 is left alone.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from lmsa.config import Settings

EXIT_UNAVAILABLE = 2

_err = Console(stderr=True, highlight=False, soft_wrap=True)
_out = Console(highlight=False, soft_wrap=True)

LocalOption = Annotated[
    bool,
    typer.Option(
        "--local",
        help="Use the embedded llama.cpp model instead of LM Studio (needs the [local] extra).",
    ),
]


def _fail(message: str) -> NoReturn:
    _err.print(f"[bold red]error:[/] {escape(message)}", markup=True)
    raise typer.Exit(EXIT_UNAVAILABLE)


def _start(settings: Settings, model: str | None, host: str, port: int) -> Any:
    from lmsa.local import LocalModelUnavailable, start_local_server

    try:
        return start_local_server(
            model if model is not None else settings.local_model,
            host=host,
            port=port,
            context_length=settings.local_context_length,
            threads=settings.local_threads,
            default_max_tokens=settings.local_max_tokens,
            cpu_mode=settings.local_cpu_mode,
            cache_dir=settings.local_cache_dir,
            prompt_states=settings.local_prompt_states,
        )
    except LocalModelUnavailable as error:
        _fail(str(error))


@contextmanager
def local_endpoint(settings: Settings, enabled: bool) -> Iterator[Settings]:
    """``settings`` for a chat turn: with the embedded model as the last fallback unless the
    user turned it off (``LMSA_LOCAL_FALLBACK``), or (``enabled``) pointed at a freshly started
    embedded model that is stopped when the block ends."""
    if not enabled:
        if settings.local_fallback is None:
            settings = settings.model_copy(update={"local_fallback": "auto"})
        yield settings
        return
    server = _start(settings, None, "127.0.0.1", 0)
    _err.print(
        f"local model {server.model_id} ready at {server.base_url} "
        f"(loaded in {server.engine.load_seconds:.1f} s; CPU mode "
        f"{server.engine.cpu_mode}: {server.engine.cpu_mode_reason})"
    )
    try:
        yield settings.model_copy(
            update={
                "base_url": server.base_url,
                "model": server.model_id,
                "api_key": "lm-studio",
                "fallbacks": [],
                "endpoints": [],
                "structured_output": "json_schema",
                "local_fallback": "off",
            }
        )
    finally:
        server.stop()


def local_server(
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="A packaged model (qwen2.5-coder-0.5b, qwen2.5-coder-1.5b, gemma-3-270m) or a "
            "GGUF file (default: LMSA_LOCAL_MODEL, else qwen2.5-coder-0.5b).",
        ),
    ] = None,
    port: Annotated[int, typer.Option("--port", "-p", help="Port (0 picks a free one).")] = 1234,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
) -> None:
    """Serve a GGUF model with llama.cpp behind an LM Studio-compatible API."""
    from lmsa.config import ConfigError, load_settings

    try:
        settings = load_settings()
    except ConfigError as error:
        _fail(str(error))
    server = _start(settings, model, host, port)
    engine = server.engine
    _out.print(
        f"lmsa local-server: {engine.model_id} ({engine.model_path}, {engine.quantization}, "
        f"context {engine.context_length}, loaded in {engine.load_seconds:.1f} s, "
        f"CPU mode {engine.cpu_mode}: {engine.cpu_mode_reason})"
    )
    _out.print(f"READY {server.base_url}")
    _out.print(f"use it with: LMSA_BASE_URL={server.base_url} lmsa chat   (Ctrl-C stops)")

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    _out.print("lmsa local-server stopped")
