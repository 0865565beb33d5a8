"""``lmsa serve``: the HTTP API under uvicorn.

One worker runs the app object built here; ``--workers N`` makes uvicorn start N processes that
each build their own from the environment (so flags are passed down as ``LMSA_*`` variables)
and share metrics through ``PROMETHEUS_MULTIPROC_DIR``. Scaling across machines or containers
is the load balancer's job (see ``docker-compose.yml``).
"""

from __future__ import annotations

import os
import shutil
import tempfile

from lmsa.config import Settings


def serve(settings: Settings, *, reload: bool = False) -> None:
    import uvicorn

    from lmsa.observability.logging import configure_logging

    configure_logging(settings.log_level, settings.log_format)
    common = {
        "host": settings.server_host,
        "port": settings.server_port,
        "log_config": None,
        "access_log": False,
        "proxy_headers": True,
        "timeout_graceful_shutdown": 30,
        # Longer than a load balancer's idle timeout, so the LB never reuses a connection the
        # server is closing (uvicorn's default of 5 s races with busy clients).
        "timeout_keep_alive": 75,
    }
    if settings.server_workers <= 1:
        from lmsa.server.app import create_app

        uvicorn.run(create_app(settings, own_process=True), **common)  # type: ignore[arg-type]
        return
    os.environ["LMSA_SERVER_HOST"] = settings.server_host
    os.environ["LMSA_SERVER_PORT"] = str(settings.server_port)
    metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    owned = metrics_dir is None
    if owned:
        metrics_dir = tempfile.mkdtemp(prefix="lmsa-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        uvicorn.run(
            "lmsa.server.app:app_factory",
            factory=True,
            workers=settings.server_workers,
            **common,  # type: ignore[arg-type]
        )
    finally:
        if owned and metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)
