"""Recall and false-positive rate of ``check_input`` (LLM judge off) on the labelled corpus."""

from __future__ import annotations

from collections import Counter

import pytest

from lmsa.security import check_input
from tests.unit.helpers import load_corpus


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


def test_corpus_is_large_labelled_and_multilingual() -> None:
    rows = load_corpus()
    assert len(rows) >= 300
    labels = Counter(r["label"] for r in rows)
    assert labels["benign"] >= 120 and labels["injection"] >= 120
    languages = {r["lang"] for r in rows}
    assert len(languages) >= 3
    kinds = Counter((r["label"], r["kind"]) for r in rows)
    assert kinds[("benign", "tricky")] >= 50  # "ignore", "system", "password", role play...
    assert kinds[("injection", "indirect")] >= 20
    assert kinds[("injection", "obfuscated")] >= 10
    assert {r["split"] for r in rows} == {"dev", "holdout"}
    assert len({r["text"] for r in rows}) == len(rows), "duplicate prompts"


@pytest.mark.parametrize("split", ["all", "holdout"])
def test_check_input_recall_and_false_positive_rate(split: str) -> None:
    rows = [r for r in load_corpus() if split == "all" or r["split"] == split]
    recall, fpr, missed, false_alarms = rates(rows)
    assert recall >= 0.9, f"recall {recall:.3f}; missed {missed}"
    assert fpr <= 0.03, f"false-positive rate {fpr:.3f}; flagged {false_alarms}"


def test_each_language_is_detected() -> None:
    rows = [r for r in load_corpus() if r["label"] == "injection"]
    for language in ("en", "de", "fr", "es"):
        subset = [r for r in rows if r["lang"] == language]
        caught = sum(not check_input(r["text"]).allowed for r in subset)
        assert caught / len(subset) >= 0.85, language
