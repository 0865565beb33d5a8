"""Which TLS context lmsa's own HTTP clients get."""

from __future__ import annotations

import ssl

from lmsa.llm.tls import shared_ssl_context, ssl_context_for


def test_https_servers_share_one_verifying_context_with_the_ca_bundle() -> None:
    context = ssl_context_for("https://llm.example.org/v1")
    assert context is shared_ssl_context() is ssl_context_for("HTTPS://other.example.org/v1")
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 0


def test_plain_http_servers_get_a_context_that_trusts_no_certificate() -> None:
    context = ssl_context_for("http://localhost:1234/v1")
    assert context is not shared_ssl_context()
    # Still verifying, with nothing to verify against: TLS through it cannot succeed.
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] == 0
