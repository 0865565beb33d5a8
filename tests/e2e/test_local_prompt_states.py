"""With the real model: a prompt restored from a saved state (its shared start not evaluated
again) gets the reply a full evaluation gives."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from lmsa.local import load_engine
from lmsa.local.requests import Prediction
from lmsa.prompts import INTENT_SYSTEM, VALIDATE_SYSTEM

pytestmark = pytest.mark.e2e


def _ask(engine: Any, system: str, question: str) -> str:
    prediction = Prediction(
        messages=[{"role": "system", "content": system}, {"role": "user", "content": question}],
        kwargs={"temperature": 0.0, "max_tokens": 24},
    )
    text, _, _ = asyncio.run(engine.complete(prediction))
    return text


def test_a_restored_prompt_state_replies_as_a_full_evaluation_does() -> None:
    engine = load_engine(os.environ.get("LMSA_E2E_MODEL"), prompt_states=4)
    try:
        cache = engine.prompt_states
        assert cache is not None
        _ask(engine, INTENT_SYSTEM, "Hi there!")
        _ask(engine, VALIDATE_SYSTEM, "Is 2 + 2 = 4 complete?")
        hits = cache.hits
        restored = _ask(engine, INTENT_SYSTEM, "What does notes.txt say about the launch?")
        assert cache.hits == hits + 1
        assert cache.reused_tokens >= 200  # the intent instructions were not evaluated again

        engine._llama.set_cache(None)
        engine._llama.reset()
        _ask(engine, VALIDATE_SYSTEM, "Is 2 + 2 = 4 complete?")
        evaluated = _ask(engine, INTENT_SYSTEM, "What does notes.txt say about the launch?")
        assert restored == evaluated
        assert restored.strip()
    finally:
        engine.close()
