"""``lmsa serve`` believes ``X-Forwarded-For`` only from ``LMSA_TRUSTED_PROXIES`` (the client
address is the per-address rate-limit key), and refuses to listen beyond loopback without API
keys unless ``LMSA_ALLOW_OPEN`` says so."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import RunLmsa
from tests.integration.helpers import free_port, server_env, start_server

pytestmark = pytest.mark.integration


def statuses_with_forged_clients(env: dict[str, str], tmp_path: Path) -> list[int]:
    running = start_server(env, tmp_path)
    try:
        return [
            httpx.get(
                f"{running.url}/v1/models", headers={"X-Forwarded-For": f"203.0.113.{n}"}
            ).status_code
            for n in range(1, 4)
        ]
    finally:
        running.stop()


def test_forged_forwarded_for_from_an_untrusted_peer_shares_one_bucket(tmp_path: Path) -> None:
    # No proxy trusted: the loopback peer is the client, whatever the header claims.
    env = server_env(None, tmp_path, LMSA_RATE_LIMIT="2/minute", LMSA_TRUSTED_PROXIES="")
    assert statuses_with_forged_clients(env, tmp_path) == [200, 200, 429]


def test_forwarded_for_from_a_trusted_proxy_names_the_client(tmp_path: Path) -> None:
    # The default trusts loopback, the place of a proxy on the same machine: each forwarded
    # client gets its own bucket.
    env = server_env(None, tmp_path, LMSA_RATE_LIMIT="2/minute")
    assert statuses_with_forged_clients(env, tmp_path) == [200, 200, 200]


def test_serve_beyond_loopback_without_keys_is_refused(run_lmsa: RunLmsa) -> None:
    proc = run_lmsa("serve", "--host", "0.0.0.0", "--port", str(free_port()))

    assert proc.returncode == 2
    assert "LMSA_API_KEYS" in proc.stderr and "LMSA_ALLOW_OPEN" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
