"""A learned injection scorer: hashed character n-grams of the folded text + logistic regression.

Character 2-5-grams of :func:`~lmsa.security.normalize.fold`'s plain view work the same way in
every script (no tokeniser, no word list per language), and hashing them into a fixed number of
buckets keeps the model a weight vector. ``benchmarks/train_guard_model.py`` trains it on every
corpus row that has been read (never the blind sets) and writes
``lmsa/security/data/injection_ngrams.bin``.

It is a second opinion beside the cue scorer (``LMSA_INJECTION_MODEL``). A message of one
window (from :attr:`NgramModel.min_chars` up to :data:`WINDOW` characters, most messages) is
judged by :class:`Combination`, a logistic combination of the cue score and this scorer's
probability, fitted on rows whose writers neither the cues nor this scorer had seen: on new
phrasing the two err on different texts, the cues most on look-alikes that quote or discuss an
attack, the scorer on attacks in words it has not met. For other texts the cues decide, and
the scorer reviews what they would block (:meth:`NgramModel.review`): a block stands when its
probability reaches :attr:`NgramModel.confirm`, a level 98 % of injections of unseen phrasing
reached in cross-validation. In the ``full`` mode it also blocks longer texts alone at
:attr:`NgramModel.threshold_long`. SECURITY.md has its figures.

Written in plain Python on purpose. The scorer runs on most messages (every one of one window),
the first of a session included, and numpy's import alone (about 60 ms) would
then sit before the first model request; hashing the
n-grams of one 400-character window in Python takes about 0.5 ms, and the weights are a dense
float32 array read straight into :class:`array.array`. The price is long text: scoring 2 KB
takes about 6 ms on a slow 2-core machine (numpy took 1.4 on a faster one) and reviewing it,
windows and parts hashed once together, about 9 ms, paid only when the cues would block the
text, or always with ``full``. The hash must be reproducible byte for
byte between training and scoring (Python's own ``hash`` is salted per process), so it is a
fixed polynomial hash, pinned by a test. scikit-learn was not used for the training either
(``benchmarks/train_guard_model.py`` says why).
"""

from __future__ import annotations

import functools
import json
import math
import struct
import sys
from array import array
from dataclasses import asdict, dataclass
from pathlib import Path

from lmsa.security.normalize import fold

WEIGHTS = Path(__file__).resolve().parent / "data" / "injection_ngrams.bin"
BITS = 18
NGRAMS = (2, 3, 4, 5)
WINDOW = 400
"""Longer texts are scored in overlapping windows of this many characters (max taken), so one
injected sentence in a long document is not diluted by the rest of it."""
PART = 120
"""The review of a cue block also scores every part of this many characters (overlapping by
half): otherwise a sentence of ordinary words appended to an attack dilutes the whole text's
probability below the review's level. SECURITY.md has the figures behind the length: shorter
parts let fewer such attacks through and set aside fewer look-alikes."""

FLOOR_PART = 60
"""The part length of the review :attr:`Combination.floor` is compared with: about a
sentence, so an attack keeps a part of its own when ordinary sentences are put beside it."""

_MAGIC = b"LMSANG1\n"
_MULT = 1_000_003
_GOLDEN = 0x9E3779B97F4A7C15
_MASK = (1 << 64) - 1
_SHIFT = 64 - BITS
# h_n = n * MULT**n + (the polynomial of the n codes), so one pass per start position serves
# every n: the seed term is added at the end.
_SEED = {n: n * pow(_MULT, n, 1 << 64) for n in NGRAMS}


def buckets(text: str) -> list[int]:
    """The sorted unique hash buckets of the character n-grams of ``text`` (already folded)."""
    codes = [ord(c) for c in f" {text} "]
    size = len(codes)
    found: set[int] = set()
    add = found.add
    low, high = NGRAMS[0], NGRAMS[-1]
    for start in range(size - low + 1):
        h = 0
        for n in range(1, min(high, size - start) + 1):
            h = (h * _MULT + codes[start + n - 1]) & _MASK
            if n >= low:
                add(((((h + _SEED[n]) & _MASK) * _GOLDEN) & _MASK) >> _SHIFT)
    return sorted(found)


def _bucket(h: int, n: int) -> int:
    return ((((h + _SEED[n]) & _MASK) * _GOLDEN) & _MASK) >> _SHIFT


class _Grams:
    """The buckets of every n-gram of one folded text, hashed once, from which the buckets of
    any slice of it (padded as :func:`buckets` pads a text) are put together: a long text is
    scored in overlapping windows and reviewed in overlapping parts, and hashing each of them
    anew hashed every character about four times over. The result equals ``buckets`` of the
    slice (a test compares them)."""

    def __init__(self, plain: str) -> None:
        self.plain = plain
        codes = [ord(c) for c in plain]
        size = len(codes)
        low, high = NGRAMS[0], NGRAMS[-1]
        inner: dict[int, list[int]] = {n: [0] * max(size - n + 1, 0) for n in NGRAMS}
        for start in range(size):
            h = 0
            for n in range(1, min(high, size - start) + 1):
                h = (h * _MULT + codes[start + n - 1]) & _MASK
                if n >= low:
                    inner[n][start] = _bucket(h, n)
        self.inner = inner

    def of(self, start: int, end: int) -> list[int]:
        """``buckets(plain[start:end])``."""
        found: set[int] = set()
        for n, inner in self.inner.items():
            if end - n >= start:
                found.update(inner[start : end - n + 1])
        # The n-grams that hold a padding space: those that start at the leading one and
        # those that end at the trailing one (only the slice's first and last few characters).
        high = NGRAMS[-1]
        if end - start < 2 * high:
            head = tail = [32, *map(ord, self.plain[start:end]), 32]
        else:
            head = [32, *map(ord, self.plain[start : start + high - 1])]
            tail = [*map(ord, self.plain[end - high + 1 : end]), 32]
        h = 0
        for n, code in enumerate(head[:high], 1):
            h = (h * _MULT + code) & _MASK
            if n >= NGRAMS[0]:
                found.add(_bucket(h, n))
        for n in NGRAMS:
            if n > len(tail):
                break
            h = 0
            for code in tail[len(tail) - n :]:
                h = (h * _MULT + code) & _MASK
            found.add(_bucket(h, n))
        return sorted(found)


@functools.lru_cache(maxsize=4)
def _grams(plain: str) -> _Grams:
    # judge_injection scores a long text whole and then its parts: hashed once for all of them
    return _Grams(plain)


def features(text: str) -> list[int]:
    """Bucket indices of the whole folded text; the model weighs each by 1/sqrt(len)."""
    return buckets(fold(text))


@dataclass(frozen=True)
class Combination:
    """How a message of one window is judged: a logistic combination of the cue score, whether
    it reaches the cue threshold and :data:`~lmsa.security.checks.SURE`, and the logit of the
    scorer's probability (for a sure cue, of :meth:`NgramModel.review`'s), blocked at
    ``level``; a cue block also stands when its review reaches ``floor``. Fitted on texts
    whose writers the scorer never saw (``benchmarks/train_guard_model.py``), so it weighs
    the two as they hold up on new phrasing: neither decides alone, a sure cue included."""

    cue: float
    over: float
    sure: float
    logit: float
    bias: float
    level: float
    floor: float
    """A cue block whose review over :data:`FLOOR_PART`-long parts reaches this stands
    whatever the combination says: the whole text's probability is an average over its
    n-grams, so an ordinary sentence appended to an attack pulls it down, but not its attack's
    part. It is set so that it adds few of the look-alikes the fit held out (0.5 %)."""

    def value(self, cue: float, *, over: bool, sure: bool, probability: float) -> float:
        p = min(max(probability, 1e-6), 1 - 1e-6)
        return (
            self.bias
            + self.cue * cue
            + self.over * over
            + self.sure * sure
            + self.logit * math.log(p / (1 - p))
        )


class NgramModel:
    def __init__(
        self,
        weights: array[float],
        bias: float,
        *,
        combination: Combination,
        threshold_long: float,
        confirm: float,
        min_chars: int = 0,
        fitted: tuple[str, ...] = (),
    ) -> None:
        self.weights = weights
        self.bias = bias
        self.combination = combination
        """How a message of one window (``min_chars`` to :data:`WINDOW` characters) is judged."""
        self.threshold_long = threshold_long
        """The same for longer texts (``full`` mode): higher, since the max over many windows
        of ordinary text reaches high probabilities more often."""
        self.confirm = confirm
        """The probability a cue block needs to stand (below it the block is set aside)."""
        self.min_chars = min_chars
        """Shorter texts are never blocked on the scorer's word alone: a few words carry too
        few n-grams to go on ("you know" scored 0.98), and 99 % of the injections it was
        fitted on are at least this long."""
        self.fitted = fitted
        """The corpus splits the weights were fitted on."""

    @classmethod
    def load(cls, path: Path = WEIGHTS) -> NgramModel:
        data = path.read_bytes()
        if not data.startswith(_MAGIC):
            raise ValueError(f"{path} is not an n-gram weights file")
        (length,) = struct.unpack_from("<I", data, len(_MAGIC))
        start = len(_MAGIC) + 4
        header = json.loads(data[start : start + length])
        weights = array("f")
        weights.frombytes(data[start + length :])
        if sys.byteorder == "big":
            weights.byteswap()
        if header.get("bits") != BITS or len(weights) != 1 << BITS:
            raise ValueError(f"{path} was written for another hash size")
        if not 0.0 <= header["confirm"] <= header["threshold_long"] <= 1:
            raise ValueError(f"{path}: its levels are out of order")
        return cls(
            weights,
            header["bias"],
            combination=Combination(**header["combination"]),
            threshold_long=header["threshold_long"],
            confirm=header["confirm"],
            min_chars=header["min_chars"],
            fitted=tuple(header["fitted"]),
        )

    def save(self, path: Path) -> None:
        header = {
            "bits": BITS,
            "bias": self.bias,
            "combination": asdict(self.combination),
            "threshold_long": self.threshold_long,
            "confirm": self.confirm,
            "min_chars": self.min_chars,
            "fitted": list(self.fitted),
        }
        raw = json.dumps(header).encode()
        weights = array("f", self.weights)
        if sys.byteorder == "big":
            weights.byteswap()
        path.write_bytes(_MAGIC + struct.pack("<I", len(raw)) + raw + weights.tobytes())

    def probability(self, index: list[int]) -> float:
        """The probability of one window's buckets (``features`` of a text)."""
        if not index:
            return 0.0
        z = self.bias + sum(map(self.weights.__getitem__, index)) / len(index) ** 0.5
        if z < -700:  # math.exp overflows past about 709; the probability is 0 by then
            return 0.0
        return 1.0 / (1.0 + math.exp(-z))

    def score(self, text: str) -> float:
        """The probability that ``text`` is an injection (max over windows for long texts)."""
        return self.score_plain(fold(text))

    def score_plain(self, plain: str) -> float:
        """:meth:`score` of a text already folded (a caller that folds once for several
        scores)."""
        if len(plain) <= WINDOW:
            return self.probability(buckets(plain))
        grams = _grams(plain)
        step = WINDOW // 2
        return max(
            self.probability(grams.of(i, min(i + WINDOW, len(plain))))
            for i in range(0, len(plain) - step, step)
        )

    def review(self, text: str, part: int = PART) -> tuple[float, float]:
        """``score(text)``, and the highest probability of it or any of its ``part``-long
        parts (overlapping by half): what a cue block is reviewed by."""
        plain = fold(text)
        whole = self.score_plain(plain)
        return whole, max(whole, self.parts(plain, part))

    def parts(self, plain: str, part: int) -> float:
        """The highest probability of the ``part``-long parts (overlapping by half) of
        ``plain``, a folded text; 0 if it is no longer than one part."""
        if len(plain) <= part:
            return 0.0
        grams = _grams(plain)
        step = part // 2
        return max(
            self.probability(grams.of(i, min(i + part, len(plain))))
            for i in range(0, len(plain) - step, step)
        )

    def one_window(self, text: str) -> bool:
        """Whether ``text`` is judged by :attr:`combination` (from :attr:`min_chars` to
        :data:`WINDOW` characters folded); shorter and longer texts are the cues' to block."""
        return self.min_chars <= len(fold(text)) <= WINDOW


@functools.cache
def default_model() -> NgramModel:
    """The shipped weights, loaded once per process."""
    return NgramModel.load()
