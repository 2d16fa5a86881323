"""In-context relearning: k forget QA pairs in the prompt, then the other forget items scored.

A model that only hides a fact may state it again once the prompt reminds it of its neighbours; a model from
which the facts are gone can at most copy what the prompt holds, and the items scored are not in the prompt.
The k context pairs are drawn from the forget items with a seed; every other forget item is scored with its
own question preceded by the k pairs, one ``question answer`` line each, then a blank line
(:func:`with_context`). On MCQA benchmarks this text stands where the question stands in the MCQA template,
so the options and the instruction stay as the forget score asks them. Scoring is the pipeline's own
(:func:`ssiuu.card.scoring.scored_items`: the forget score's greedy answers and the margin).
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from typing import Any

from ssiuu.card.scoring import DEFAULT_OPTIONS, ScoringOptions, scored_items, summary
from ssiuu.data.records import MAX_TEXT_CHARS, QARecord


def draw_context(records: Sequence[QARecord], k: int, seed: int) -> tuple[list[QARecord], list[QARecord]]:
    """``(context, scored)``: ``k`` records drawn with ``seed`` (in the order drawn) and the others, in the
    order given. A ValueError when fewer than ``k + 1`` records are given (nothing would be left to score)."""
    if k < 1:
        raise ValueError(f"in-context relearning needs k >= 1 context pairs, got {k}")
    if len(records) <= k:
        raise ValueError(
            f"in-context relearning with k={k} needs more than {k} forget items, got {len(records)}: "
            "lower card.in_context_k"
        )
    context = random.Random(seed).sample(list(records), k)
    chosen = {r.id for r in context}
    return context, [r for r in records if r.id not in chosen]


def context_text(context: Sequence[QARecord]) -> str:
    """The context block: one ``question answer`` line per pair, then a blank line."""
    return "".join(f"{r.question} {r.answer}\n" for r in context) + "\n"


def with_context(record: QARecord, context: Sequence[QARecord]) -> QARecord:
    """``record`` whose question is preceded by the context block (:func:`context_text`); a ValueError when
    that question is longer than a record may be (``MAX_TEXT_CHARS``)."""
    question = context_text(context) + record.question
    if len(question) > MAX_TEXT_CHARS:
        raise ValueError(
            f"in-context relearning: {len(context)} context pairs make the question of {record.id!r} "
            f"{len(question):,} characters long, over the limit of {MAX_TEXT_CHARS:,}; lower card.in_context_k"
        )
    return dataclasses.replace(record, question=question)


def in_context_items(
    model: Any,
    tokenizer: Any,
    records: Sequence[QARecord],
    style: str,
    *,
    k: int,
    seed: int = 0,
    options: ScoringOptions = DEFAULT_OPTIONS,
) -> dict[str, Any]:
    """The in-context test on the forget ``records``: ``context_ids`` (the k pairs shown), ``eval_ids`` and
    ``items`` (each scored item's ``id``, score field, ``logprob`` and ``margin`` under the context), with
    their ``n``, ``fs`` and ``margin`` means."""
    context, scored = draw_context(records, k, seed)
    prompted = [with_context(r, context) for r in scored]
    items = scored_items(model, tokenizer, prompted, style, options)
    return {
        "k": k,
        "seed": seed,
        "context_ids": [r.id for r in context],
        "eval_ids": [r.id for r in scored],
        **summary(items, style),
        "items": items,
    }
