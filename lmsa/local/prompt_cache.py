"""The model's state after recent prompts, so a prompt that starts like an earlier one skips
evaluating the shared start.

Why: llama.cpp keeps one KV cache and reuses it only for the prefix a prompt shares with the
*previous* prediction. lmsa's turn alternates prompts (understand, plan, answer), each with its
own long fixed instructions, so every call re-evaluated its whole prompt; on a 2-core CPU
prompt evaluation is most of a small model's time. With the states of the last few prompts
kept, the plan call of the next turn starts from the plan instructions already evaluated.

Why not llama-cpp-python's ``LlamaRAMCache`` as it is: it bounds the KV bytes only, while each
saved state also carries a copy of the logits buffer (``n_batch`` x vocabulary floats, about
300 MB for Qwen's 152k-token vocabulary) that is never read back (a restored state decodes at
least one token before sampling), and it restores a state that shares only a few tokens (the
chat template's opening) with the prompt. This cache keeps a fixed number of states, stores
one row of logits, and restores only when enough of the prompt is shared to be worth a load.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llama_cpp.llama import LlamaState

DEFAULT_STATES = 6
MIN_SHARED_TOKENS = 64
"""A restore copies the whole saved state back; for a shorter shared start evaluating the
tokens again costs about as much."""


def shared_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens ``a`` and ``b`` have in common."""
    count = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        count += 1
    return count


class PromptStates:
    """Up to ``max_states`` saved states, keyed by the tokens they hold, least recently used
    dropped first. Shaped like llama-cpp-python's ``BaseLlamaCache`` (what ``Llama.set_cache``
    uses of it) without importing llama_cpp, which is an optional extra."""

    def __init__(self, max_states: int = DEFAULT_STATES, min_shared: int = MIN_SHARED_TOKENS):
        self.max_states = max_states
        self.min_shared = min_shared
        self._states: OrderedDict[tuple[int, ...], LlamaState] = OrderedDict()
        self.hits = 0
        self.reused_tokens = 0

    @property
    def cache_size(self) -> int:
        return sum(state.llama_state_size + state.scores.nbytes for state in self._states.values())

    def __len__(self) -> int:
        return len(self._states)

    def __bool__(self) -> bool:
        return True  # llama-cpp-python tests ``if self.cache:``; an empty cache is still on

    def _best(self, key: Sequence[int]) -> tuple[tuple[int, ...] | None, int]:
        best: tuple[int, ...] | None = None
        best_len = 0
        for tokens in self._states:
            length = shared_prefix(tokens, key)
            if length > best_len:
                best, best_len = tokens, length
        return best, best_len

    def __getitem__(self, key: Sequence[int]) -> LlamaState:
        best, length = self._best(key)
        if best is None or length < self.min_shared:
            raise KeyError("no saved state shares enough of this prompt")
        self._states.move_to_end(best)
        self.hits += 1
        self.reused_tokens += length
        return self._states[best]

    def __contains__(self, key: Sequence[int]) -> bool:
        best, length = self._best(key)
        return best is not None and length >= self.min_shared

    def __setitem__(self, key: Sequence[int], value: LlamaState) -> None:
        tokens = tuple(key)
        # One row of logits is enough: a restored state re-evaluates its last token before it
        # samples, and llama-cpp-python broadcasts the row when it restores the buffer.
        value.scores = value.scores[-1:].copy()
        # A state whose tokens start the new one is superseded by it.
        for older in [t for t in self._states if len(t) <= len(tokens) and tokens[: len(t)] == t]:
            del self._states[older]
        self._states[tokens] = value
        while len(self._states) > self.max_states:
            self._states.popitem(last=False)
