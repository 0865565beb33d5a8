"""A decision names the interrupt it answers (``interrupt_id`` in ``POST …/resume``): sent again
after the thread moved on to the next approval (a client's retry, a second tab), it is refused
with 409 ``stale_interrupt`` and approves nothing. ``lmsa serve`` against the scripted stub."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.helpers import (
    COMPLETE,
    ServerProcess,
    intent,
    plan,
    server_env,
    start_server,
    step,
)
from tests.stubs.lmstudio import LMStudioStub

pytestmark = pytest.mark.integration

TWO_WRITES = {
    "IntentResult": [intent("file_operation")],
    "Plan": [
        plan(
            step("w1", "write_file", path="one.txt", content="1"),
            step("w2", "write_file", path="two.txt", content="2"),
        )
    ],
    "Validation": [COMPLETE],
    "text": ["Both written."],
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[ServerProcess, Path]]:
    with LMStudioStub(scenario=TWO_WRITES) as stub:
        running = start_server(server_env(stub, tmp_path), tmp_path)
        yield running, tmp_path / "workspace"
        running.stop()


def test_a_replayed_decision_is_refused_and_approves_nothing(
    server: tuple[ServerProcess, Path],
) -> None:
    api, workspace = server
    with httpx.Client(base_url=api.url, timeout=60.0) as client:
        assert client.post("/v1/threads", json={"thread_id": "two"}).status_code == 201
        first = client.post("/v1/threads/two/runs", json={"message": "write both"}).json()
        assert first["status"] == "interrupted", first
        first_id = first["interrupt"]["id"]
        assert first["interrupt"]["value"]["step_id"] == "w1"

        body = {"decision": "approve", "interrupt_id": first_id}
        second = client.post("/v1/threads/two/resume", json=body).json()
        assert second["interrupt"]["value"]["step_id"] == "w2", second
        assert second["interrupt"]["id"] != first_id

        replay = client.post("/v1/threads/two/resume", json=body)
        assert replay.status_code == 409, replay.text
        assert replay.json()["error"]["code"] == "stale_interrupt"
        assert not (workspace / "one.txt").exists() and not (workspace / "two.txt").exists()

        done = client.post(
            "/v1/threads/two/resume",
            json={"decision": "approve", "interrupt_id": second["interrupt"]["id"]},
        ).json()
        assert done["status"] == "completed", done
    assert (workspace / "one.txt").read_text() == "1"
    assert (workspace / "two.txt").read_text() == "2"
