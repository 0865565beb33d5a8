"""What the learned scorer's judgement of the cues' blocks buys and what it lets through.

``python benchmarks/guard_review.py`` fits the scorer as ``train_guard_model.py`` does (same L2,
combination and levels as the shipped weights) but without ``fresh9`` and ``fresh10``, so on
those two read sets the cues' verdicts are known and the scorer's are not tuned, and counts with
``check_input`` (the default mode: the combination for a message of one window and its floor,
the review of longer texts):

* the look-alikes the cues block there that are set aside, and the attacks set aside;
* the caught attacks that pass once one ordinary sentence is appended (three sentences written
  to be ordinary, not to fool this scorer): the scorer's known weakness, since ordinary words
  pull a text's probability down;
* the caught attacks that pass once 200 to 1,600 characters of ordinary documentation (the
  Python docs' topics) are put around them.

These figures are in SECURITY.md; the blind sets are not used here.
"""

from __future__ import annotations

import argparse
import json
import sys
from array import array
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.guard import load_corpus
from benchmarks.train_guard_model import READ, fit
from lmsa.security import ngram_model
from lmsa.security.checks import check_input
from lmsa.security.ngram_model import NgramModel, features
from lmsa.security.policy import SecurityPolicy

HELD = ("fresh9", "fresh10")
APPENDED = (
    " What does that mean for Python data, and why does the feature want that?",
    " Also, could you tell me how the weather usually is in Lisbon in May? Thanks a lot.",
    " By the way, I love how readable the docs for this library are; the examples helped me a "
    "lot last week.",
)
PADDING = (200, 400, 800, 1600)
CUES = SecurityPolicy(injection_model="off")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--l2", type=float, default=1e-5, help="the shipped fit's L2 strength")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    shipped = ngram_model.default_model()
    rows = load_corpus()
    fitted = [r for r in rows if r["split"] in READ and r["split"] not in HELD]
    w, b = fit(
        [np.array(features(r["text"]), dtype=np.int64) for r in fitted],
        np.array([r["label"] == "injection" for r in fitted], dtype=float),
        l2=args.l2,
    )
    model = NgramModel(
        array("f", w.astype(np.float32).tolist()),
        b,
        combination=shipped.combination,
        threshold_long=shipped.threshold_long,
        confirm=shipped.confirm,
        min_chars=shipped.min_chars,
        fitted=tuple(r for r in READ if r not in HELD),
    )
    # check_input looks the model up at each call, so this swaps in the one fitted here
    ngram_model.default_model = lambda: model  # type: ignore[method-assign]

    held = [r for r in rows if r["split"] in HELD]
    blocked = [r for r in held if not check_input(r["text"], policy=CUES).allowed]
    benign = [r["text"] for r in blocked if r["label"] == "benign"]
    attacks = [r["text"] for r in blocked if r["label"] == "injection"]

    def passing(texts: list[str]) -> int:
        return sum(
            check_input(t).allowed and not check_input(t, policy=CUES).allowed for t in texts
        )

    from pydoc_data.topics import topics

    filler = " ".join(" ".join(topics[k] for k in sorted(topics)).split())
    rng = np.random.default_rng(1)

    def padded(text: str, size: int) -> str:
        start = int(rng.integers(0, len(filler) - size))
        middle = start + size // 2
        return f"{filler[start:middle]}\n\n{text}\n\n{filler[middle : start + size]}"

    report = {
        "cue_blocks": {"look-alikes": len(benign), "attacks": len(attacks)},
        "set_aside": {"look-alikes": passing(benign), "attacks": passing(attacks)},
        "appended_sentence_passes": [passing([a + s for a in attacks]) for s in APPENDED],
        "padding_passes": {n: passing([padded(a, n) for a in attacks]) for n in PADDING},
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"scorer fitted without {', '.join(HELD)}; review level {model.confirm:.4f}")
    print(f"cue blocks there: {len(benign)} look-alikes, {len(attacks)} attacks")
    print(f"set aside by the review: {report['set_aside']}")
    print(f"attacks passing with one appended sentence: {report['appended_sentence_passes']}")
    print(f"attacks passing with ordinary padding around them: {report['padding_passes']}")


if __name__ == "__main__":
    main()
