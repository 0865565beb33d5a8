"""API error messages speak about the request, not about the validation library: no pydantic
documentation links, whichever way a pydantic error reaches the client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.exceptions import RequestValidationError
from langgraph.types import Command
from pydantic import BaseModel, ValidationError, field_validator

from lmsa.server.errors import _validation_message, classify
from tests.unit.helpers import ask, intent, make_graph, plan, settings, step, thread, validation

DOCS_HOST = "errors.pydantic.dev"


class _Inner(BaseModel):
    path: str


class _Outer(BaseModel):
    """A validator that reports a nested model's error in its own words, as validators do."""

    args: dict[str, Any]

    @field_validator("args")
    @classmethod
    def _fits(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            _Inner.model_validate(value)
        except ValidationError as error:
            raise ValueError(f"the arguments do not fit: {error}") from error
        return value


def test_validation_message_drops_pydantic_docs_links() -> None:
    with pytest.raises(ValidationError) as caught:
        _Outer.model_validate({"args": {"path": 7}})
    assert DOCS_HOST in caught.value.errors()[0]["msg"]  # the premise: pydantic put it there
    errors = [{**e, "loc": ("body", *e["loc"])} for e in caught.value.errors()]
    status, message, param = _validation_message(RequestValidationError(errors))
    assert status == 422 and param == "args"
    assert DOCS_HOST not in message and "For further information" not in message
    assert message.startswith("Invalid request: args: the arguments do not fit")
    assert "path" in message and "Input should be a valid string" in message


async def test_invalid_resume_error_has_no_pydantic_docs_link(tmp_path: Path) -> None:
    script = {
        "IntentResult": [intent()],
        "Plan": [plan(step("w1", "write_file", {"path": "out.txt", "content": "hi"}))],
        "Validation": [validation(True)],
        "text": ["Done."],
    }
    graph, _ = make_graph(tmp_path, script)
    config = thread()
    await graph.ainvoke(ask("save hi"), config)
    with pytest.raises(Exception) as caught:
        await graph.ainvoke(Command(resume={"answer": "yes"}), config)
    assert DOCS_HOST in str(caught.value)  # the premise
    error = classify(caught.value, settings(tmp_path))
    assert error.status == 422 and error.code == "invalid_resume"
    assert DOCS_HOST not in error.message
    assert "decision: Field required" in error.message
