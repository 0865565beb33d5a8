"""``lmsa serve``: the HTTP API under uvicorn.

One worker runs the app object built here; ``--workers N`` makes uvicorn start N processes that
each build their own from the environment (so flags are passed down as ``LMSA_*`` variables)
and share metrics through ``PROMETHEUS_MULTIPROC_DIR``. Scaling across machines or containers
is the load balancer's job (see ``docker-compose.yml``).
"""

from __future__ import annotations

import errno
import ipaddress
import os
import shutil
import socket
import tempfile

from lmsa.config import Settings


class ServeError(RuntimeError):
    """The server cannot start for a reason the user can fix; the message says how."""


def is_loopback_host(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_can_serve(settings: Settings) -> None:
    """Fails before uvicorn starts on what would otherwise end as a log line and exit 3: a
    workspace that is not a folder, a port another process holds; and refuses to open the API
    beyond loopback without keys, unless told to."""
    if (
        not is_loopback_host(settings.server_host)
        and not settings.api_keys
        and not settings.allow_open
    ):
        raise ServeError(
            f"Refusing to serve on {settings.server_host} without LMSA_API_KEYS: anyone who "
            "reaches it could run tools; set LMSA_API_KEYS, bind to 127.0.0.1, or set "
            "LMSA_ALLOW_OPEN=true."
        )
    if not settings.workspace.is_dir():
        raise ServeError(
            f"The workspace {settings.workspace} is not a folder; set LMSA_WORKSPACE to an "
            "existing folder."
        )
    host, port = settings.server_host, settings.server_port
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise ServeError(
            f"Cannot bind to {host}: {error.strerror}; set --host or LMSA_SERVER_HOST."
        ) from error
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        # As uvicorn binds: with SO_REUSEADDR, so only a live listener makes this fail.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise ServeError(
                    f"Port {port} on {host} is already in use; stop the other server or "
                    "pick another port with --port (or LMSA_SERVER_PORT)."
                ) from error
            raise ServeError(
                f"Cannot listen on {host}:{port}: {error.strerror}; "
                "set --host/--port (or LMSA_SERVER_HOST/LMSA_SERVER_PORT)."
            ) from error


def serve(settings: Settings, *, reload: bool = False) -> None:
    import uvicorn

    from lmsa.observability.logging import configure_logging

    check_can_serve(settings)
    configure_logging(settings.log_level, settings.log_format)
    common = {
        "host": settings.server_host,
        "port": settings.server_port,
        "log_config": None,
        "access_log": False,
        "proxy_headers": True,
        # uvicorn's default reads FORWARDED_ALLOW_IPS; lmsa's own setting replaces it, so the
        # client address (the rate-limit key) is only taken from a proxy lmsa was told about.
        # An empty list trusts nobody (uvicorn would read None as "use the default").
        "forwarded_allow_ips": [
            p.strip() for p in settings.trusted_proxies.split(",") if p.strip()
        ],
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
    os.environ["LMSA_TRUSTED_PROXIES"] = settings.trusted_proxies
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
