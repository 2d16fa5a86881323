"""KLUE, Knowledge-Localized UnlEarning (Yang et al., 2025, the FaithUn paper; App. C.2 (6)).

KLUE localises the FFN neurons that carry the forget knowledge with an attribution method and runs
Gradient Difference on those neurons only (10 % of the FFN neurons). The SSIUU paper applies
"Superficial Knowledge Regularization with α = 10 and N = 5, following the original implementation";
that implementation is not public and the FaithUn paper gives no formula this project could check,
so **the regulariser below is our interpretation**, stated exactly:

* Neuron i of block l is the i-th input of ``mlp.down_proj`` (the gated activation act(gate)·up).
* Attribution (Eq. 1 of the SSIUU paper, Yang et al. 2023): for a pair (x, y),
  ``a_i(x, y) = max_k h_{i,k} · ∂P(y|x)/∂h_{i,k}`` over the non-padding tokens k that can influence
  P(y|x) (all but the final EOS, whose gradient is exactly 0, as in :mod:`ssiuu.attribution`), with
  P(y|x) = exp(Σ answer-token log-probs) (``attribution_target="logprob"`` uses log P instead).
* Superficial knowledge = what makes the model emit the answer string y whatever the question is
  (the answer's surface form, format and frequency, e.g. "USA" for any nationality question). For
  each forget pair we build N = ``superficial_n`` variants (x̃_n, y): the same answer y after a
  question x̃_n drawn at random (seeded) from the retain set — a different entity and context.
* Regularised score: ``s_i = mean_f a_i(x, y) − α · mean_{f, n} a_i(x̃_n, y)`` with α =
  ``superficial_alpha``. Neurons that also push y after unrelated questions are penalised, so the
  selected neurons are the ones tied to the (entity, relation) → answer fact.
* The top ``neuron_ratio`` (10 %) of all FFN neurons by s_i (over all blocks) are trainable: their
  rows of ``gate_proj``/``up_proj`` and their column of ``down_proj``; everything else is frozen.
  The loss is GD: ``−NLL(forget) + retain_weight · NLL(retain)``.

Not implemented: FaithUn's selection of "unforgotten samples" during training (KLUE trains only on
forget items the model still answers correctly); here every forget item stays in the stream, as in
the other methods.
"""

from __future__ import annotations

import math
import random
from typing import Any

import torch
from torch import Tensor, nn

from ssiuu.attribution import attribution_positions
from ssiuu.forward import Batch, sequence_logprobs, upcast
from ssiuu.methods.base import LossOutput, UnlearningMethod
from ssiuu.methods.gd import gd_loss
from ssiuu.model_parts import decoder_layers, full_mask, mlp_projections, model_device, param_names
from ssiuu.progress import progress
from ssiuu.training import QAPair, batched, encode


def ffn_max_attribution(model: nn.Module, batch: Batch, target: str = "prob") -> list[Tensor]:
    """Per block, ``[B, I]``: ``max_k h_{i,k} · ∂P(y|x)/∂h_{i,k}`` over the positions k of each example that
    can influence P(y|x), where h is the input of ``mlp.down_proj`` (Eq. 1 with max aggregation).

    The positions are :func:`ssiuu.attribution.attribution_positions`: the non-padding tokens up to the one that
    predicts the last answer token. The final EOS predicts nothing labelled, so its gradient is exactly 0 and,
    left in, it would make every ``max_k`` at least 0."""
    layers = decoder_layers(model)
    acts: list[Tensor] = []

    def pre_hook(_module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        h = args[0]
        if not h.requires_grad:  # frozen model: make the first hooked activation a leaf
            h = h.detach().requires_grad_()
            acts.append(h)
            return (h, *args[1:])
        acts.append(h)
        return None

    handles = [mlp_projections(layer)[2].register_forward_pre_hook(pre_hook) for layer in layers]
    try:
        with torch.enable_grad():
            seq, _ = sequence_logprobs(model, batch, share_prefix=False)  # the hooks need every position
            objective = seq.exp().sum() if target == "prob" else seq.sum()
            grads = torch.autograd.grad(objective, acts, allow_unused=True, materialize_grads=True)
    finally:
        for handle in handles:
            handle.remove()
    outside = ~attribution_positions(batch["attention_mask"], batch["labels"]).unsqueeze(-1)
    out = []
    for h, g in zip(acts, grads, strict=True):
        a = upcast(h.detach() * g).masked_fill(outside, float("-inf"))
        out.append(a.amax(dim=1))
    return out


def superficial_variants(forget: list[QAPair], retain: list[QAPair], n: int, seed: int) -> list[QAPair]:
    """N (question from the retain set, forget answer) pairs per forget pair, seeded."""
    rng = random.Random(seed)
    questions = [q for q, _ in retain] or [q for q, _ in forget]
    return [(rng.choice(questions), a) for _, a in forget for _ in range(n)]


def mean_attribution(
    model: nn.Module,
    tokenizer: Any,
    pairs: list[QAPair],
    *,
    target: str,
    batch_size: int,
    max_length: int,
    desc: str,
) -> Tensor:
    """``[L, I]``: the mean over ``pairs`` of the max-token FFN attribution."""
    device = model_device(model)
    total: Tensor | None = None
    for chunk in progress(batched(pairs, batch_size), desc=desc, leave=False):
        per_layer = ffn_max_attribution(model, encode(tokenizer, chunk, device, max_length), target)
        s = torch.stack([a.sum(0) for a in per_layer]).cpu()
        total = s if total is None else total + s
    assert total is not None
    return total / len(pairs)


class KLUE(UnlearningMethod):
    """GD restricted to the top ``neuron_ratio`` FFN neurons by regularised attribution (see module doc)."""

    name = "klue"

    def __init__(
        self,
        *,
        neuron_ratio: float = 0.1,
        superficial_alpha: float = 10.0,
        superficial_n: int = 5,
        retain_weight: float = 1.0,
        attribution_target: str = "prob",
        attribution_batch_size: int = 8,
        max_length: int = 256,
    ) -> None:
        self.reject_if(not 0 < neuron_ratio <= 1, f"neuron_ratio must be in (0, 1], got {neuron_ratio}")
        self.reject_if(
            attribution_target not in ("prob", "logprob"),
            f"attribution_target must be 'prob' or 'logprob', got {attribution_target!r}",
        )
        self.reject_if(superficial_n < 0, f"superficial_n must be ≥ 0, got {superficial_n}")
        self.neuron_ratio = float(neuron_ratio)
        self.superficial_alpha = float(superficial_alpha)
        self.superficial_n = int(superficial_n)
        self.retain_weight = float(retain_weight)
        kw = {"target": attribution_target, "batch_size": attribution_batch_size, "max_length": max_length}
        key = (self.superficial_alpha, self.superficial_n, *kw.values())
        #: [L, I] regularised neuron scores and the boolean selection
        self.scores = self.from_start(key, lambda: self._neuron_scores(kw))
        k = max(1, math.ceil(self.neuron_ratio * self.scores.numel()))
        selected = torch.zeros(self.scores.numel(), dtype=torch.bool)
        selected[self.scores.flatten().topk(k).indices] = True
        self.selected = selected.view_as(self.scores)

    def _neuron_scores(self, kw: dict[str, Any]) -> Tensor:
        """Attribution on the forget pairs minus α × attribution on their superficial variants."""
        model, tokenizer = self.model, self.tokenizer
        was_training = model.training
        model.eval()
        knowledge = mean_attribution(model, tokenizer, self.forget, desc="KLUE attribution", **kw)
        if self.superficial_n and self.superficial_alpha:
            variants = superficial_variants(self.forget, self.retain, self.superficial_n, self.seed)
            superficial = mean_attribution(model, tokenizer, variants, desc="KLUE superficial", **kw)
        else:
            superficial = torch.zeros_like(knowledge)
        model.train(was_training)
        return knowledge - self.superficial_alpha * superficial

    def parameter_mask(self) -> dict[str, Tensor]:
        names = param_names(self.model)
        trainable: dict[str, Tensor | bool] = {}
        for layer, sel in zip(decoder_layers(self.model), self.selected, strict=True):
            gate, up, down = mlp_projections(layer)
            trainable[names[id(gate.weight)]] = sel.unsqueeze(1).expand_as(gate.weight)
            trainable[names[id(up.weight)]] = sel.unsqueeze(1).expand_as(up.weight)
            trainable[names[id(down.weight)]] = sel.unsqueeze(0).expand_as(down.weight)
            for proj in (gate, up):
                if proj.bias is not None:
                    trainable[names[id(proj.bias)]] = sel
        return full_mask(self.model, trainable)

    def loss(self, model: nn.Module, batches: dict[str, Batch], step: int) -> LossOutput:
        return gd_loss(model, batches, self.retain_weight)
