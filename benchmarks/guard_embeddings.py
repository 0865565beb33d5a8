"""Would a scorer built on the embedded model's embeddings beat the hand-written cues on attacks
neither has seen? Measured, not shipped.

``python benchmarks/guard_embeddings.py [--model qwen2.5-coder-0.5b] [--cpu-mode safe]``
(needs the ``local`` extra and the model's package) prints recall / false-positive rate on the
two blind sets of ``tests/data/injection_corpus.csv``, ``fresh9`` and ``fresh10`` (written by
helpers who never saw the detector; only their aggregate figures were ever looked at), for:

* ``cues``: ``check_input`` as shipped;
* ``embedding``: a logistic regression on the model's embedding of the text (llama.cpp, mean of
  the last hidden states, unit length), fitted on the rows written before it (``train``,
  ``holdout``, ``fresh`` to ``fresh8``); its threshold is the one that
  keeps the false-positive rate of out-of-fold scores on those rows at 3, 5 or 10 % (5 folds of
  whole templates, as ``train_guard_model.py`` makes them);
* ``either``: flagged by the cues or by the embedding;
* ``stacked``: a three-feature logistic regression (cue score, cue verdict, embedding logit).
  The cues were tuned on every row but the blind sets, so it is fitted on ``fresh9`` (threshold
  from out-of-fold scores there) and measured on ``fresh10`` alone;
* cost: prompt tokens per second and seconds to embed a 2 KB input on this machine.

Embeddings are cached per text and model under ``--cache`` (default ``~/.cache/lmsa/embeddings``):
the whole corpus takes about 25 minutes on two cores, a rerun seconds.

The logistic regressions are a few lines of numpy (Newton's method with an L2 penalty), so this
benchmark adds no dependency: scikit-learn would bring scipy into the ``dev`` extra for one
optional script.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.guard import CUES, SIZE, load_corpus  # noqa: E402
from benchmarks.train_guard_model import FOLDS, pick_threshold, template_folds  # noqa: E402
from lmsa.security import check_input  # noqa: E402

BLIND = ("fresh9", "fresh10")
MAX_TOKENS = 700  # a 2 KB input is about 500 tokens; longer texts are cut, as a scorer would


def fit(x: np.ndarray, y: np.ndarray, penalty: float = 10.0, steps: int = 25) -> np.ndarray:
    """Weights (bias last) of an L2-penalised logistic regression, by Newton's method."""
    design = np.c_[x, np.ones(len(x))]
    weights = np.zeros(design.shape[1])
    ridge = np.eye(design.shape[1]) * penalty
    ridge[-1, -1] = 0.0  # the bias is not penalised
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-design @ weights))
        gradient = design.T @ (p - y) + ridge @ weights
        hessian = (design * (p * (1 - p))[:, None]).T @ design + ridge
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if np.abs(step).max() < 1e-6:
            break
    return weights


def logit(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return np.asarray(np.c_[x, np.ones(len(x))] @ weights)


class Scaled:
    """Standardised features, then :func:`fit`."""

    def __init__(self, x: np.ndarray, y: np.ndarray, penalty: float) -> None:
        self.mean, self.std = x.mean(axis=0), x.std(axis=0) + 1e-6
        self.weights = fit((x - self.mean) / self.std, y, penalty)

    def logit(self, x: np.ndarray) -> np.ndarray:
        return logit((x - self.mean) / self.std, self.weights)


def out_of_fold(x: np.ndarray, y: np.ndarray, folds: np.ndarray, penalty: float) -> np.ndarray:
    """Each row scored by a model fitted without its fold."""
    scores = np.empty(len(x))
    for k in range(FOLDS):
        held = folds == k
        scores[held] = Scaled(x[~held], y[~held], penalty).logit(x[held])
    return scores


def rates(flagged: np.ndarray, y: np.ndarray) -> str:
    return f"{flagged[y].mean():.2f} / {flagged[~y].mean():.2f}"


def embedder(model: str, cpu_mode: str) -> tuple[object, Path]:
    import llama_cpp

    from lmsa.local.engine import model_params
    from lmsa.local.model import resolve_model_path

    path = resolve_model_path(model)
    with model_params(safe=cpu_mode == "safe"):
        llm = llama_cpp.Llama(
            model_path=str(path),
            embedding=True,
            pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN,
            n_ctx=1024,
            n_batch=1024,
            n_ubatch=1024,
            n_threads=2,
            verbose=False,
        )
    return llm, path


def embed_all(llm: object, texts: list[str], cache: Path) -> np.ndarray:
    stored: dict[str, np.ndarray] = {}
    if cache.exists():
        with np.load(cache) as data:
            stored = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))
    keys = [hashlib.sha256(text.encode()).hexdigest() for text in texts]
    missing = [i for i, key in enumerate(keys) if key not in stored]
    started = time.perf_counter()
    for done, i in enumerate(missing, 1):
        stored[keys[i]] = embed(llm, texts[i])
        if done % 100 == 0:
            print(f"  embedded {done}/{len(missing)} ({time.perf_counter() - started:.0f} s)")
    if missing:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, keys=np.array(list(stored)), vectors=np.stack(list(stored.values())))
    return np.stack([stored[key] for key in keys])


def embed(llm: object, text: str) -> np.ndarray:
    tokens = llm.tokenize(text.encode(), add_bos=False, special=False)[:MAX_TOKENS]  # type: ignore[attr-defined]
    body = llm.detokenize(tokens).decode("utf-8", "ignore")  # type: ignore[attr-defined]
    vector = np.asarray(llm.embed(body), dtype=np.float64)  # type: ignore[attr-defined]
    return vector / np.linalg.norm(vector)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--cpu-mode", choices=("safe", "native"), default="safe")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache/lmsa/embeddings")
    parser.add_argument("--penalty", type=float, default=10.0)
    options = parser.parse_args(argv)

    rows = load_corpus()
    texts = [r["text"] for r in rows]
    y = np.array([r["label"] == "injection" for r in rows])
    split = np.array([r["split"] for r in rows])
    llm, path = embedder(options.model, options.cpu_mode)
    x = embed_all(llm, texts, options.cache / f"{path.stem}.npz")
    cues = [check_input(text, policy=CUES) for text in texts]
    cue_score = np.array([min(v.score, 1.0) for v in cues])
    cue_flag = np.array([not v.allowed for v in cues])

    # only the rows that existed when it was measured are fitted (later splits, from fresh11
    # and scorer on, stay out), so it reruns as measured
    train = np.isin(split, ("train", "holdout", "fresh", *(f"fresh{n}" for n in range(2, 9))))
    kept = [r for r, inside in zip(rows, train, strict=True) if inside]
    oof = out_of_fold(x[train], y[train], template_folds(kept), options.penalty)
    model = Scaled(x[train], y[train], options.penalty)
    score = model.logit(x)
    print(f"model {path.name}, {x.shape[1]} dimensions; fitted on {train.sum()} rows")
    print("recall / FPR          " + "".join(f"{name:>22}" for name in BLIND))
    cells = "".join(f"{rates(cue_flag[split == b], y[split == b]):>22}" for b in BLIND)
    print(f"{'cues':<22}{cells}")
    for fpr in (0.03, 0.05, 0.10):
        cut = pick_threshold(oof, y[train], fpr)
        for name, flagged in (("embedding", score > cut), ("either", (score > cut) | cue_flag)):
            cells = "".join(f"{rates(flagged[split == b], y[split == b]):>22}" for b in BLIND)
            print(f"{f'{name} @{fpr:.0%}':<22}{cells}")

    first, second = (split == b for b in BLIND)
    blind_rows = [r for r, inside in zip(rows, first, strict=True) if inside]
    features = np.c_[cue_score, cue_flag, score]
    stack_oof = out_of_fold(features[first], y[first], template_folds(blind_rows), 1.0)
    stack = Scaled(features[first], y[first], 1.0)
    print(f"stacked, fitted on {BLIND[0]}:      {BLIND[0]} (5-fold)       {BLIND[1]}")
    for fpr in (0.03, 0.05, 0.07):
        cut = pick_threshold(stack_oof, y[first], fpr)
        there = rates(stack_oof > cut, y[first])
        here = rates(stack.logit(features[second]) > cut, y[second])
        print(f"{f'stacked @{fpr:.0%}':<22}{there:>22}{here:>22}")

    sample = " ".join(texts)[:SIZE]
    tokens = len(llm.tokenize(sample.encode(), add_bos=False))  # type: ignore[attr-defined]
    started = time.perf_counter()
    embed(llm, sample)
    seconds = time.perf_counter() - started
    print(f"cost: 2 KB input = {tokens} tokens, {seconds:.2f} s ({tokens / seconds:.0f} tokens/s)")


if __name__ == "__main__":
    main()
