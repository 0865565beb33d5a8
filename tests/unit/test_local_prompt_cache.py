"""The embedded server's prompt states: which saved state a new prompt restores, and what is
kept. (Whether a restored state gives the same reply is checked with the real model in
``tests/e2e/test_local_server.py``.)"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from lmsa.local.prompt_cache import PromptStates, shared_prefix


@dataclass
class FakeState:
    """What the cache reads of llama-cpp-python's ``LlamaState``."""

    tokens: tuple[int, ...]
    scores: np.ndarray
    llama_state_size: int = 1000


def state(tokens: tuple[int, ...]) -> FakeState:
    return FakeState(tokens, np.ones((512, 8), dtype=np.float32))


def test_an_empty_cache_is_still_on_for_llama_cpp() -> None:
    # llama-cpp-python saves and restores only ``if self.cache:``.
    cache = PromptStates()
    assert bool(cache)
    with pytest.raises(KeyError):
        cache[(1, 2, 3)]


def test_the_state_sharing_the_longest_start_is_restored() -> None:
    cache = PromptStates(max_states=4, min_shared=3)
    intent = (1, 2, 3, 4, 5, 6)
    plan = (1, 2, 7, 8, 9, 10, 11)
    cache[intent] = state(intent)
    cache[plan] = state(plan)
    assert cache[(1, 2, 7, 8, 9, 99)].tokens == plan
    assert cache[(1, 2, 3, 4, 42)].tokens == intent
    assert cache.hits == 2 and cache.reused_tokens == 5 + 4


def test_a_short_shared_start_is_evaluated_again_not_restored() -> None:
    cache = PromptStates(min_shared=4)
    cache[(1, 2, 3, 4, 5)] = state((1, 2, 3, 4, 5))
    assert (1, 2, 3, 9) not in cache
    with pytest.raises(KeyError):
        cache[(1, 2, 3, 9)]
    assert (1, 2, 3, 4, 9) in cache


def test_least_recently_used_states_go_first() -> None:
    cache = PromptStates(max_states=2, min_shared=2)
    a, b, c = (1, 1, 1), (2, 2, 2), (3, 3, 3)
    cache[a] = state(a)
    cache[b] = state(b)
    cache[(1, 1, 5)]  # uses a: b is now the oldest
    cache[c] = state(c)
    assert len(cache) == 2
    assert a in cache and c in cache and b not in cache


def test_a_state_extended_by_a_new_one_is_replaced() -> None:
    cache = PromptStates(min_shared=2)
    cache[(1, 2, 3)] = state((1, 2, 3))
    cache[(1, 2, 3, 4, 5)] = state((1, 2, 3, 4, 5))
    assert len(cache) == 1
    assert cache[(1, 2, 3, 9)].tokens == (1, 2, 3, 4, 5)


def test_only_one_row_of_logits_is_kept() -> None:
    cache = PromptStates(min_shared=1)
    saved = state((1, 2))
    cache[(1, 2)] = saved
    assert saved.scores.shape == (1, 8)
    assert cache.cache_size == 1000 + 8 * 4


def test_shared_prefix() -> None:
    assert shared_prefix((1, 2, 3), (1, 2, 4)) == 2
    assert shared_prefix((), (1,)) == 0
    assert shared_prefix((5, 6), (5, 6, 7)) == 2
