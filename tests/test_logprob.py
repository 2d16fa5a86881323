"""The continuous recovery measures: each record's mean per-token gold-answer log-probability, in the training
format, against an independent full log-softmax (tests/reference.py); its margin over the wrong answers against
one log-probability per answer; the recovered share and the difference in differences on hand cases."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from ssiuu.data.records import QARecord
from ssiuu.data.templates import mcqa_prompt
from ssiuu.evaluation.logprob import (
    answer_logprobs,
    answer_margins,
    difference_in_differences,
    margin,
    recovered_share,
)
from ssiuu.finite import NonFiniteLossError
from ssiuu.training import encode_pairs
from tests.reference import token_logprobs


def test_answer_logprobs_is_the_mean_log_softmax_over_answer_tokens(tiny):
    model, tok = tiny
    records = [
        QARecord(id=f"r{i}", cluster=f"c{i}", entity="e", kind="qa", question=q, answer=a)
        for i, (q, a) in enumerate(
            [
                ("Where was Ann born?", "Oslo, Norway."),
                ("What is 2+2?", "4"),
                ("Name a colour.", "A deep and quiet blue."),
            ]
        )
    ]
    got = answer_logprobs(model, tok, records, batch_size=2)
    batch = encode_pairs(tok, [(r.question, r.answer) for r in records])
    with torch.no_grad():
        picked, mask = token_logprobs(model, batch)
    expected = (picked.sum(-1) / mask.sum(-1)).tolist()
    assert got == pytest.approx(expected, abs=1e-5)
    assert all(v < 0 for v in got)


@pytest.mark.parametrize("measure", [answer_logprobs, answer_margins])
def test_a_non_finite_model_is_refused(tiny, measure):
    model, tok = tiny
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    record = QARecord(
        id="r", cluster="c", entity="e", kind="qa", question="Q?", answer="A.", perturbed_answers=("B.",)
    )
    with pytest.raises(NonFiniteLossError, match="answer log-probabilities"):
        measure(model, tok, [record])


def test_margin_is_gold_minus_the_log_mean_exp_of_the_wrong_answers():
    assert margin(-1.0, [-2.0, -3.0]) == pytest.approx(-1.0 - math.log((math.exp(-2.0) + math.exp(-3.0)) / 2))
    assert margin(-2.0, [-2.0, -2.0, -2.0]) == pytest.approx(0.0)  # no preference
    assert margin(-0.5, [-4.0]) == pytest.approx(3.5)
    # exp underflows at these values; the log-sum-exp does not
    assert margin(-1000.0, [-1001.0, -1002.0]) == pytest.approx(1.0 - math.log((1 + math.exp(-1.0)) / 2))
    with pytest.raises(ValueError, match="at least one wrong answer"):
        margin(-1.0, [])


def _wrong_answer_records() -> list[QARecord]:
    """MCQA records (two false options) and ROUGE records (three perturbed answers), mixed."""
    mcqa = [
        QARecord(
            id="m0",
            cluster="c0",
            entity="e",
            kind="base",
            question="Where was Ann born?",
            answer="Oslo",
            false_options=("Rome", "Lima"),
        ),
        QARecord(
            id="m1",
            cluster="c1",
            entity="e",
            kind="base",
            question="What is 2+2?",
            answer="4",
            false_options=("five", "22 or so"),
        ),
    ]
    rouge = [
        QARecord(
            id="t0",
            cluster="c2",
            entity="e",
            kind="qa",
            question="Name a colour.",
            answer="A deep and quiet blue.",
            perturbed_answers=("Red.", "A loud green.", "Grey, mostly."),
        )
    ]
    return [mcqa[0], rouge[0], mcqa[1]]


def _reference_mean_logprob(model, tok, prompt: str, answer: str) -> float:
    """One answer's mean per-token log-probability after ``prompt``, by the independent full log-softmax."""
    batch = encode_pairs(tok, [(prompt, answer)])
    with torch.no_grad():
        picked, mask = token_logprobs(model, batch)
    return (picked.sum(-1) / mask.sum(-1)).item()


def test_answer_margins_equal_the_margin_of_each_answers_own_log_probability(tiny):
    """Each answer scored alone under the item's scoring prompt (the MCQA prompt with its options for MCQA
    records, the question for ROUGE records), then the margin by hand: the same as answer_margins' one forward
    over a chunk's rows."""
    model, tok = tiny
    records = _wrong_answer_records()
    got = answer_margins(model, tok, records, batch_size=2)  # chunks of two records
    expected = []
    for r in records:
        prompt = mcqa_prompt(r) if r.false_options else r.question
        gold = _reference_mean_logprob(model, tok, prompt, r.answer)
        lps = [_reference_mean_logprob(model, tok, prompt, w) for w in r.false_options or r.perturbed_answers]
        expected.append(gold - math.log(sum(math.exp(v) for v in lps) / len(lps)))
    assert got == pytest.approx(expected, abs=1e-4)
    assert len({round(v, 6) for v in got}) == 3  # three different items, three different margins
    assert answer_margins(model, tok, records, batch_size=16) == pytest.approx(got, abs=1e-5)


def test_an_mcqa_margin_is_read_under_the_mcqa_prompt_not_the_bare_question(tiny):
    """On MCQA records the margin's prompt lists the options, as the forget score's prompt does; the gold
    log-probability stays in the training format (the bare question)."""
    from ssiuu.evaluation.logprob import answer_measures, margin_prompt

    model, tok = tiny
    mcqa = _wrong_answer_records()[0]
    assert margin_prompt(mcqa) == mcqa_prompt(mcqa) and all(o in margin_prompt(mcqa) for o in mcqa.options)
    (logprob,), (got,) = answer_measures(model, tok, [mcqa])
    assert logprob == pytest.approx(_reference_mean_logprob(model, tok, mcqa.question, mcqa.answer), abs=1e-4)
    bare = [_reference_mean_logprob(model, tok, mcqa.question, a) for a in (mcqa.answer, *mcqa.false_options)]
    assert got != pytest.approx(margin(bare[0], bare[1:]), abs=1e-3)


def test_a_record_without_wrong_answers_has_no_margin(tiny):
    model, tok = tiny
    records = _wrong_answer_records()
    bare = QARecord(id="bare/q7", cluster="c", entity="e", kind="qa", question="Q?", answer="A.")
    with pytest.raises(ValueError, match="'bare/q7' has neither false_options nor perturbed_answers"):
        answer_margins(model, tok, [*records, bare])


def test_recovered_share_on_hand_cases():
    # the model starts at −2 and ends at −1; the reference attacked with the same draw ends at 0: half the way
    assert recovered_share(-1.0, -2.0, 0.0) == pytest.approx(0.5)
    assert recovered_share(0.0, -2.0, 0.0) == pytest.approx(1.0)  # as far as the reference: hiding
    assert recovered_share(-2.0, -2.0, 0.0) == pytest.approx(0.0)  # nothing came back: erasing
    assert recovered_share(-2.5, -2.0, 0.0) == pytest.approx(-0.25)  # the attack lowered it
    # undefined: the reference ends no higher than the model started
    assert math.isnan(recovered_share(-1.0, -2.0, -2.0))
    assert math.isnan(recovered_share(-1.0, -2.0, -3.0))


def test_difference_in_differences_on_hand_cases():
    # the model gains 1.5 (−3 → −1.5), the reference 0.5 (0 → 0.5): 1.0 beyond what the attack teaches alone
    assert difference_in_differences(-1.5, -3.0, 0.5, 0.0) == pytest.approx(1.0)
    assert difference_in_differences(-2.0, -3.0, 1.0, 0.0) == pytest.approx(0.0)
    assert difference_in_differences(-3.0, -3.0, 1.0, 0.0) == pytest.approx(-1.0)


def test_every_fs_item_of_an_evaluation_gets_its_log_probability_and_margin(tiny):
    """unlearning.evaluate's per-item forget entries (base.json, unlearn.json, the references'): each FS item
    (base question) gets ``logprob`` and ``margin``; a test question of the forget set gets neither."""
    from ssiuu import unlearning
    from ssiuu.config import validate_config
    from ssiuu.data.records import BenchmarkSplit

    model, tok = tiny
    base = [r for r in _wrong_answer_records() if r.kind == "base"]
    paraphrase = dataclasses.replace(base[0], id="m0/p", kind="paraphrase", question="Ann was born where?")
    retain = [dataclasses.replace(base[1], id="r0", cluster="c9")]
    split = BenchmarkSplit(name="wf", style="mcqa", forget=[*base, paraphrase], retain=retain, test=[])
    items = [{"id": r.id, "correct": False} for r in split.forget]
    config = validate_config({"benchmarks": {"wf": {"kind": "worldfacts"}}, "eval_batch_size": 1})
    unlearning._add_forget_logprobs(config, model, tok, split, items)
    options = {"max_length": config["unlearning"]["max_length"]}
    lps, margins = answer_logprobs(model, tok, base, **options), answer_margins(model, tok, base, **options)
    assert [it["logprob"] for it in items[:2]] == pytest.approx(lps, abs=1e-5)  # batches of 1 there
    assert [it["margin"] for it in items[:2]] == pytest.approx(margins, abs=1e-5)
    assert "logprob" not in items[2] and "margin" not in items[2]


def test_answer_measures_gold_log_probability_is_answer_logprobs(tiny):
    """The one forward of answer_measures gives the gold answers' log-probabilities answer_logprobs gives alone."""
    from ssiuu.evaluation.logprob import answer_measures

    model, tok = tiny
    records = _wrong_answer_records()
    logprobs, margins = answer_measures(model, tok, records, batch_size=2)
    assert logprobs == pytest.approx(answer_logprobs(model, tok, records, batch_size=1), abs=1e-4)
    assert margins == answer_margins(model, tok, records, batch_size=2)
