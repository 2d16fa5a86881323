"""TOFU-style ROUGE-L recall of greedy generations and the mismatched-pair threshold τ (App. C.1).

ROUGE-L recall = LCS(prediction, reference) / |reference| over the ``rouge-score`` package's tokens
(lower-cased alphanumeric words, Porter-stemmed: ``RougeScorer(['rougeL'], use_stemmer=True)``), as in
TOFU's evaluation.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from ssiuu.data.records import QARecord


@lru_cache(maxsize=1)
def _scorer() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def rouge_l_recall(prediction: str, reference: str) -> float:
    """ROUGE-L recall of ``prediction`` against ``reference`` (``score(target=reference, prediction)``)."""
    return float(_scorer().score(reference, prediction)["rougeL"].recall)


def mismatched_threshold(records: Sequence[QARecord], seed: int = 0) -> float:
    """τ: mean ROUGE-L recall of each answer (reference) against a random *other* question's answer.

    For record ``i`` a partner ``j != i`` is drawn uniformly with ``random.Random(seed)``; τ is the mean
    of ``rouge_l_recall(prediction=answer_j, reference=answer_i)`` (paper App. C.1: 0.1971 on TOFU).
    Unlearning of a TOFU-style benchmark stops once the forget ROUGE-L recall falls to τ.
    """
    records = list(records)
    if len(records) < 2:
        raise ValueError(f"the mismatched-pair threshold needs at least 2 records, got {len(records)}")
    rng = random.Random(seed)
    n = len(records)
    total = 0.0
    for i, rec in enumerate(records):
        j = rng.randrange(n - 1)
        j += j >= i
        total += rouge_l_recall(records[j].answer, rec.answer)
    return total / n
