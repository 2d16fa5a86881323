"""Gradient Difference (Maini et al., 2024; App. C.2 (2)): GA on forget + NLL on retain."""

from __future__ import annotations

from torch import Tensor, nn

from ssiuu.forward import Batch, answer_nll
from ssiuu.methods.base import LossOutput, UnlearningMethod


def gd_loss(
    model: nn.Module, batches: dict[str, Batch], retain_weight: float
) -> tuple[Tensor, dict[str, float]]:
    """``L_GD = −NLL(forget) + retain_weight · NLL(retain)`` (the backbone of KLUE, SSIUU and SIMU)."""
    nll_f = answer_nll(model, batches["forget"])
    nll_r = answer_nll(model, batches["retain"])
    return -nll_f + retain_weight * nll_r, {"forget_nll": nll_f.item(), "retain_nll": nll_r.item()}


class GD(UnlearningMethod):
    """``L = −NLL(forget) + retain_weight · NLL(retain)``."""

    name = "gd"

    def __init__(self, *, retain_weight: float = 1.0) -> None:
        self.retain_weight = float(retain_weight)

    def loss(self, model: nn.Module, batches: dict[str, Batch], step: int) -> LossOutput:
        return gd_loss(model, batches, self.retain_weight)
