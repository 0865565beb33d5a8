"""Unit tests run with no network sockets: anything that tries to reach LM Studio or Redis here
is a bug in the test (or in the code's laziness), and fails loudly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_socket import disable_socket, enable_socket


@pytest.fixture(autouse=True)
def _no_network_sockets() -> Iterator[None]:
    # Unix sockets stay allowed: asyncio's event loop wakes itself through a socketpair.
    disable_socket(allow_unix_socket=True)
    yield
    enable_socket()
