"""A learned injection scorer: hashed character n-grams of the folded text + logistic regression.

Character 2-5-grams of :func:`~lmsa.security.normalize.fold`'s plain view work the same way in
every script (no tokeniser, no word list per language), and hashing them into a fixed number of
buckets keeps the model a weight vector. ``benchmarks/train_guard_model.py`` trains it on the
corpus' ``train`` split only and writes ``lmsa/security/data/injection_ngrams.npz`` (sparse: the
buckets seen in training, float16). It is an optional second opinion beside the cue scorer
(``LMSA_INJECTION_MODEL=ngram``): it blocks only at a probability whose false-positive rate on
unseen templates, by cross-validation on train, was at most 1 %. SECURITY.md has its figures.

Written in numpy rather than scikit-learn on purpose: scikit-learn (with scipy) is a ~30 MB
dependency for what is here about sixty lines, and the hashing must be reproducible byte for
byte between training and scoring, which a vectorised polynomial hash guarantees (Python's own
``hash`` is salted per process). numpy is imported on first use, so the cues alone never pay
for it.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from lmsa.security.normalize import fold

if TYPE_CHECKING:
    import numpy as np

WEIGHTS = Path(__file__).resolve().parent / "data" / "injection_ngrams.npz"
BITS = 18
NGRAMS = (2, 3, 4, 5)
WINDOW = 400
"""Longer texts are also scored in overlapping windows of this many characters (max taken),
so one injected sentence in a long document is not diluted by the rest of it."""

_MULT = 1_000_003
_GOLDEN = 0x9E3779B97F4A7C15


def buckets(text: str) -> np.ndarray:
    """The sorted unique hash buckets of the character n-grams of ``text`` (already folded)."""
    import numpy as np

    padded = f" {text} "
    codes = np.frombuffer(padded.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    parts = []
    with np.errstate(over="ignore"):
        for n in NGRAMS:
            count = len(codes) - n + 1
            if count <= 0:
                continue
            h = np.full(count, n, dtype=np.uint64)
            for k in range(n):
                h = h * np.uint64(_MULT) + codes[k : k + count]
            parts.append((h * np.uint64(_GOLDEN)) >> np.uint64(64 - BITS))
    if not parts:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.concatenate(parts)).astype(np.int64)


def features(text: str) -> np.ndarray:
    """Bucket indices of the whole folded text; the model weighs each by 1/sqrt(len)."""
    return buckets(fold(text))


def windows(plain: str) -> list[str]:
    """``plain`` itself if short, else overlapping windows of :data:`WINDOW` characters."""
    if len(plain) <= WINDOW:
        return [plain]
    step = WINDOW // 2
    return [plain[i : i + WINDOW] for i in range(0, len(plain) - step, step)]


class NgramModel:
    def __init__(self, weights: np.ndarray, bias: float, threshold: float) -> None:
        self.weights = weights
        self.bias = bias
        self.threshold = threshold
        """The probability at or above which the combined guard blocks (chosen on train)."""

    @classmethod
    def load(cls, path: Path = WEIGHTS) -> NgramModel:
        import numpy as np

        with np.load(path) as data:
            dense = np.zeros(1 << BITS, dtype=np.float32)
            dense[data["index"]] = data["value"].astype(np.float32)
            return cls(dense, float(data["bias"]), float(data["threshold"]))

    def _probability(self, index: np.ndarray) -> float:
        import numpy as np

        if len(index) == 0:
            return 0.0
        z = self.bias + float(self.weights[index].sum()) / np.sqrt(len(index))
        return float(1.0 / (1.0 + np.exp(-z)))

    def score(self, text: str) -> float:
        """The probability that ``text`` is an injection (max over windows for long texts)."""
        plain = fold(text)
        return max(self._probability(buckets(part)) for part in windows(plain))


@functools.cache
def default_model() -> NgramModel:
    """The shipped weights, loaded once per process."""
    return NgramModel.load()
