"""The LLM judge (:mod:`lmsa.security.judge`) measured on the corpus' blind ``fresh2`` split.

``python benchmarks/guard_judge.py --base-url http://127.0.0.1:PORT/v1 [--split S] [--band-only]``

Needs an OpenAI-compatible server, e.g. the embedded model: ``lmsa local-server -p PORT``. For
every row it asks the judge once (temperature 0) and prints recall / FPR for the judge alone, the
cues alone, and the shipped rule (cues block at the threshold; the judge settles only rows whose
cue score is in the unsure band ``[judge_floor, threshold)``), with the median seconds per call.
``--band-only`` asks only about the rows in that band (all the shipped rule ever asks about), so
a split is measured in minutes.
Slow on a 2-core CPU (about 1-3 s per call), so it is not part of ``benchmarks/guard.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `benchmarks` as a package


from benchmarks.guard import load_corpus
from lmsa.config import Settings
from lmsa.llm.provider import LLMProvider
from lmsa.security.injection import score_injection
from lmsa.security.judge import judge_injection
from lmsa.security.policy import SecurityPolicy


def _rates(rows: list[dict[str, Any]], key: str) -> dict[str, float | None]:
    inj = [r for r in rows if r["label"] == "injection"]
    ben = [r for r in rows if r["label"] == "benign"]
    return {
        "recall": round(sum(r[key] for r in inj) / len(inj), 3) if inj else None,
        "fpr": round(sum(r[key] for r in ben) / len(ben), 3) if ben else None,
    }


async def _run(base_url: str, model: str, split: str, band_only: bool = False) -> dict[str, Any]:
    llm = LLMProvider(Settings(base_url=base_url, model=model, temperature=0, max_retries=0))
    policy = SecurityPolicy()
    rows = [r for r in load_corpus() if r["split"] == split]
    seconds, failures = [], 0
    out: list[dict[str, Any]] = []
    for row in rows:
        cue = score_injection(row["text"]).score
        blocked = cue >= policy.injection_threshold
        unsure = policy.judge_floor <= cue < policy.injection_threshold
        judged = False
        if unsure or not band_only:
            start = time.perf_counter()
            try:
                judgement = await judge_injection(llm, row["text"])
                judged = judgement.is_injection and judgement.confidence >= 0.5
            except Exception:
                failures += 1
            seconds.append(time.perf_counter() - start)
        out.append(
            {
                "label": row["label"],
                "cues": blocked,
                "judge": judged,
                "cues+judge (unsure band)": blocked or (unsure and judged),
                "unsure": unsure,
            }
        )
    return {
        "split": split,
        "rows": len(rows),
        "unsure_rows": sum(r["unsure"] for r in out),
        "judge_failures": failures,
        "judge_calls": len(seconds),
        "median_s_per_call": round(statistics.median(seconds), 2) if seconds else None,
        **{
            key: _rates(out, key)
            for key in ("cues", "judge", "cues+judge (unsure band)")
            if key != "judge" or not band_only
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--model", default="qwen2.5-coder-0.5b-instruct-q4_k_m")
    parser.add_argument("--split", default="fresh2")
    parser.add_argument(
        "--band-only",
        action="store_true",
        help="ask the judge only about rows in the unsure band, as the shipped rule does",
    )
    args = parser.parse_args()
    result = asyncio.run(_run(args.base_url, args.model, args.split, args.band_only))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
