"""Unit tests run with no network sockets: anything that tries to reach LM Studio or Redis here
is a bug in the test (or in the code's laziness), and fails loudly."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from pytest_socket import disable_socket, enable_socket

# uvloop keeps the ``socket.socket`` it sees when first imported: imported here, with sockets
# still real, a unit test that imports it (through uvicorn) cannot leave later integration
# tests' event loops with the blocked socket class when the suites run in one session.
with contextlib.suppress(ImportError):
    import uvloop  # noqa: F401


@pytest.fixture(autouse=True)
def _no_network_sockets() -> Iterator[None]:
    # Unix sockets stay allowed: asyncio's event loop wakes itself through a socketpair.
    disable_socket(allow_unix_socket=True)
    yield
    enable_socket()
