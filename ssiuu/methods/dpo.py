"""DPO for unlearning (Rafailov et al., 2023; App. C.2 (3)): prefer the refusal over the true answer."""

from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from ssiuu.data.templates import REFUSAL_ANSWER
from ssiuu.forward import Batch, answer_nll, sequence_logprobs
from ssiuu.methods._reference import ReferenceLogprobs
from ssiuu.methods.base import LossOutput, UnlearningMethod
from ssiuu.training import encode


class DPO(UnlearningMethod):
    """``L = −E log σ(β[(log πθ(y_w|x) − log π_ref(y_w|x)) − (log πθ(y_l|x) − log π_ref(y_l|x))])
    + retain_weight·NLL(retain)`` with y_w = "I can't answer the question." (preferred) and y_l the
    true forget answer (rejected). π_ref is the frozen starting model; sequence log-probabilities
    sum over the answer tokens (+EOS).
    """

    name = "dpo"

    def __init__(
        self,
        *,
        beta: float = 0.1,
        retain_weight: float = 1.0,
        preferred_answer: str = REFUSAL_ANSWER,
        max_length: int = 256,
    ) -> None:
        self.reject_if(beta <= 0, f"beta must be > 0, got {beta}")
        self.beta = float(beta)
        self.retain_weight = float(retain_weight)
        self.preferred_answer = preferred_answer
        self.max_length = int(max_length)
        self.reference = ReferenceLogprobs(self.model)

    def preferred_batch(self, forget_batch: Batch) -> Batch:
        """The forget questions paired with the refusal answer, encoded like the training loop does."""
        pairs = [(q, self.preferred_answer) for q, _ in forget_batch["pairs"]]
        return encode(self.tokenizer, pairs, forget_batch["input_ids"].device, self.max_length)

    def loss(self, model: nn.Module, batches: dict[str, Batch], step: int) -> LossOutput:
        rejected = batches["forget"]
        chosen = self.preferred_batch(rejected)
        logp_w, _ = sequence_logprobs(model, chosen)
        logp_l, _ = sequence_logprobs(model, rejected)
        margin = (logp_w - self.reference(chosen)) - (logp_l - self.reference(rejected))
        dpo = -F.logsigmoid(self.beta * margin).mean()
        nll_r = answer_nll(model, batches["retain"])
        return dpo + self.retain_weight * nll_r, {
            "dpo": dpo.item(),
            "margin": margin.mean().item(),
            "retain_nll": nll_r.item(),
        }
