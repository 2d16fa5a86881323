"""Negative Preference Optimization (Zhang et al., 2024; App. C.2 (4)) with a retain NLL term."""

from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from ssiuu.forward import Batch, answer_nll, sequence_logprobs
from ssiuu.methods._reference import ReferenceLogprobs
from ssiuu.methods.base import LossOutput, UnlearningMethod


class NPO(UnlearningMethod):
    """``L = −(2/β)·E_forget[log σ(−β·(log πθ(y|x) − log π_ref(y|x)))] + retain_weight·NLL(retain)``.

    Sequence log-probabilities sum over the answer tokens (+EOS); π_ref is the frozen starting model.
    The paper searches β ∈ [0.1, 0.5]; default 0.1.
    """

    name = "npo"

    def __init__(self, *, beta: float = 0.1, retain_weight: float = 1.0) -> None:
        self.reject_if(beta <= 0, f"beta must be > 0, got {beta}")
        self.beta = float(beta)
        self.retain_weight = float(retain_weight)
        self.reference = ReferenceLogprobs(self.model)

    def loss(self, model: nn.Module, batches: dict[str, Batch], step: int) -> LossOutput:
        fb = batches["forget"]
        logp, _ = sequence_logprobs(model, fb)
        ratio = logp - self.reference(fb)
        npo = -(2.0 / self.beta) * F.logsigmoid(-self.beta * ratio).mean()
        nll_r = answer_nll(model, batches["retain"])
        return npo + self.retain_weight * nll_r, {
            "npo": npo.item(),
            "log_ratio": ratio.mean().item(),
            "retain_nll": nll_r.item(),
        }
