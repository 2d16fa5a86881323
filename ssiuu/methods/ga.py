"""Gradient Ascent (Jang et al., 2022; App. C.2 (1)): ascend the NLL of the forget answers."""

from __future__ import annotations

from torch import nn

from ssiuu.forward import Batch, answer_nll
from ssiuu.methods.base import LossOutput, UnlearningMethod


class GA(UnlearningMethod):
    """``L = −NLL(forget)`` (mean answer-token NLL); the only method without a retain stream."""

    name = "ga"
    uses_retain = False

    def loss(self, model: nn.Module, batches: dict[str, Batch], step: int) -> LossOutput:
        nll_f = answer_nll(model, batches["forget"])
        return -nll_f, {"forget_nll": nll_f.item()}
