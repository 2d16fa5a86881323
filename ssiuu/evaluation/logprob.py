"""The continuous recovery measure (erased or hidden?): the gold answer's log-probability.

Accuracy and ROUGE move in steps and can hit a floor; the mean per-token log-probability of the gold
answer, in the format unlearning trains on (chat-wrapped question, answer + EOS), moves continuously.
Comparing it on the same items before unlearning, after unlearning and during an attack tells how much of
what unlearning removed an attack brings back (:func:`recovered_fraction`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ssiuu.data.records import QARecord
from ssiuu.finite import require_finite
from ssiuu.forward import sequence_logprobs
from ssiuu.model_parts import model_device
from ssiuu.training import batched, encode


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


def recovered_fraction(attacked: float, unlearned: float, start: float) -> float:
    """(attacked − unlearned) / (start − unlearned): 0 = nothing regained, 1 = back to the starting model.

    NaN when unlearning did not lower the log-probability (start ≤ unlearned)."""
    drop = start - unlearned
    return (attacked - unlearned) / drop if drop > 0 else float("nan")
