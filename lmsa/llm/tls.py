"""One TLS context for lmsa's own HTTP clients.

httpx builds a new ``ssl.SSLContext`` for every client it creates, loading the whole CA bundle
each time (about 15 ms of CPU); ``lmsa ask`` creates several clients before its first model
request. The context is built once per process, the way httpx builds its default one
(``SSL_CERT_FILE`` or ``SSL_CERT_DIR`` when set, else certifi's bundle), and shared: one
``SSLContext`` serves any number of connections.
"""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()
