"""Latency of ``lmsa.security.check_input`` and its detection figures on the labelled corpus.

``python benchmarks/guard.py [--runs 500] [--json]`` prints:

* latency (median and p95, ms) of ``check_input`` with the LLM judge off on a 90-character
  request and on 2 KB inputs of different kinds: ordinary prose, a pasted code file (which the
  cues would block, so the learned scorer reviews it), a log excerpt, and a "dense" worst case
  made of corpus prompts back to back; and how long the learned scorer's weights take to load;
* recall and false-positive rate on ``tests/data/injection_corpus.csv`` per split: ``train``
  (the rows the detector was tuned on), ``holdout`` (whole templates and whole languages kept
  out, see the file's header), ``fresh`` to ``fresh18`` (rows with templates found nowhere
  else, written after the detector was frozen; ``fresh`` to ``fresh10`` were looked at and fixed
  for, ``fresh3`` to ``fresh18`` were written by someone who never saw the detector, ``fresh11``
  to ``fresh15`` were measured blind and then fitted by the learned scorer, and only the
  aggregate figures of ``fresh16`` to ``fresh18`` have been looked at: the blind figures),
  and per language and attack family, all of it for the default detector
  (``LMSA_INJECTION_MODEL=ngram``: the cues, whose blocks the learned scorer reviews, and the
  scorer blocking short messages on its own; fitted by ``benchmarks/train_guard_model.py`` on
  every split but the blind ones, so on the others its part is in-sample);
* the per-split figures of the other modes: the cues alone (``off``), the review only
  (``confirm``) and the scorer blocking texts of any length on its own (``full``, whose latency
  is printed too).

Latency depends on the machine and its load (this project's machine has 2 cores shared with
other jobs); the figures are for comparing changes, the target is < 2 ms for 2 KB.
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from lmsa.security import SecurityPolicy, check_input
from lmsa.security.ngram_model import NgramModel

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "data" / "injection_corpus.csv"
SIZE = 2048


def load_corpus() -> list[dict[str, str]]:
    with CORPUS.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(line for line in handle if not line.startswith("#")))
    for row in rows:
        row["text"] = row["text"].replace("\\n", "\n")
    return rows


def _inputs(rows: list[dict[str, str]]) -> dict[str, str]:
    prose = (
        "Could you read the quarterly report in docs/q3.md and summarise the main points for "
        "the team meeting? Focus on revenue, the hiring plan and anything that changed since "
        "the last quarter; keep it short and list open questions at the end. "
    )
    code = (ROOT / "lmsa" / "nodes" / "execute.py").read_text(encoding="utf-8")
    log = "".join(
        f"2024-05-17 10:{i % 60:02d}:12 INFO worker-{i % 4} processed job {1000 + i} in "
        f"{(i * 37) % 900} ms (queue=default, retries=0)\n"
        for i in range(60)
    )
    dense = " ".join(r["text"] for r in rows)
    return {
        "message, 90 chars": prose[:90],
        "prose 2 KB": (prose * 20)[:SIZE],
        "code 2 KB": (code * 2)[:SIZE],
        "log 2 KB": (log * 2)[:SIZE],
        "dense corpus 2 KB": dense[:SIZE],
    }


CUES = SecurityPolicy()
"""The default detector (``LMSA_INJECTION_MODEL=ngram``)."""
LEARNED = SecurityPolicy(injection_model="full")
"""The learned scorer blocking texts of any length on its own (``LMSA_INJECTION_MODEL=full``)."""
OTHER_MODES = {
    "the cues alone (LMSA_INJECTION_MODEL=off)": SecurityPolicy(injection_model="off"),
    "the cues, their blocks reviewed (LMSA_INJECTION_MODEL=confirm)": SecurityPolicy(
        injection_model="confirm"
    ),
    "the learned scorer blocking any text alone too (LMSA_INJECTION_MODEL=full)": LEARNED,
}


def _latency(text: str, runs: int, policy: SecurityPolicy = CUES) -> dict[str, float]:
    for _ in range(20):
        check_input(text, policy=policy)
    samples = []
    gc.disable()
    try:
        for _ in range(runs):
            start = time.perf_counter()
            check_input(text, policy=policy)
            samples.append((time.perf_counter() - start) * 1000)
    finally:
        gc.enable()
    samples.sort()
    return {
        "median_ms": round(statistics.median(samples), 3),
        "p95_ms": round(samples[int(0.95 * (len(samples) - 1))], 3),
    }


FRESH = tuple(f"fresh{n}" for n in ("", *range(2, 19)))
"""The blind sets in the order they were written (``fresh`` .. ``fresh18``)."""
SPLITS = ("train", "holdout", *FRESH, "all")
BLIND = frozenset({"fresh16", "fresh17", "fresh18"})
"""Splits never looked at: their missed ids are not printed, so a later reader of this output
does not learn which rows to read (``--json`` still has them, for tools)."""


def _missed(split: str, figures: dict[str, Any]) -> str:
    if split == "all":
        return ""
    if split in BLIND:
        return "  (blind: ids not shown)"
    return f"  {figures['missed']} / {figures['false_alarms']}"


def _rates(rows: list[dict[str, str]], flagged: dict[str, bool]) -> dict[str, Any]:
    inj = [r for r in rows if r["label"] == "injection"]
    ben = [r for r in rows if r["label"] == "benign"]
    tp = sum(flagged[r["id"]] for r in inj)
    fp = sum(flagged[r["id"]] for r in ben)
    return {
        "injections": len(inj),
        "benign": len(ben),
        "recall": round(tp / len(inj), 3) if inj else None,
        "false_positive_rate": round(fp / len(ben), 3) if ben else None,
        "missed": [r["id"] for r in inj if not flagged[r["id"]]],
        "false_alarms": [r["id"] for r in ben if flagged[r["id"]]],
    }


def _detection(rows: list[dict[str, str]], policy: SecurityPolicy = CUES) -> dict[str, Any]:
    flagged = {r["id"]: not check_input(r["text"], policy=policy).allowed for r in rows}
    out: dict[str, Any] = {
        split: _rates([r for r in rows if split == "all" or r["split"] == split], flagged)
        for split in SPLITS
    }
    for column in ("lang", "family"):
        groups: dict[str, dict[str, list[dict[str, str]]]] = defaultdict(lambda: defaultdict(list))
        for r in rows:
            key = r[column] if r["label"] == "injection" or column == "lang" else "benign"
            groups[key][r["split"]].append(r)
        out[f"by_{column}"] = {
            key: {split: _rates(found, flagged) for split, found in sorted(by_split.items())}
            for key, by_split in sorted(groups.items())
        }
    return out


def _cell(figures: dict[str, Any]) -> str:
    recall, fpr = figures["recall"], figures["false_positive_rate"]
    parts = []
    if recall is not None:
        parts.append(f"R {recall:.2f} ({figures['injections']})")
    if fpr is not None:
        parts.append(f"FPR {fpr:.2f} ({figures['benign']})")
    return ", ".join(parts)


def _print_splits(detection: dict[str, Any]) -> None:
    for split in SPLITS:
        d = detection[split]
        print(
            f"{split:<8} {d['injections']:>5} {d['benign']:>7} {d['recall']:>7.3f} "
            f"{d['false_positive_rate']:>6.3f}{_missed(split, d)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = load_corpus()
    inputs = _inputs(rows)
    latency = {name: _latency(text, args.runs) for name, text in inputs.items()}
    learned_latency = {name: _latency(text, args.runs, LEARNED) for name, text in inputs.items()}
    started = time.perf_counter()
    detection = _detection(rows)
    corpus_seconds = time.perf_counter() - started  # every row once, the patterns warm
    modes = {title: _detection(rows, policy) for title, policy in OTHER_MODES.items()}
    if args.json:
        print(
            json.dumps(
                {
                    "latency": latency,
                    "detection": detection,
                    "full_latency": learned_latency,
                    "other_modes": modes,
                    "corpus_seconds": round(corpus_seconds, 3),
                },
                indent=2,
            )
        )
        return
    started = time.perf_counter()
    NgramModel.load()
    load_ms = (time.perf_counter() - started) * 1000
    print(f"check_input latency, LLM judge off ({args.runs} runs each)")
    print(f"the learned scorer's weights load in {load_ms:.1f} ms (once, at graph build)")
    print(f"{'input':<20} {'median ms':>10} {'p95 ms':>10} {'full: median':>14} {'p95':>8}")
    for name, figures in latency.items():
        more = learned_latency[name]
        print(
            f"{name:<20} {figures['median_ms']:>10.3f} {figures['p95_ms']:>10.3f} "
            f"{more['median_ms']:>14.3f} {more['p95_ms']:>8.3f}"
        )
    print()
    print(
        f"corpus: {CORPUS.relative_to(ROOT)} ({len(rows)} prompts, "
        f"checked in {corpus_seconds:.2f} s)"
    )
    print(
        "default detector (LMSA_INJECTION_MODEL=ngram); its learned scorer was fitted on every "
        f"split but {', '.join(sorted(BLIND))}, so only those say how it generalises"
    )
    print(f"{'split':<8} {'inj':>5} {'benign':>7} {'recall':>7} {'FPR':>6}  missed / false alarms")
    _print_splits(detection)
    for title, other in modes.items():
        print()
        print(title)
        _print_splits(other)
    for column in ("lang", "family"):
        print()
        print(f"by {column} (R = recall on injections, FPR on benign rows; counts in brackets)")
        for key, by_split in detection[f"by_{column}"].items():
            cells = "; ".join(f"{split} {_cell(f)}" for split, f in by_split.items())
            print(f"  {key:<12} {cells}")


if __name__ == "__main__":
    main()
