"""Running the local model's HTTP app: in a background thread of the current process (``lmsa
chat --local``, the e2e tests, the benchmark) or in the foreground (``lmsa local-server``).

The model is loaded before the socket listens, so "the server answers" means "the model is
ready"; the listening socket is bound up front (port 0 picks a free one), so the caller knows
the URL before uvicorn starts and two lmsa processes never race for a port.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from lmsa.local.cpu import CpuMode, choose_cpu_mode
from lmsa.local.engine import DEFAULT_CONTEXT_LENGTH, DEFAULT_THREADS, LlamaEngine
from lmsa.local.model import LocalModelUnavailable, require_extra, resolve_model_path
from lmsa.local.prompt_cache import DEFAULT_STATES

STARTUP_TIMEOUT = 60.0


def load_engine(
    model: Path | str | None = None,
    *,
    context_length: int = DEFAULT_CONTEXT_LENGTH,
    threads: int = DEFAULT_THREADS,
    default_max_tokens: int | None = None,
    cpu_mode: CpuMode = "auto",
    cache_dir: Path | None = None,
    prompt_states: int = DEFAULT_STATES,
) -> LlamaEngine:
    """Checks the extra is installed, finds (or assembles) the GGUF file, decides the CPU mode
    (probing once in a child process when ``auto``) and loads the model."""
    require_extra()
    if cache_dir is None:
        from lmsa.config import default_cache_dir

        cache_dir = default_cache_dir()
    path = resolve_model_path(model, cache_dir)
    verdict = choose_cpu_mode(path, cpu_mode, cache_dir)
    try:
        engine = LlamaEngine(
            path,
            context_length=context_length,
            threads=threads,
            default_max_tokens=default_max_tokens,
            cpu_mode=verdict.mode,
            prompt_states=prompt_states,
        )
    except (OSError, ValueError, RuntimeError) as error:
        raise LocalModelUnavailable(f"llama.cpp could not load {path}: {error}") from error
    engine.cpu_mode_reason = verdict.reason
    return engine


class LocalServer:
    """The local model's HTTP app served by uvicorn on its own thread and event loop."""

    def __init__(
        self,
        engine: LlamaEngine,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        owns_engine: bool = False,
    ) -> None:
        self.engine = engine
        self._owns_engine = owns_engine
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._server: object | None = None
        self._failure: list[BaseException] = []

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the local server is not started")
        return self._port

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL, for ``LMSA_BASE_URL``."""
        return f"{self.root_url}/v1"

    @property
    def model_id(self) -> str:
        return self.engine.model_id

    def start(self, timeout: float = STARTUP_TIMEOUT) -> Self:
        import uvicorn

        from lmsa.local.app import create_app

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self._requested_port))
        except OSError as error:
            sock.close()
            raise LocalModelUnavailable(
                f"Cannot listen on {self.host}:{self._requested_port} ({error.strerror}); "
                "is LM Studio or another server using that port? Pick another with --port."
            ) from error
        self._port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            create_app(self.engine),
            log_level="warning",
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=5,
        )
        server = uvicorn.Server(config)
        self._server = server

        def run() -> None:
            try:
                server.run(sockets=[sock])
            except BaseException as error:  # reported by start() or stop()
                self._failure.append(error)
            finally:
                sock.close()

        self._thread = threading.Thread(target=run, name="lmsa-local-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                cause = self._failure[0] if self._failure else None
                raise LocalModelUnavailable(
                    f"The local model server did not start on {self.host}:{self._port}"
                    + (f": {cause}" if cause else ".")
                ) from cause
            time.sleep(0.02)
        return self

    def serve_forever(self) -> None:
        """Blocks until the server stops (Ctrl-C stops it cleanly)."""
        thread = self._thread
        if thread is None:
            raise RuntimeError("the local server is not started")
        try:
            while thread.is_alive():
                thread.join(0.5)
        finally:
            self.stop()

    def stop(self, timeout: float = 10.0) -> None:
        server, thread = self._server, self._thread
        if server is not None:
            server.should_exit = True  # type: ignore[attr-defined]
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._thread = None
        if self._owns_engine and (thread is None or not thread.is_alive()):
            self._owns_engine = False
            self.engine.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_local_server(
    model: Path | str | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    context_length: int = DEFAULT_CONTEXT_LENGTH,
    threads: int = DEFAULT_THREADS,
    default_max_tokens: int | None = None,
    cpu_mode: CpuMode = "auto",
    cache_dir: Path | None = None,
    prompt_states: int = DEFAULT_STATES,
) -> LocalServer:
    """Loads the model and serves it on a background thread; ``stop()`` when done."""
    engine = load_engine(
        model,
        context_length=context_length,
        threads=threads,
        default_max_tokens=default_max_tokens,
        cpu_mode=cpu_mode,
        cache_dir=cache_dir,
        prompt_states=prompt_states,
    )
    return LocalServer(engine, host=host, port=port, owns_engine=True).start()
