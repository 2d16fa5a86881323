"""MCQA match rule and accuracy (FaithUn-style FS)."""

from __future__ import annotations

import pytest

from ssiuu import evaluation
from ssiuu.data.records import QARecord
from ssiuu.data.templates import mcqa_prompt
from ssiuu.evaluation import answer_items
from ssiuu.evaluation.mcqa import match_option, normalize_answer, score_generations

OPTS = ("Paris", "London", "Rome")


def test_normalize_answer():
    assert normalize_answer('  "The Paris!" ') == ["paris"]
    assert normalize_answer("Bogotá, D.C.") == ["bogota", "d", "c"]
    assert normalize_answer("Guinea-Bissau") == ["guinea", "bissau"]
    assert normalize_answer("an apple a day") == ["apple", "day"]
    assert normalize_answer("‘Côte d’Ivoire’") == ["cote", "d", "ivoire"]


@pytest.mark.parametrize("rule", ["unique_mention", "prefix"])
@pytest.mark.parametrize(
    "gen", ["Paris", "paris", "Paris.", " 'Paris' ", "PARIS\n", "The Paris", "Paris is the answer"]
)
def test_clean_answers_match_under_both_rules(rule, gen):
    assert match_option(gen, OPTS, rule) == "Paris"


@pytest.mark.parametrize(
    ("gen", "unique_mention", "prefix"),
    [
        ("The capital of France is Paris.", "Paris", None),  # sentence answer: only the mention rule accepts
        ("Paris, London, Rome", None, "Paris"),  # echo of the options: ambiguous under the mention rule
        ("Paris or London", None, "Paris"),
        ("B London", "London", None),
        ("I don't know.", None, None),
        ("", None, None),
        ("Parisian food", None, None),  # whole words only
    ],
)
def test_ambiguous_and_sentence_answers(gen, unique_mention, prefix):
    assert match_option(gen, OPTS, "unique_mention") == unique_mention
    assert match_option(gen, OPTS, "prefix") == prefix


def test_nested_options_longest_wins():
    opts = ("Guinea", "Equatorial Guinea", "Mali")
    assert match_option("Equatorial Guinea", opts) == "Equatorial Guinea"
    assert match_option("Guinea", opts) == "Guinea"
    assert match_option("Guinea, not Equatorial Guinea", opts) is None
    assert match_option("Equatorial Guinea", opts, "prefix") == "Equatorial Guinea"
    opts2 = ("New York", "New York City", "Boston")
    assert match_option("New York City.", opts2, "prefix") == "New York City"
    assert match_option("New York state", opts2, "prefix") == "New York"


def test_accents_and_articles_in_options():
    assert match_option("Bogota", ("Bogotá", "Lima", "Quito")) == "Bogotá"
    assert match_option("Bahamas", ("The Bahamas", "Cuba", "Haiti")) == "The Bahamas"


def test_option_that_is_an_article():
    assert match_option("A", ("A", "B", "AB")) == "A"
    assert match_option("Blood type AB", ("A", "B", "AB")) == "AB"
    assert match_option("the answer", ("A", "B", "AB")) is None


def test_unknown_rule():
    with pytest.raises(ValueError, match="match rule"):
        match_option("Paris", OPTS, "fuzzy")


def _recs() -> list[QARecord]:
    return [
        QARecord(
            id="a",
            cluster="a",
            entity="France",
            kind="base",
            question="Capital of France?",
            answer="Paris",
            false_options=("London", "Rome"),
        ),
        QARecord(
            id="b",
            cluster="b",
            entity="Japan",
            kind="base",
            question="Currency of Japan?",
            answer="Yen",
            false_options=("Euro", "Dollar"),
        ),
        QARecord(
            id="c",
            cluster="c",
            entity="Peru",
            kind="base",
            question="Capital of Peru?",
            answer="Lima",
            false_options=("Quito", "Bogota"),
        ),
    ]


def test_score_generations_accuracy_and_items():
    res = score_generations(_recs(), ["Paris", "Euro", "Quito, Lima"])
    assert res.accuracy == pytest.approx(1 / 3)
    assert [it["prediction"] for it in res.items] == ["Paris", "Euro", None]
    assert [it["correct"] for it in res.items] == [True, False, False]
    assert res.items[0] == {"id": "a", "generation": "Paris", "prediction": "Paris", "correct": True}


def test_answer_items_scores_mcqa_answers_to_template_prompts(monkeypatch, tiny):
    model, tok = tiny
    seen = {}

    def fake_generate(m, t, prompts, *, max_new_tokens, batch_size, desc):
        seen.update(prompts=prompts, max_new_tokens=max_new_tokens, batch_size=batch_size)
        return ["The answer is Paris", "Yen.", "lima"]

    monkeypatch.setattr(evaluation, "greedy_generate", fake_generate)
    items = answer_items(model, tok, _recs(), "mcqa", batch_size=4, max_new_tokens=7)
    assert [it["correct"] for it in items] == [True, True, True]
    assert seen["prompts"] == [mcqa_prompt(r) for r in _recs()]
    assert (seen["max_new_tokens"], seen["batch_size"]) == (7, 4)
    answer_items(model, tok, _recs(), "mcqa")
    assert seen["max_new_tokens"] == evaluation.MCQA_MAX_NEW_TOKENS


def test_answer_items_runs_mcqa_on_a_model(tiny):
    model, tok = tiny
    items = answer_items(model, tok, _recs(), "mcqa", batch_size=2, max_new_tokens=3)
    assert [it["id"] for it in items] == ["a", "b", "c"]
    assert all(it["correct"] == (it["prediction"] == r.answer) for it, r in zip(items, _recs(), strict=True))
    with pytest.raises(ValueError, match="no records"):
        answer_items(model, tok, [], "mcqa")
