"""TLS contexts for lmsa's own HTTP clients.

httpx builds a new ``ssl.SSLContext`` for every client it creates, loading the whole CA bundle
each time (about 15 ms of CPU); ``lmsa ask`` creates several clients before its first model
request. The context is built once per process, the way httpx builds its default one
(``SSL_CERT_FILE`` or ``SSL_CERT_DIR`` when set, else certifi's bundle), and shared: one
``SSLContext`` serves any number of connections.

A client for a plain ``http://`` server (LM Studio on this machine, the usual case) never
negotiates TLS, so it gets a context that loads no certificates and trusts none: building it
costs nothing, and should such a client ever be sent to an ``https://`` address (these clients
follow no redirects), the handshake fails rather than going unverified.
"""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()


@functools.cache
def _trusting_nobody() -> ssl.SSLContext:
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies, with no CA to verify against


def ssl_context_for(url: str) -> ssl.SSLContext:
    """The context for a client whose requests all go to ``url``'s server."""
    return shared_ssl_context() if url.lower().startswith("https:") else _trusting_nobody()
