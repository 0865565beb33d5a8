"""Trains the optional n-gram injection scorer (:mod:`lmsa.security.ngram_model`) and measures it.

``python benchmarks/train_guard_model.py [--write] [--json]``

* fits an L2-regularised logistic regression on hashed character 2-5-grams of the ``train``
  split ONLY (holdout, fresh and fresh2 rows are never seen by the fit or by any choice made here);
  ``--fit-on seen`` fits on every split but the blind one instead (``--weights`` writes it
  elsewhere): on the blind set that scores far better, and on ordinary long text
  (``benchmarks/guard_ordinary.py``) far worse, so it is not what ships (SECURITY.md);
* picks the decision threshold by grouped cross-validation on ``train``: five folds with whole
  templates kept out of each fold (so the out-of-fold scores are on unseen phrasings, like the
  blind splits), threshold = the lowest one whose out-of-fold false-positive rate on train's
  benign rows is at most ``--max-fpr``. The cue scorer cannot be cross-validated (it was tuned on
  all of train by hand), so combination rules are fixed in advance, not fitted: the classifier
  alone and cues OR classifier (threshold at ``--max-fpr``), and the classifier lifting an
  "unsure" cue score to a block (its own threshold at ``--lift-fpr``, looser, since it only acts
  where the cues already found something);
* prints recall / FPR per split for the cues, the classifier and each combination;
* the classifier's median latency on the 2 KB inputs of ``benchmarks/guard.py``;
* ``--write`` saves the sparse weights (float16 values of the buckets seen in training) to
  ``lmsa/security/data/injection_ngrams.npz``, the file the package ships.

The scorer itself is :mod:`lmsa.security.ngram_model`. Nothing here is tuned on holdout,
fresh or fresh2: they are scored once, after every choice is made.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `benchmarks` as a package

from benchmarks.guard import BLIND, FRESH, _inputs, load_corpus
from lmsa.security.injection import score_injection
from lmsa.security.ngram_model import BITS, WEIGHTS, NgramModel, features
from lmsa.security.policy import SecurityPolicy

SPLITS = ("train", "holdout", *FRESH)
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
    train: list[dict[str, str]], feats: list[np.ndarray], labels: np.ndarray, l2: float
) -> np.ndarray:
    """Out-of-fold probabilities, folds made of whole templates."""
    folds = template_folds(train)
    oof = np.zeros(len(train))
    for k in range(FOLDS):
        inside = np.flatnonzero(folds != k)
        out = np.flatnonzero(folds == k)
        w, b = fit([feats[i] for i in inside], labels[inside], l2=l2)
        oof[out] = probabilities(w, b, [feats[i] for i in out])
    return oof


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
    parser.add_argument("--lift-fpr", type=float, default=0.05)
    parser.add_argument(
        "--fit-on",
        choices=("train", "seen"),
        default="train",
        help="train: the train split only (the shipped weights); seen: every split but the blind",
    )
    parser.add_argument("--weights", type=Path, default=WEIGHTS, help="where --write saves")
    args = parser.parse_args()
    if args.write and args.fit_on == "seen" and args.weights == WEIGHTS:
        parser.error("--fit-on seen --write needs --weights: the shipped file is fitted on train")
    rows = load_corpus()
    feats = [features(r["text"]) for r in rows]
    labels = np.array([r["label"] == "injection" for r in rows], dtype=float)
    split = np.array([r["split"] for r in rows])
    is_train = split == "train" if args.fit_on == "train" else ~np.isin(split, tuple(BLIND))
    train_rows = [r for r, t in zip(rows, is_train, strict=True) if t]
    train_feats = [f for f, t in zip(feats, is_train, strict=True) if t]
    choice: dict[str, Any] = {}
    best = None
    for l2 in (1e-5, 1e-4, 1e-3):
        oof = out_of_fold(train_rows, train_feats, labels[is_train], l2)
        threshold = pick_threshold(oof, labels[is_train], args.max_fpr)
        recall = float((oof[labels[is_train] == 1] >= threshold).mean())
        choice[str(l2)] = {"threshold": round(threshold, 4), "oof_recall": round(recall, 3)}
        if best is None or recall > best[0]:
            best = (recall, l2, threshold, oof)
    assert best is not None
    _, l2, threshold, oof = best
    lift = pick_threshold(oof, labels[is_train], args.lift_fpr)
    w, b = fit(train_feats, labels[is_train], l2=l2)
    model = NgramModel(w.astype(np.float32), b, threshold)
    prob = np.array([model.score(r["text"]) for r in rows])
    policy = SecurityPolicy()
    cue = np.array([score_injection(r["text"]).score for r in rows])
    cue_block = cue >= policy.injection_threshold
    unsure = cue >= policy.judge_floor
    rules = {
        "cues (current)": cue_block,
        "ngram alone": prob >= threshold,
        "cues OR ngram": cue_block | (prob >= threshold),
        "cues + ngram lifts unsure": cue_block | (unsure & (prob >= lift)),
    }
    table = {
        name: {s: rates(flags[split == s], labels[split == s]) for s in SPLITS}
        for name, flags in rules.items()
    }
    nonzero = np.flatnonzero(np.abs(w) > 1e-4)
    report: dict[str, Any] = {"cv": choice, "l2": l2, "threshold": threshold, "lift": lift}
    report["stored_buckets"] = len(nonzero)
    report["latency_median_ms"] = {
        name: _latency(model, text) for name, text in _inputs(rows).items()
    }
    report["table"] = table
    if args.write:
        np.savez_compressed(
            args.weights,
            index=nonzero.astype(np.uint32),
            value=w[nonzero].astype(np.float16),
            bias=np.float64(b),
            threshold=np.float64(threshold),
        )
        report["written"] = f"{args.weights} ({args.weights.stat().st_size} bytes)"
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"cross-validation on train (grouped by template): {choice}")
    print(
        f"chosen l2={l2}, threshold={threshold:.4f}, lift threshold={lift:.4f}, "
        f"{len(nonzero)} buckets stored"
    )
    print(f"n-gram scorer median ms: {report['latency_median_ms']}")
    print(f"{'rule':<28}" + "".join(f"{s:>16}" for s in SPLITS) + "   (recall / FPR)")
    for name, figures in table.items():
        cells = "".join(f"{f['recall']:>8.3f}/{f['fpr']:<7.3f}" for f in figures.values())
        print(f"{name:<28}{cells}")
    if "written" in report:
        print(f"weights written: {report['written']}")


if __name__ == "__main__":
    main()
