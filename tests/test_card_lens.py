"""The card's logit-lens test (ssiuu/card/lens.py): its per-item summary on a hand-made case, and on a tiny model
the same reading as Fig. 4's lens (ssiuu/analysis/logit_lens.py)."""

from __future__ import annotations

import random

import pytest
import torch

from ssiuu.analysis.logit_lens import logit_lens_accuracy, logit_lens_logprobs
from ssiuu.card.lens import LENS_CHANCE, lens_items, lens_summary
from ssiuu.data.records import QARecord
from ssiuu.training import encode_pairs

RECORDS = [
    QARecord("r0", "c0", "e", "base", "What is the capital of France?", "Paris.", ("London", "Yen")),
    QARecord("r1", "c1", "e", "base", "Which continent is Brazil in?", "South America.", ("Europe", "Asia")),
    QARecord("r2", "c2", "e", "base", "What is the currency of Japan?", "Yen", ("Euro", "Dollar")),
    QARecord("r3", "c3", "e", "base", "Odd one?", "xqa", ("xzb",)),  # gold and distractor share a first token
]


def test_the_summary_leaves_the_embeddings_out():
    # 3 layers (embeddings, 1, 2) x 2 items
    hits = torch.tensor([[True, True], [True, False], [False, False]])
    gaps = torch.tensor([[9.0, 9.0], [1.0, -2.0], [-3.0, -4.0]])
    readable, margin = lens_summary(hits, gaps)
    assert readable == [0.5, 0.0]  # item 0 read right at layer 1 only, item 1 at neither
    assert margin == pytest.approx([(1.0 - 3.0) / 2, (-2.0 - 4.0) / 2])
    with pytest.raises(ValueError, match="at least one decoder layer"):
        lens_summary(hits[:1], gaps[:1])


def test_the_items_read_what_figure_4_reads(tiny):
    model, tokenizer = tiny
    result = lens_items(model, tokenizer, RECORDS, seed=7, batch_size=3)
    assert result["chance"] == LENS_CHANCE and result["skipped_ids"] == ["r3"]
    assert [it["id"] for it in result["items"]] == ["r0", "r1", "r2"] and result["n"] == 3
    # per layer, the accuracy of Fig. 4's lens on the same records and distractors
    figure4 = logit_lens_accuracy(model, tokenizer, RECORDS, batch_size=3, seed=7)
    assert [layer["accuracy"] for layer in result["layers"]] == pytest.approx(figure4.accuracy.tolist())
    for item in result["items"]:
        by_layer = item["correct_by_layer"]
        assert len(by_layer) == 3 and item["readable"] == pytest.approx(sum(by_layer[1:]) / 2)
    assert result["readable"] == pytest.approx(sum(it["readable"] for it in result["items"]) / 3)


def test_the_margin_is_the_mean_gap_over_the_decoder_layers(tiny):
    model, tokenizer = tiny
    record = RECORDS[2]
    result = lens_items(model, tokenizer, [record], seed=0)
    distractor = random.Random(0).choice(record.false_options)  # as the lens draws it
    logps = []
    for answer in (record.answer, distractor):
        enc = encode_pairs(tokenizer, [(record.question, answer)])
        first = int((enc["labels"][0] != -100).nonzero()[0])
        logps.append(
            logit_lens_logprobs(
                model,
                enc["input_ids"],
                enc["attention_mask"],
                torch.tensor([first - 1]),
                enc["labels"][:, first],
            )[:, 0]
        )
    gap = logps[0] - logps[1]
    assert result["items"][0]["margin"] == pytest.approx(float(gap[1:].mean()), abs=1e-5)
    assert result["items"][0]["correct_by_layer"] == (gap > 0).tolist()


def test_items_that_all_open_alike_leave_the_lens_empty_not_failing(tiny, tmp_path):
    from ssiuu.card.render import Settings, card_rows
    from ssiuu.io import read_json, write_json

    model, tokenizer = tiny
    result = lens_items(model, tokenizer, [RECORDS[3]])
    assert (result["n"], result["items"], result["skipped_ids"]) == (0, [], ["r3"])
    assert result["readable"] is None and [layer["accuracy"] for layer in result["layers"]] == [None] * 3
    write_json(tmp_path / "lens.json", result | {"test": "logit_lens", "score_field": "readable"})
    lens = read_json(tmp_path / "lens.json")
    rows, verdicts = card_rows(
        {"logit_lens": lens}, {"Hider": {"logit_lens": lens}}, Settings(n_resamples=99)
    )
    assert rows[0][2:] == ["0", "–", "–", "cannot tell at this n"] and verdicts == ["cannot tell at this n"]
