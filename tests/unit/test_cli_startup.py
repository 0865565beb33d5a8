"""The CLI's start-up garbage-collector pause (lmsa/cli/startup.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from lmsa.cli.startup import collector_paused


@pytest.fixture
def collector() -> Iterator[None]:
    """Leaves the collector as the test found it: enabled and with nothing frozen."""
    was_enabled = gc.isenabled()
    try:
        yield
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()
        else:
            gc.disable()


def test_the_collector_is_off_while_loading_then_on_with_what_exists_frozen(
    collector: None,
) -> None:
    gc.enable()
    gc.unfreeze()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0


def test_the_collector_comes_back_even_when_loading_fails(collector: None) -> None:
    gc.enable()
    with pytest.raises(ImportError), collector_paused():
        raise ImportError("no module")
    assert gc.isenabled()


def test_a_collector_the_host_turned_off_stays_off(collector: None) -> None:
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()
