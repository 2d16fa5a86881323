"""The continuous recovery measure: each record's mean per-token gold-answer log-probability, in the training
format, against an independent full log-softmax (tests/reference.py)."""

from __future__ import annotations

import pytest
import torch

from ssiuu.data.records import QARecord
from ssiuu.evaluation.logprob import answer_logprobs
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


def test_a_non_finite_model_is_refused(tiny):
    model, tok = tiny
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    record = QARecord(id="r", cluster="c", entity="e", kind="qa", question="Q?", answer="A.")
    with pytest.raises(NonFiniteLossError, match="answer log-probabilities"):
        answer_logprobs(model, tok, [record])
