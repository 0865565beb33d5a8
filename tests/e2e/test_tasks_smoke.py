"""Three tasks of ``benchmarks/tasks.py`` (read and answer, create a file, small talk) through the
benchmark's own runner against the real local model: all three with lmsa, the tool task (create a
file) with the ReAct baseline too. The baseline sends about ten times lmsa's prompt tokens per
task, so its runs of the other two would double the test's time without reaching another path
of the harness or the judge.

Whether the small model solves them is not asserted. What is: the harness produced a judged
result with model calls counted, and the judge's verdict agrees with an independent look at the
answer and the workspace the run left behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from benchmarks.task_suite import TASKS
from benchmarks.tasks import Endpoint, RunRecord, run_one

pytestmark = pytest.mark.e2e

TASK_BY_ID = {task.id: task for task in TASKS}
TIMEOUT = 600.0  # under the e2e per-test timeout (900 s)


def files_of(workspace: Path) -> dict[str, str]:
    return {
        path.relative_to(workspace).as_posix(): path.read_text(encoding="utf-8")
        for path in workspace.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def independent(task_id: str, record: RunRecord) -> bool:
    """What a person checking the run by hand would call solved."""
    task = TASK_BY_ID[task_id]
    files = files_of(Path(record.workspace))
    untouched = {path: files.get(path) for path in task.files} == dict(task.files)
    answered = record.outcome == "answered"
    if task_id == "read_port":
        return answered and "8081" in record.answer and set(files) == set(task.files) and untouched
    if task_id == "create_hello":
        # Done is not enough: the user is told (an empty reply leaves them guessing).
        return (
            answered
            and bool(record.answer.strip())
            and set(files) == {*task.files, "hello.txt"}
            and untouched
            and files["hello.txt"].strip().lower() == "hello, world!"
        )
    assert task_id == "chat_greeting"
    return answered and bool(record.answer.strip()) and set(files) == set(task.files) and untouched


@pytest.mark.parametrize(
    ("task_id", "agent"),
    [
        ("read_port", "lmsa"),
        ("create_hello", "lmsa"),
        ("create_hello", "react"),
        ("chat_greeting", "lmsa"),
    ],
)
async def test_task_is_run_counted_and_judged_like_an_independent_check(
    local_server: Any, tmp_path: Path, task_id: str, agent: str
) -> None:
    endpoint = Endpoint(local_server.base_url, "lm-studio", local_server.model_id)
    record = await run_one(TASK_BY_ID[task_id], agent, endpoint, TIMEOUT, tmp_path)

    assert record.task == task_id and record.agent == agent
    assert record.calls > 0, "the callback handler saw the model calls"
    assert record.output_tokens > 0
    assert record.seconds > 0
    assert record.solved == (not record.reasons)
    assert record.solved == independent(task_id, record), (record.reasons, record.answer)
