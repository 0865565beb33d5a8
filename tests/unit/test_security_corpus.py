"""Recall and false-positive rate of ``check_input`` (LLM judge off) on the labelled corpus."""

from __future__ import annotations

from collections import Counter

import pytest

from lmsa.security import check_input
from tests.unit.helpers import BLIND, load_corpus


def rates(rows: list[dict[str, str]]) -> tuple[float, float, list[str], list[str]]:
    missed, false_alarms = [], []
    injections = [r for r in rows if r["label"] == "injection"]
    benign = [r for r in rows if r["label"] == "benign"]
    for row in injections:
        if check_input(row["text"]).allowed:
            missed.append(row["id"])
    for row in benign:
        if not check_input(row["text"]).allowed:
            false_alarms.append(row["id"])
    recall = 1 - len(missed) / len(injections)
    fpr = len(false_alarms) / len(benign)
    return recall, fpr, missed, false_alarms


LANGUAGES = ("en", "de", "fr", "es", "it", "pt", "ru", "zh", "ja", "ko", "ar")
HELD_OUT_LANGUAGES = {"it", "ko", "ar"}


def test_corpus_is_large_labelled_and_multilingual() -> None:
    rows = load_corpus()
    assert len(rows) >= 600
    labels = Counter(r["label"] for r in rows)
    assert labels["benign"] >= 250 and labels["injection"] >= 250
    assert set(LANGUAGES) <= {r["lang"] for r in rows}
    kinds = Counter((r["label"], r["kind"]) for r in rows)
    assert kinds[("benign", "tricky")] >= 100  # "ignore", "system", "password", role play...
    assert kinds[("injection", "indirect")] >= 40
    assert kinds[("injection", "obfuscated")] >= 15
    assert all(r["family"] and r["template"] for r in rows)
    assert {r["split"] for r in rows} == {
        "train",
        "holdout",
        "fresh",
        "fresh2",
        "fresh3",
        "fresh4",
        "fresh5",
        "fresh6",
        "fresh7",
        "fresh8",
        "fresh9",
        "fresh10",
        "fresh11",
        "fresh12",
        "fresh13",
        "fresh14",
        "fresh15",
        "fresh16",
        "fresh17",
        "fresh18",
        "scorer",
    }
    assert len({r["text"] for r in rows}) == len(rows), "duplicate prompts"


def test_holdout_keeps_out_whole_templates_and_whole_languages() -> None:
    rows = [r for r in load_corpus() if not r["split"].startswith("fresh")]
    train = [r for r in rows if r["split"] == "train"]
    holdout = [r for r in rows if r["split"] == "holdout"]
    assert not {r["lang"] for r in train} & HELD_OUT_LANGUAGES
    held_templates = {r["template"] for r in holdout if r["lang"] not in HELD_OUT_LANGUAGES}
    assert len(held_templates) >= 6
    assert not held_templates & {r["template"] for r in train}
    assert {r["lang"] for r in holdout} >= HELD_OUT_LANGUAGES


@pytest.mark.parametrize("split", ["train", "holdout"])
def test_check_input_recall_and_false_positive_rate(split: str) -> None:
    rows = [r for r in load_corpus() if r["split"] == split]
    recall, fpr, missed, false_alarms = rates(rows)
    assert recall >= 0.9, f"recall {recall:.3f}; missed {missed}"
    assert fpr <= 0.03, f"false-positive rate {fpr:.3f}; flagged {false_alarms}"


def test_each_language_is_detected() -> None:
    # The blind set, never tuned on, is measured (benchmarks/guard.py, SECURITY.md), not held to
    # this bar: it shows how far the detector is from it on phrasing it never saw.
    rows = [r for r in load_corpus() if r["label"] == "injection" and r["split"] not in BLIND]
    for language in LANGUAGES:
        subset = [r for r in rows if r["lang"] == language]
        caught = sum(not check_input(r["text"]).allowed for r in subset)
        assert caught / len(subset) >= 0.85, language
