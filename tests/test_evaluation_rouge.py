"""ROUGE-L recall (TOFU metric) and the mismatched-pair threshold τ (App. C.1)."""

from __future__ import annotations

import pytest
from rouge_score import rouge_scorer

from ssiuu import evaluation
from ssiuu.data.records import QARecord
from ssiuu.evaluation import answer_items
from ssiuu.evaluation.rouge import mismatched_threshold, rouge_l_recall


def _lcs(a: list[str], b: list[str]) -> int:
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            table[i + 1][j + 1] = table[i][j] + 1 if x == y else max(table[i][j + 1], table[i + 1][j])
    return table[-1][-1]


def test_rouge_l_recall_by_hand():
    ref, pred = "the cat sat on the mat", "the cat lay on a mat"
    # LCS = "the cat on mat" (4 words) over 6 reference words.
    assert _lcs(ref.split(), pred.split()) == 4
    assert rouge_l_recall(pred, ref) == pytest.approx(4 / 6)
    # Recall divides by the reference length (the second argument).
    assert rouge_l_recall("the cat", "the cat sat on the mat") == pytest.approx(2 / 6)
    assert rouge_l_recall("the cat sat on the mat", "the cat") == pytest.approx(1.0)


def test_rouge_l_recall_matches_rouge_score_with_stemming():
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    cases = [
        ("She was running novels for the publishers.", "She runs a novel publisher."),
        (
            "Jaime Vasquez was born in Santiago, Chile.",
            "The author Jaime Vasquez was born in Santiago de Chile",
        ),
        ("", "anything at all"),
    ]
    for pred, ref in cases:
        assert rouge_l_recall(pred, ref) == pytest.approx(scorer.score(ref, pred)["rougeL"].recall)
    assert rouge_l_recall("running", "runs") == 1.0  # Porter stemmer: run == run


def _rec(i: int, answer: str) -> QARecord:
    return QARecord(
        id=f"q{i}", cluster=f"a{i}", entity=f"a{i}", kind="qa", question=f"Question {i}?", answer=answer
    )


def test_mismatched_threshold_two_records_by_hand():
    recs = [_rec(0, "red blue"), _rec(1, "red green yellow")]
    # Each record is forced to pair with the other one.
    # R(pred="red green yellow", ref="red blue") = 1/2; R(pred="red blue", ref="red green yellow") = 1/3.
    assert mismatched_threshold(recs, seed=0) == pytest.approx((1 / 2 + 1 / 3) / 2)
    assert mismatched_threshold(recs, seed=5) == pytest.approx(5 / 12)


def test_mismatched_threshold_never_pairs_a_record_with_itself():
    distinct = [_rec(i, w) for i, w in enumerate(["alpha", "bravo", "charlie", "delta", "echo"])]
    assert mismatched_threshold(distinct, seed=3) == 0.0  # a self-pair would score 1
    same = [_rec(i, "the same answer") for i in range(4)]
    assert mismatched_threshold(same) == 1.0
    assert mismatched_threshold(distinct, seed=1) == mismatched_threshold(distinct, seed=1)
    with pytest.raises(ValueError, match="at least 2"):
        mismatched_threshold(distinct[:1])


def test_answer_items_scores_plain_questions_by_rouge_recall(monkeypatch, tiny):
    model, tok = tiny
    recs = [_rec(0, "born in London"), _rec(1, "a fantasy writer")]
    seen = {}

    def fake_generate(m, t, prompts, *, max_new_tokens, batch_size, desc):
        seen.update(prompts=prompts, max_new_tokens=max_new_tokens)
        return ["She was born in London.", "He is the doctor."]

    monkeypatch.setattr(evaluation, "greedy_generate", fake_generate)
    items = answer_items(model, tok, recs, "rouge", batch_size=2)
    assert seen == {"prompts": ["Question 0?", "Question 1?"], "max_new_tokens": 64}
    assert [it["rougeL_recall"] for it in items] == pytest.approx([1.0, 0.0])
    assert evaluation.forget_score(model, tok, recs, "rouge") == pytest.approx(0.5)


def test_answer_items_runs_rouge_on_a_model(tiny):
    model, tok = tiny
    items = answer_items(
        model, tok, [_rec(0, "Paris"), _rec(1, "Yen")], "rouge", batch_size=2, max_new_tokens=4
    )
    assert len(items) == 2 and all(0.0 <= it["rougeL_recall"] <= 1.0 for it in items)
