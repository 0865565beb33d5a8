"""Trains the learned injection scorer (:mod:`lmsa.security.ngram_model`) and measures it.

``python benchmarks/train_guard_model.py [--write] [--json] [--fit-on seen|train]``

* fits an L2-regularised logistic regression on hashed character 2-5-grams of every corpus row
  that has been read (``READ``: ``train``, ``holdout``, ``scorer``, ``fresh`` .. ``fresh15``)
  and of :data:`ORDINARY` ordinary paragraphs as benign rows, never of the blind splits
  (``benchmarks.guard.BLIND``), which are scored once, after every choice is made;
  ``--fit-on train`` fits on ``train`` alone, for comparison (``--weights`` writes it elsewhere);
* makes the scorer's choices on out-of-fold scores: five folds with whole templates kept out of
  each fold, so each read row is scored by a model that never saw its phrasing, as a new attack
  would be (SECURITY.md says which blind figures were seen between versions of these rules):

  - the review level: the 2nd percentile of the injections' out-of-fold review probabilities
    (the highest of the whole text and its parts, ``NgramModel.review``). A cue block of a
    text longer than a window, under ``checks.SURE``, stands only at or above it;
  - the L2 strength (1e-5, 1e-4, 1e-3): the one whose out-of-fold scores put the most benign
    rows below that level (the most false alarms set aside for that 2 %);
  - the shortest text the scorer judges: the 1st percentile of the fitted injections' lengths
    (a few words carry too few n-grams to go on);
* fits the combination that judges a message of one window (``ngram_model.Combination``: the
  cue score, whether it reaches the cue threshold and ``SURE``, the logit of the scorer's
  probability, for a sure cue its review's) on the one-window rows of :data:`COMBINED`, which
  the cues were never tuned on, each writer's rows scored by a scorer fitted without them
  (:func:`source`), as a blind set would be; its level is the higher of the lowest one that
  blocks at most ``--combined-fpr`` (1.5 %) of those benign rows and the lowest one that
  refuses at most 0.5 % of the ordinary paragraphs of the tune half the scorer was not fitted
  on; its floor (a cue block stands when a sentence-long part reaches it) is the lowest that
  adds at most ``--floor-fpr`` (0.5 %) of those benign rows. Both budgets were chosen on these
  held-out scores by a one-off check that appended three ordinary sentences to each attack (not
  ``guard_review.py``'s): with no floor budget 90 % of those attacks stayed blocked, with this
  one 95 %, for 0.4 % more false positives (SECURITY.md); ``held_out_writers`` prints what the
  fitted rule does on those rows;
* the level at which ``full`` blocks a longer text on the scorer's word alone: the higher of the
  out-of-fold 1 % false-positive level and the one that refuses at most 0.5 % of the tune
  half's 2 KB pieces (long text was where an earlier fit of this kind went wrong: 10 % of it
  refused);
* prints recall / FPR per split (the blind ones only with ``--blind``) for the cues alone and
  each mode of ``LMSA_INJECTION_MODEL``
  (``confirm``, ``ngram``, the default, and ``full``). For the fitted splits the scorer's part
  is in-sample; the blind splits are the figures that say how it generalises;
* the scorer's median latency on the 2 KB inputs of ``benchmarks/guard.py``;
* ``--write`` saves the weights (dense float32), the bias, the combination and the levels
  to ``lmsa/security/data/injection_ngrams.bin``, the file the package ships.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import zlib
from array import array
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `benchmarks` as a package

from benchmarks.guard import BLIND, FRESH, _inputs, load_corpus
from benchmarks.guard_ordinary import paragraphs, pieces
from lmsa.security.checks import SURE, judge_injection
from lmsa.security.injection import score_injection
from lmsa.security.ngram_model import (
    BITS,
    FLOOR_PART,
    PART,
    WEIGHTS,
    WINDOW,
    Combination,
    NgramModel,
    buckets,
    features,
)
from lmsa.security.normalize import fold
from lmsa.security.policy import SecurityPolicy

SPLITS = ("train", "holdout", "scorer", *FRESH)
READ = ("train", "holdout", "scorer", "fresh", *(f"fresh{n}" for n in range(2, 16)))
"""The splits whose rows have been read: what the shipped scorer is fitted on (named, so a new
blind split is never fitted by default)."""
FOLDS = 5
COMBINED = ("fresh11", "fresh12", "fresh13", "fresh14", "fresh15", "scorer")
"""The read splits the combination with the cues is fitted on: the cues were never tuned on
them, and each of their writers' rows is scored by a scorer fitted without that writer's rows
(:func:`source`), as a blind set's would be."""


ORDINARY = 1000
"""How many ordinary paragraphs (``benchmarks/guard_ordinary.py``'s tune half, the documents
whose name hashes even) every fit takes as benign rows: without them the scorer had met
almost only look-alikes as benign text and gave 18 % of ordinary documentation paragraphs a
probability of 0.5 or more; with them, about 0.1 % of the paragraphs it was not fitted on
(both from a one-off check, SECURITY.md)."""


def ordinary(fitted: bool) -> list[str]:
    """The tune half's paragraphs the scorer is fitted on (``fitted``: a fixed sample of
    :data:`ORDINARY` of those whose text hashes even), or the rest of that half's paragraphs
    of one window, where the combination's level is checked."""
    tune = list(paragraphs("tune"))
    if not fitted:
        return [t for t in tune if zlib.crc32(t.encode()) % 2]
    even = [t for t in tune if not zlib.crc32(t.encode()) % 2]
    order = np.random.default_rng(0).permutation(len(even))[:ORDINARY]
    return [even[i] for i in sorted(order)]


def source(row: dict[str, str]) -> str:
    """Who wrote a row: its split, or for ``scorer`` rows which of its three writers (the id's
    third character: ie1..., be2...)."""
    return row["split"] + row["id"][2] if row["split"] == "scorer" else row["split"]


def logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-2, steps: int = 4000) -> np.ndarray:
    """Gradient descent on the mean log-loss of a handful of features (bias last)."""
    x = np.column_stack([x, np.ones(len(x))])
    w = np.zeros(x.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        w -= 0.1 * (x.T @ (p - y) / len(y) + l2 * np.append(w[:-1], 0.0))
    return w


def combination_inputs(cue: np.ndarray, over: np.ndarray, p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.column_stack([cue, over, cue >= SURE, np.log(p / (1 - p))]).astype(float)


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
    extra: list[np.ndarray] = (),  # type: ignore[assignment]
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
        w, b = fit(
            [feats[i] for i in inside] + list(extra),
            np.concatenate([labels[inside], np.zeros(len(extra))]),
            l2=l2,
        )
        oof[out] = probabilities(w, b, [feats[i] for i in out])
        for i in out:
            found = probabilities(w, b, parts[i]) if parts and parts[i] else []
            reviewed[i] = max([oof[i], *found])
    return oof, reviewed


def part_features(text: str, part: int = PART) -> list[np.ndarray]:
    """The features of each part a review scores beside the whole text (none if it is short)."""
    plain = fold(text)
    if len(plain) <= part:
        return []
    step = part // 2
    return [
        np.array(buckets(plain[i : i + part]), dtype=np.int64)
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
    parser.add_argument("--combined-fpr", type=float, default=0.015)
    parser.add_argument("--floor-fpr", type=float, default=0.005)
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
    plain = [np.array(features(t), dtype=np.int64) for t in ordinary(fitted=True)]
    fit_labels = labels[is_fit]
    choice: dict[str, Any] = {}
    best = None
    for l2 in (1e-5, 1e-4, 1e-3):
        oof, reviewed = out_of_fold(fit_rows, fit_feats, fit_labels, l2, fit_parts, plain)
        confirm = float(np.quantile(reviewed[fit_labels == 1], args.confirm_quantile))
        set_aside = float((reviewed[fit_labels == 0] < confirm).mean())
        choice[str(l2)] = {"confirm": round(confirm, 4), "benign_set_aside": round(set_aside, 3)}
        if best is None or set_aside > best[0]:
            best = (set_aside, l2, confirm, oof)
    assert best is not None
    _, l2, confirm, oof = best
    w, b = fit(fit_feats + plain, np.concatenate([fit_labels, np.zeros(len(plain))]), l2=l2)
    weights = array("f", w.astype(np.float32).tolist())
    lengths = [len(fold(r["text"])) for r, t in zip(rows, is_fit, strict=True) if t]
    min_chars = int(np.percentile(np.array(lengths)[fit_labels == 1], 1))
    policy = SecurityPolicy()
    cue = np.array([score_injection(r["text"]).score for r in rows])
    over = cue >= policy.injection_threshold

    # The combination: fitted on the one-window rows of COMBINED, each scored by a scorer
    # fitted without its writer's rows.
    writers = np.array([source(r) for r in rows])
    one_window = np.array([min_chars <= len(fold(r["text"])) <= WINDOW for r in rows])
    held_p = np.full(len(rows), np.nan)
    held_review = np.zeros(len(rows))
    held_floor = np.zeros(len(rows))
    combined = np.isin(split, COMBINED) & is_fit
    for writer in sorted(set(writers[combined])):
        inside = np.flatnonzero(is_fit & (writers != writer))
        scored = np.flatnonzero((writers == writer) & one_window)
        wk, bk = fit(
            [feats[i] for i in inside] + plain,
            np.concatenate([labels[inside], np.zeros(len(plain))]),
            l2=l2,
        )
        held_p[scored] = probabilities(wk, bk, [feats[i] for i in scored])
        for i in scored:  # a cue block's reviews: the highest of the text and its parts
            if over[i]:
                for part, into in ((PART, held_review), (FLOOR_PART, held_floor)):
                    found = part_features(rows[i]["text"], part)
                    into[i] = max([held_p[i], *(probabilities(wk, bk, found) if found else [])])
    chosen = np.flatnonzero(combined & one_window)
    if len(chosen) == 0:
        parser.error("the combination is fitted on COMBINED, which --fit-on train leaves out")
    sure_p = np.where(cue >= SURE, held_review, held_p)  # a sure cue: its review's
    inputs = combination_inputs(cue[chosen], over[chosen], sure_p[chosen])
    coef = logistic(inputs, labels[chosen])
    values = np.column_stack([inputs, np.ones(len(chosen))]) @ coef
    benign = np.sort(values[labels[chosen] == 0])[::-1]
    # Strictly above the (allowed+1)-th highest benign value.
    level = float(np.nextafter(benign[int(np.floor(args.combined_fpr * len(benign)))], np.inf))
    model = NgramModel(
        weights,
        b,
        combination=Combination(*(float(c) for c in coef), level=level, floor=1.0),
        threshold_long=1.0,
        confirm=confirm,
        min_chars=min_chars,
        fitted=fitted,
    )
    tune = [t for t in ordinary(fitted=False) if model.one_window(t)]
    plain_values = np.sort(
        [
            model.combination.value(
                c := score_injection(t).score,
                over=c >= policy.injection_threshold,
                sure=c >= SURE,
                probability=model.review(t)[1] if c >= SURE else model.score(t),
            )
            for t in tune
        ]
    )[::-1]
    allowed = int(args.ordinary_fpr * len(plain_values))
    level_ordinary = float(np.nextafter(plain_values[allowed], np.inf))
    model.combination = replace(model.combination, level=max(level, level_ordinary))
    # The floor: the lowest sentence-long review that adds at most --floor-fpr of those benign
    # rows to what the combination blocks (just above the (allowed+1)-th highest such review
    # of a benign cue block the combination lets through).
    benign_rows = labels[chosen] == 0
    through = np.sort(
        held_floor[chosen][benign_rows & over[chosen] & (values < model.combination.level)]
    )[::-1]
    added = int(np.floor(args.floor_fpr * benign_rows.sum()))
    floor = float(np.nextafter(through[added], np.inf)) if added < len(through) else 0.0
    model.combination = replace(model.combination, floor=floor)
    # What the combination does on the rows it was fitted on, each scored by a scorer that never
    # saw its writer (its five coefficients are in-sample): an estimate before any blind set.
    held_blocked = (values >= model.combination.level) | (
        over[chosen] & (held_floor[chosen] >= model.combination.floor)
    )
    held_out = rates(held_blocked, labels[chosen])
    out_of_fold_level = pick_threshold(oof, fit_labels, args.max_fpr)
    long_scores = np.sort([model.score(text) for text in pieces("tune")])[::-1]
    model.threshold_long = max(
        out_of_fold_level,
        float(np.nextafter(long_scores[int(args.ordinary_fpr * len(long_scores))], 1.0)),
    )
    modes = {
        "cues alone (off)": "off",
        "cues confirmed (confirm)": "confirm",
        "combined (ngram)": "ngram",
        "+ alone, long (full)": "full",
    }
    rules = {
        name: np.array(
            [
                judge_injection(
                    r["text"], c, policy=SecurityPolicy(injection_model=mode), model=model
                )[0]
                for r, c in zip(rows, cue, strict=True)
            ]
        )
        for name, mode in modes.items()
    }
    shown = [s for s in SPLITS if args.blind or s not in BLIND]
    table = {
        name: {s: rates(flags[split == s], labels[split == s]) for s in shown}
        for name, flags in rules.items()
    }
    report: dict[str, Any] = {"fit_on": args.fit_on, "cv": choice, "l2": l2}
    report |= {"confirm": confirm, "threshold_long": model.threshold_long}
    report["combination"] = asdict(model.combination) | {
        "fitted_rows": len(chosen),
        "level_from_rows": level,
        "level_from_ordinary": level_ordinary,
        "held_out_writers": held_out,
    }
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
        f"chosen l2={l2}, review level={confirm:.4f}, longer texts alone (full) at "
        f"{model.threshold_long:.4f}, none under {min_chars} characters"
    )
    print(f"combination for one window ({len(chosen)} rows): {report['combination']}")
    print(f"n-gram scorer median ms: {report['latency_median_ms']}")
    print(f"{'rule':<28}" + "".join(f"{s:>16}" for s in shown) + "   (recall / FPR)")
    for name, figures in table.items():
        cells = "".join(f"{f['recall']:>8.3f}/{f['fpr']:<7.3f}" for f in figures.values())
        print(f"{name:<28}{cells}")
    if "written" in report:
        print(f"weights written: {report['written']}")


if __name__ == "__main__":
    main()
