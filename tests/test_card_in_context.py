"""The card's in-context relearning (ssiuu/card/in_context.py): k forget pairs in the prompt, the other items
scored by the pipeline's own evaluation, as if their questions had been written with the pairs before them."""

from __future__ import annotations

import pytest

from ssiuu.card.in_context import context_text, draw_context, in_context_items, with_context
from ssiuu.data.records import MAX_TEXT_CHARS, QARecord
from ssiuu.evaluation import answer_items
from ssiuu.evaluation.logprob import answer_measures


def records(n: int = 6) -> list[QARecord]:
    return [
        QARecord(
            f"c{i}/base",
            f"c{i}",
            f"e{i}",
            "base",
            f"What is the capital of country {i}?",
            f"City{i}",
            (f"X{i}", f"Y{i}"),
        )
        for i in range(n)
    ]


def test_the_context_is_drawn_by_the_seed_and_never_scored():
    recs = records()
    context, scored = draw_context(recs, k=2, seed=3)
    assert [r.id for r in context] == [r.id for r in draw_context(recs, k=2, seed=3)[0]]
    assert len(context) == 2 and not {r.id for r in context} & {r.id for r in scored}
    assert [r.id for r in scored] == [r.id for r in recs if r not in context]  # in the given order
    with pytest.raises(ValueError, match="lower card.in_context_k"):
        draw_context(recs, k=6, seed=0)


def test_the_prompt_holds_the_pairs_then_the_question():
    recs = records()
    prompted = with_context(recs[2], recs[:2])
    assert prompted.question == (
        "What is the capital of country 0? City0\nWhat is the capital of country 1? City1\n\n"
        "What is the capital of country 2?"
    )
    assert prompted.options == recs[2].options and prompted.answer == recs[2].answer
    assert context_text(recs[:1]).endswith("City0\n\n")
    long = QARecord("long", "c", "e", "base", "Q" * (MAX_TEXT_CHARS - 5), "A", ("B", "C"))
    with pytest.raises(ValueError, match="over the limit"):
        with_context(recs[0], [long])


def test_the_items_are_scored_by_the_pipelines_evaluation(tiny):
    model, tokenizer = tiny
    recs = records()
    result = in_context_items(model, tokenizer, recs, "mcqa", k=2, seed=1)
    context, scored = draw_context(recs, k=2, seed=1)
    prompted = [with_context(r, context) for r in scored]
    expected = answer_items(model, tokenizer, prompted, "mcqa")
    logprobs, margins = answer_measures(model, tokenizer, prompted)
    assert result["context_ids"] == [r.id for r in context] and result["eval_ids"] == [r.id for r in scored]
    assert [it["id"] for it in result["items"]] == result["eval_ids"] and result["n"] == 4
    assert [it["correct"] for it in result["items"]] == [it["correct"] for it in expected]
    assert [it["margin"] for it in result["items"]] == pytest.approx(margins, abs=1e-5)
    assert [it["logprob"] for it in result["items"]] == pytest.approx(logprobs, abs=1e-5)
    assert result["margin"] == pytest.approx(sum(margins) / 4, abs=1e-5)
