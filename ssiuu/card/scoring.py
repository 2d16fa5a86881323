"""Per-item scores of the card's output-side tests: the forget score and the margin, item by item.

Every test that reads the model's output (no attack, quantization, in-context relearning) scores its items
with the evaluation the pipeline uses everywhere: greedy answers scored by :func:`ssiuu.evaluation.answer_items`
(``correct`` on MCQA benchmarks, ``rougeL_recall`` on ROUGE ones) and the gold answer's log-probability and
margin of :func:`ssiuu.evaluation.logprob.answer_measures` (``docs/results.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ssiuu.data.records import ITEM_SCORE, QARecord


@dataclass(frozen=True)
class ScoringOptions:
    """How items are scored: the benchmark's generation budget (None: the style's default), the tokenised
    length cap of the log-probability rows and the batch size (the config's ``max_new_tokens``,
    ``unlearning.max_length`` and ``eval_batch_size``)."""

    max_new_tokens: int | None = None
    max_length: int = 256
    batch_size: int = 16

    @classmethod
    def from_config(cls, config: dict[str, Any], benchmark: str) -> ScoringOptions:
        """The options the final evaluation and the attacks score a benchmark's forget items with."""
        return cls(
            max_new_tokens=config["benchmarks"][benchmark]["max_new_tokens"],
            max_length=config["unlearning"]["max_length"],
            batch_size=config["eval_batch_size"],
        )


#: the options of a call that gives none: the styles' default budgets, 256 tokens, batches of 16
DEFAULT_OPTIONS = ScoringOptions()


@torch.no_grad()
def scored_items(
    model: Any,
    tokenizer: Any,
    records: Sequence[QARecord],
    style: str,
    options: ScoringOptions = DEFAULT_OPTIONS,
) -> list[dict[str, Any]]:
    """Per record, in order: ``id``, ``generation``, the score field of ``style`` (``correct`` or
    ``rougeL_recall``), ``logprob`` and ``margin``."""
    from ssiuu.evaluation import answer_items
    from ssiuu.evaluation.logprob import answer_measures

    answers = answer_items(
        model,
        tokenizer,
        records,
        style,
        batch_size=options.batch_size,
        max_new_tokens=options.max_new_tokens,
    )
    logprobs, margins = answer_measures(
        model, tokenizer, records, max_length=options.max_length, batch_size=options.batch_size
    )
    key = ITEM_SCORE[style]
    return [
        {
            "id": record.id,
            "generation": answer.get("generation"),
            key: answer[key],
            "logprob": logprob,
            "margin": item_margin,
        }
        for record, answer, logprob, item_margin in zip(records, answers, logprobs, margins, strict=True)
    ]


def summary(items: Sequence[dict[str, Any]], style: str) -> dict[str, Any]:
    """``n``, ``fs`` (mean of the score field) and ``margin`` (mean margin) of scored items."""
    key = ITEM_SCORE[style]
    n = len(items)
    return {
        "n": n,
        "fs": sum(float(it[key]) for it in items) / n if n else None,
        "margin": sum(float(it["margin"]) for it in items) / n if n else None,
    }
