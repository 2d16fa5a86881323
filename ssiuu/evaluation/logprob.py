"""The continuous recovery measures (erased or hidden?): the gold answer's log-probability and its margin.

Accuracy and ROUGE move in steps and can hit a floor; the mean per-token log-probability of the gold
answer, in the format unlearning trains on (chat-wrapped question, answer + EOS), moves continuously.
Comparing it on the same items before unlearning, after unlearning and during an attack tells how much of
what unlearning removed an attack brings back (:func:`recovered_fraction`).

Fine-tuning on bare QA pairs raises the log-probability of every answer in the trained format, so an attack
can raise the gold answer's log-probability without teaching a single fact. The **margin** cannot move that
way: the gold answer's mean per-token log-probability against the log-mean-exp of the same item's wrong
answers in the same format (:func:`margin`, :func:`answer_margins`; ``docs/results.md``). Attacked models are
compared with the starting model attacked with the same draws (:func:`recovered_share`,
:func:`difference_in_differences`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from scipy.special import logsumexp

from ssiuu.data.records import QARecord
from ssiuu.data.templates import mcqa_prompt
from ssiuu.finite import require_finite
from ssiuu.forward import sequence_logprobs
from ssiuu.model_parts import model_device
from ssiuu.training import QAPair, batched, encode


@torch.no_grad()
def answer_logprobs(
    model: Any, tokenizer: Any, records: Sequence[QARecord], *, max_length: int = 256, batch_size: int = 16
) -> list[float]:
    """Per record: the mean log-probability per answer token (EOS included) of its gold answer."""
    values: list[float] = []
    for chunk in batched(list(records), batch_size):
        batch = encode(tokenizer, [(r.question, r.answer) for r in chunk], model_device(model), max_length)
        seq, counts = sequence_logprobs(model, batch)
        mean = seq / counts.clamp(min=1)
        require_finite([("the answer log-probabilities", mean)], "answer_logprobs")
        values += mean.tolist()
    return values


def wrong_answers(record: QARecord) -> tuple[str, ...]:
    """The record's same-format wrong answers: its false options (MCQA), else its perturbed answers (ROUGE).

    A ValueError naming the record when it has neither: its margin is undefined."""
    wrong = record.false_options or record.perturbed_answers
    if not wrong:
        raise ValueError(
            f"record {record.id!r} has neither false_options nor perturbed_answers: its margin needs at least "
            "one wrong answer"
        )
    return wrong


def margin(gold: float, wrong: Sequence[float]) -> float:
    """``gold − log((1/K) Σ_k exp wrong_k)``: the gold answer's log-probability over the log-mean-exp of the
    K wrong answers' (nats per token; 0 = no preference, higher = more knowledge)."""
    if not len(wrong):
        raise ValueError("margin needs at least one wrong answer")
    return float(gold - (logsumexp(list(wrong)) - math.log(len(wrong))))


def margin_prompt(record: QARecord) -> str:
    """The user message an item's margin is read under: the MCQA prompt its forget score is asked with (records
    with false options), else its question (ROUGE benchmarks, whose forget score is asked with the question).

    On MCQA benchmarks the training format (bare question, answer) and the scored format differ: a model can
    stop picking the gold option while the bare answer's log-probability barely moves, so a margin read in the
    training format would not see what unlearning removed (``docs/results.md``)."""
    return mcqa_prompt(record) if record.false_options else record.question


def _measure_rows(record: QARecord) -> list[QAPair]:
    """The (prompt, answer) rows of one record: the gold answer in the training format, then the gold and the
    wrong answers under :func:`margin_prompt` (the first row serves both where the two prompts coincide)."""
    prompt, wrong = margin_prompt(record), wrong_answers(record)
    rows = [(record.question, record.answer)]
    if prompt != record.question:
        rows.append((prompt, record.answer))
    return rows + [(prompt, answer) for answer in wrong]


@torch.no_grad()
def answer_measures(
    model: Any, tokenizer: Any, records: Sequence[QARecord], *, max_length: int = 256, batch_size: int = 16
) -> tuple[list[float], list[float]]:
    """Per record: ``(logprobs, margins)``, the gold answer's mean per-token log-probability in the training
    format (EOS included, as :func:`answer_logprobs` computes it) and its :func:`margin` against the wrong
    answers' (:func:`wrong_answers`) under :func:`margin_prompt`.

    The rows of ``batch_size`` records go through one forward pass together. A record without wrong answers
    is a ValueError naming it (checked before any forward pass)."""
    rows = [_measure_rows(r) for r in records]
    n_wrong = [len(wrong_answers(r)) for r in records]
    logprobs: list[float] = []
    margins: list[float] = []
    for chunk in batched(list(zip(rows, n_wrong, strict=True)), batch_size):
        batch = encode(
            tokenizer,
            [row for record_rows, _ in chunk for row in record_rows],
            model_device(model),
            max_length,
        )
        seq, counts = sequence_logprobs(model, batch)
        mean = seq / counts.clamp(min=1)
        require_finite([("the answer log-probabilities", mean)], "answer_measures")
        flat = mean.tolist()
        start = 0
        for record_rows, k in chunk:
            values = flat[start : start + len(record_rows)]
            logprobs.append(values[0])
            margins.append(margin(values[-k - 1], values[-k:]))
            start += len(record_rows)
    return logprobs, margins


def answer_margins(model: Any, tokenizer: Any, records: Sequence[QARecord], **options: Any) -> list[float]:
    """Per record: the margin of :func:`answer_measures`."""
    return answer_measures(model, tokenizer, records, **options)[1]


def recovered_fraction(attacked: float, unlearned: float, start: float) -> float:
    """(attacked − unlearned) / (start − unlearned): 0 = nothing regained, 1 = back to the starting model.

    NaN when unlearning did not lower the log-probability (start ≤ unlearned)."""
    drop = start - unlearned
    return (attacked - unlearned) / drop if drop > 0 else float("nan")


def recovered_share(model_after: float, model_before: float, reference_after: float) -> float:
    """(model after − model before) / (reference after − model before), e.g. on margins (``docs/results.md``).

    ``model_before`` is the model's step-0 value, ``model_after`` its value after the attack and
    ``reference_after`` the starting model's after the same draw: near 1, the attack brings the model as far as
    it brings a model that knows the facts (hiding); near 0, nothing comes back (erasing). NaN when the
    denominator is ≤ 0 (the attacked reference ends no higher than the model started): the share is undefined."""
    room = reference_after - model_before
    return (model_after - model_before) / room if room > 0 else float("nan")


def difference_in_differences(
    model_after: float, model_before: float, reference_after: float, reference_before: float
) -> float:
    """(model after − model before) − (reference after − reference before): what the attack gives the model
    beyond what it gives the reference, on the same items and draws."""
    return (model_after - model_before) - (reference_after - reference_before)
