"""``lmsa serve``'s start-up checks on where it listens (no sockets: the refusal comes first)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmsa.cli.serve import ServeError, check_can_serve, is_loopback_host
from lmsa.config import Settings


def settings(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(workspace=tmp_path, **overrides)  # type: ignore[arg-type]


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.com"])
def test_non_loopback_host_without_keys_is_refused(tmp_path: Path, host: str) -> None:
    with pytest.raises(ServeError, match="LMSA_ALLOW_OPEN"):
        check_can_serve(settings(tmp_path, server_host=host))


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.2"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback_host(host)


def test_trusted_proxies_default_to_loopback() -> None:
    assert Settings().trusted_proxies == "127.0.0.1,::1"
