"""Trains the learned injection scorer (:mod:`lmsa.security.ngram_model`) and measures it.

``python benchmarks/train_guard_model.py [--write] [--json] [--fit-on seen|train]``

* fits an L2-regularised logistic regression on hashed character 2-5-grams of every corpus row
  that has been read (``train``, ``holdout``, ``fresh`` .. ``fresh10``), never of the blind
  splits (``benchmarks.guard.BLIND``), which are scored once, after every choice is made;
  ``--fit-on train`` fits on ``train`` alone, for comparison (``--weights`` writes it elsewhere);
* makes every choice on out-of-fold scores: five folds with whole templates kept out of each
  fold, so each read row is scored by a model that never saw its phrasing, as a new attack
  would be (SECURITY.md says which blind figures were seen between versions of these rules):

  - the confirm level: the 2nd percentile of the injections' out-of-fold review probabilities
    (the highest of the whole text and its parts, ``NgramModel.review``). A cue block under
    ``checks.SURE`` stands only at or above it, so about 2 % of the attacks the cues catch
    could be set aside, and every look-alike the scorer finds ordinary is;
  - the L2 strength (1e-5, 1e-4, 1e-3): the one whose out-of-fold scores put the most benign
    rows below that level (the most false alarms set aside for that 2 %);
  - the shortest text the scorer may block on its own: the 1st percentile of the fitted
    injections' lengths (a few words carry too few n-grams to go on);
  - the thresholds at which the scorer blocks on its own: for a message of one window, the
    higher of the lowest one whose out-of-fold false-positive rate on benign rows is at most
    ``--max-fpr`` and the lowest one that refuses at most 0.5 % of the short paragraphs of
    ordinary text in ``benchmarks/guard_ordinary.py``'s tune half; for longer texts (``full``
    mode) the same with that half's 2 KB pieces (long text was where an earlier fit of this
    kind went wrong: 10 % of it refused);
* prints recall / FPR per split (the blind ones only with ``--blind``) for the cues alone and
  each mode of ``LMSA_INJECTION_MODEL``
  (``confirm``, ``ngram``, the default, and ``full``). For the fitted splits the scorer's part
  is in-sample; the blind splits are the figures that say how it generalises;
* the scorer's median latency on the 2 KB inputs of ``benchmarks/guard.py``;
* ``--write`` saves the weights (dense float32), the bias, the thresholds and the confirm level
  to ``lmsa/security/data/injection_ngrams.bin``, the file the package ships.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from array import array
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `benchmarks` as a package

from benchmarks.guard import BLIND, FRESH, _inputs, load_corpus
from benchmarks.guard_ordinary import paragraphs, pieces
from lmsa.security.checks import SURE
from lmsa.security.injection import score_injection
from lmsa.security.ngram_model import BITS, PART, WEIGHTS, NgramModel, buckets, features
from lmsa.security.normalize import fold
from lmsa.security.policy import SecurityPolicy

SPLITS = ("train", "holdout", *FRESH)
READ = ("train", "holdout", "fresh", *(f"fresh{n}" for n in range(2, 11)))
"""The splits whose rows have been read: what the shipped scorer is fitted on (named, so a new
blind split is never fitted by default)."""
FOLDS = 5


def fit(
    rows: list[np.ndarray], labels: np.ndarray, *, l2: float, steps: int = 600
) -> tuple[np.ndarray, float]:
    """Full-batch Adam on the mean log-loss + ``l2``/2 * |w|^2 (no library needed: the data
    is a few hundred short texts)."""
    flat = np.concatenate(rows)
    owner = np.repeat(np.arange(len(rows)), [len(r) for r in rows])
    scale = 1.0 / np.sqrt(np.maximum([len(r) for r in rows], 1))
    size = 1 << BITS
    w = np.zeros(size)
    b = 0.0
    m_w, v_w, m_b, v_b = np.zeros(size), np.zeros(size), 0.0, 0.0
    rate, beta1, beta2, eps = 0.05, 0.9, 0.999, 1e-8
    n = len(rows)
    for t in range(1, steps + 1):
        z = b + np.bincount(owner, weights=w[flat], minlength=n) * scale
        p = 1.0 / (1.0 + np.exp(-z))
        r = (p - labels) / n
        g_w = np.bincount(flat, weights=(r * scale)[owner], minlength=size) + l2 * w
        g_b = float(r.sum())
        m_w = beta1 * m_w + (1 - beta1) * g_w
        v_w = beta2 * v_w + (1 - beta2) * g_w**2
        m_b = beta1 * m_b + (1 - beta1) * g_b
        v_b = beta2 * v_b + (1 - beta2) * g_b**2
        correction = np.sqrt(1 - beta2**t) / (1 - beta1**t)
        w -= rate * correction * m_w / (np.sqrt(v_w) + eps)
        b -= rate * correction * m_b / (np.sqrt(v_b) + eps)
    return w, b


def probabilities(w: np.ndarray, b: float, rows: list[np.ndarray]) -> np.ndarray:
    return np.array(
        [1.0 / (1.0 + np.exp(-(b + w[r].sum() / np.sqrt(max(len(r), 1))))) for r in rows]
    )


def template_folds(rows: list[dict[str, str]]) -> np.ndarray:
    """The fold of each row: whole templates go to one fold (deterministic assignment), so a
    phrasing is never scored by a model that saw it."""
    templates = sorted({r["template"] for r in rows})
    fold_of = {t: i % FOLDS for i, t in enumerate(templates)}
    return np.array([fold_of[r["template"]] for r in rows])


def out_of_fold(
    train: list[dict[str, str]],
    feats: list[np.ndarray],
    labels: np.ndarray,
    l2: float,
    parts: list[list[np.ndarray]] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold probabilities of the fitted rows, folds made of whole templates: of each
    whole text, and the highest of it and its parts (``parts``: the features of each row's
    :data:`~lmsa.security.ngram_model.PART`-long parts), which is what a review sees."""
    folds = template_folds(train)
    oof = np.zeros(len(train))
    reviewed = np.zeros(len(train))
    for k in range(FOLDS):
        inside = np.flatnonzero(folds != k)
        out = np.flatnonzero(folds == k)
        w, b = fit([feats[i] for i in inside], labels[inside], l2=l2)
        oof[out] = probabilities(w, b, [feats[i] for i in out])
        for i in out:
            found = probabilities(w, b, parts[i]) if parts and parts[i] else []
            reviewed[i] = max([oof[i], *found])
    return oof, reviewed


def part_features(text: str) -> list[np.ndarray]:
    """The features of each part a review scores beside the whole text (none if it is short)."""
    plain = fold(text)
    if len(plain) <= PART:
        return []
    step = PART // 2
    return [
        np.array(buckets(plain[i : i + PART]), dtype=np.int64)
        for i in range(0, len(plain) - step, step)
    ]


def pick_threshold(oof: np.ndarray, labels: np.ndarray, max_fpr: float) -> float:
    benign = np.sort(oof[labels == 0])[::-1]
    allowed = int(np.floor(max_fpr * len(benign)))
    # Strictly above the (allowed+1)-th highest benign score.
    return float(np.nextafter(benign[allowed], 1.0)) if allowed < len(benign) else 0.0


def _latency(model: NgramModel, text: str, runs: int = 200) -> float:
    for _ in range(10):
        model.score(text)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        model.score(text)
        samples.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(samples), 3)


def rates(flags: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    inj, ben = labels == 1, labels == 0
    return {
        "recall": round(float(flags[inj].mean()), 3) if inj.any() else float("nan"),
        "fpr": round(float(flags[ben].mean()), 3) if ben.any() else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--max-fpr", type=float, default=0.01)
    parser.add_argument("--confirm-quantile", type=float, default=0.02)
    parser.add_argument("--ordinary-fpr", type=float, default=0.005)
    parser.add_argument(
        "--fit-on",
        choices=("seen", "train"),
        default="seen",
        help="seen: every split that has been read (what ships); train: the train split only",
    )
    parser.add_argument("--blind", action="store_true", help="also print the blind splits' figures")
    parser.add_argument("--weights", type=Path, default=WEIGHTS, help="where --write saves")
    args = parser.parse_args()
    if args.write and args.fit_on == "train" and args.weights == WEIGHTS:
        parser.error("--fit-on train --write needs --weights: the shipped file is fitted on seen")
    rows = load_corpus()
    feats = [np.array(features(r["text"]), dtype=np.int64) for r in rows]
    labels = np.array([r["label"] == "injection" for r in rows], dtype=float)
    split = np.array([r["split"] for r in rows])
    fitted = READ if args.fit_on == "seen" else ("train",)
    assert not set(fitted) & BLIND, "a blind split would be fitted"
    is_fit = np.isin(split, fitted)
    fit_rows = [r for r, t in zip(rows, is_fit, strict=True) if t]
    fit_feats = [f for f, t in zip(feats, is_fit, strict=True) if t]
    fit_parts = [part_features(r["text"]) for r in fit_rows]
    fit_labels = labels[is_fit]
    choice: dict[str, Any] = {}
    best = None
    for l2 in (1e-5, 1e-4, 1e-3):
        oof, reviewed = out_of_fold(fit_rows, fit_feats, fit_labels, l2, fit_parts)
        confirm = float(np.quantile(reviewed[fit_labels == 1], args.confirm_quantile))
        set_aside = float((reviewed[fit_labels == 0] < confirm).mean())
        choice[str(l2)] = {"confirm": round(confirm, 4), "benign_set_aside": round(set_aside, 3)}
        if best is None or set_aside > best[0]:
            best = (set_aside, l2, confirm, oof)
    assert best is not None
    _, l2, confirm, oof = best
    w, b = fit(fit_feats, fit_labels, l2=l2)
    weights = array("f", w.astype(np.float32).tolist())
    lengths = [len(fold(r["text"])) for r, t in zip(rows, is_fit, strict=True) if t]
    min_chars = int(np.percentile(np.array(lengths)[fit_labels == 1], 1))
    model = NgramModel(
        weights,
        b,
        threshold=1.0,
        threshold_long=1.0,
        confirm=confirm,
        min_chars=min_chars,
        fitted=fitted,
    )
    out_of_fold_level = pick_threshold(oof, fit_labels, args.max_fpr)

    def ordinary_level(texts: list[str]) -> float:
        scores = np.sort([model.score(text) for text in texts])[::-1]
        allowed = int(np.floor(args.ordinary_fpr * len(scores)))
        return max(out_of_fold_level, float(np.nextafter(scores[allowed], 1.0)))

    model.threshold = ordinary_level(list(paragraphs("tune")))
    model.threshold_long = ordinary_level(list(pieces("tune")))
    threshold, threshold_long = model.threshold, model.threshold_long
    prob = np.array([model.score(r["text"]) for r in rows])
    review = np.array([model.review(r["text"])[1] for r in rows])
    alone = {
        long: np.array([model.threshold_for(r["text"], long=long) or 2.0 for r in rows])
        for long in (False, True)
    }
    cue = np.array([score_injection(r["text"]).score for r in rows])
    cue_block = cue >= SecurityPolicy().injection_threshold
    confirmed = cue_block & ((cue >= SURE) | (review >= confirm))
    rules = {
        "cues alone (off)": cue_block,
        "cues confirmed (confirm)": confirmed,
        "+ alone, short (ngram)": confirmed | (prob >= alone[False]),
        "+ alone, all (full)": confirmed | (prob >= alone[True]),
    }
    shown = [s for s in SPLITS if args.blind or s not in BLIND]
    table = {
        name: {s: rates(flags[split == s], labels[split == s]) for s in shown}
        for name, flags in rules.items()
    }
    report: dict[str, Any] = {"fit_on": args.fit_on, "cv": choice, "l2": l2}
    report |= {"confirm": confirm, "threshold": threshold, "threshold_long": threshold_long}
    report["min_chars"] = min_chars
    report["latency_median_ms"] = {
        name: _latency(model, text) for name, text in _inputs(rows).items()
    }
    report["table"] = table
    if args.write:
        model.save(args.weights)
        report["written"] = f"{args.weights} ({args.weights.stat().st_size} bytes)"
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"fitted on {args.fit_on} ({len(fit_rows)} rows); blind, never fitted: {sorted(BLIND)}")
    print(f"out-of-fold choices (folds of whole templates): {choice}")
    print(
        f"chosen l2={l2}, confirm level={confirm:.4f}, blocking thresholds: one window "
        f"{threshold:.4f}, longer {threshold_long:.4f}, none under {min_chars} characters"
    )
    print(f"n-gram scorer median ms: {report['latency_median_ms']}")
    print(f"{'rule':<28}" + "".join(f"{s:>16}" for s in shown) + "   (recall / FPR)")
    for name, figures in table.items():
        cells = "".join(f"{f['recall']:>8.3f}/{f['fpr']:<7.3f}" for f in figures.values())
        print(f"{name:<28}{cells}")
    if "written" in report:
        print(f"weights written: {report['written']}")


if __name__ == "__main__":
    main()
