"""RMU (Li et al., 2024, the WMDP paper; App. C.2 (5)): steer forget activations to a random vector.

At decoder block l (the residual stream after block l, over the tokens of the QA text):

    L = mean‖h_l(θ; x_f) − c·u‖² + α · mean‖h_l(θ; x_r) − h_l(θ₀; x_r)‖²

with u a fixed random unit vector (uniform [0, 1) entries, normalised, seeded as in the reference
implementation), c the steering coefficient and θ₀ the frozen starting model. Only the MLP
down-projections of blocks l−2..l are updated; every other parameter is frozen by the mask.
The paper uses l = 7 of 28 blocks; other depths get l = round(7·L/28), at least 2 (clamped to the
model). The blocks above l are never run (the forward stops at l).

Positions: the reference implementation feeds raw forget documents (WMDP bio/cyber papers) and raw
retain text (Wikitext), which share no tokens by construction. QA unlearning wraps every forget and
retain question in the same chat template, whose system prompt carries the model's massive activations
(on SmolLM2-135M one channel alone holds about half of ‖h‖² at layer 8). Steering those shared positions
makes the forget and retain terms pull against each other on identical inputs, and RMU then does
nothing (worldfacts FS stayed 1.0 for 30 steps at lr 1e-4 and 1e-3). Both terms are therefore taken over
the non-padding positions after the template's shared prefix (:func:`template_prefix_length`): the
question, the template's turn markers after it, and the answer.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ssiuu.data.templates import template_prefix_length
from ssiuu.forward import Batch, hidden_at
from ssiuu.methods.base import LossOutput, UnlearningMethod
from ssiuu.model_parts import decoder_layers, frozen_copy, full_mask, mlp_projections, param_names


def rmu_layer(num_layers: int) -> int:
    """The steered block for a model of ``num_layers`` blocks: 7 of 28 scaled, at least 2."""
    return min(max(round(7 * num_layers / 28), 2), num_layers - 1)


def steering_vector(hidden_size: int, seed: int, *, dtype: torch.dtype = torch.float32) -> Tensor:
    """u: a random unit vector with uniform [0, 1) entries, from a private seeded generator."""
    gen = torch.Generator().manual_seed(seed)
    u = torch.rand(hidden_size, generator=gen, dtype=torch.float64)
    return (u / u.norm()).to(dtype)


def masked_mse(h: Tensor, target: Tensor, attention_mask: Tensor) -> Tensor:
    """Mean squared error over the non-padding positions and all hidden units."""
    m = attention_mask.to(h.dtype).unsqueeze(-1)
    return ((h - target) ** 2 * m).sum() / (m.sum() * h.shape[-1]).clamp(min=1)


class RMU(UnlearningMethod):
    """Representation misdirection; see the module docstring. ``layer=None`` picks l from the depth."""

    name = "rmu"

    def __init__(
        self, *, alpha: float = 100.0, steering_coeff: float = 20.0, layer: int | None = None
    ) -> None:
        n_layers = len(decoder_layers(self.model))
        self.layer = rmu_layer(n_layers) if layer is None else int(layer)
        self.reject_if(
            not 0 <= self.layer < n_layers, f"layer {self.layer} outside the model's {n_layers} blocks"
        )
        self.update_layers = list(range(max(0, self.layer - 2), self.layer + 1))
        self.alpha = float(alpha)
        self.steering_coeff = float(steering_coeff)
        hidden = self.model.get_input_embeddings().weight.shape[1]
        self.u = steering_vector(hidden, self.seed)
        self.prefix_length = template_prefix_length(self.tokenizer)
        self.frozen = frozen_copy(self.model)
        # the frozen model is only ever run up to block l
        frozen_layers = decoder_layers(self.frozen)
        del frozen_layers[self.layer + 1 :]

    def parameter_mask(self) -> dict[str, Tensor]:
        names = param_names(self.model)
        layers = decoder_layers(self.model)
        trainable = {names[id(mlp_projections(layers[i])[2].weight)]: True for i in self.update_layers}
        return full_mask(self.model, trainable)

    def positions(self, batch: Batch) -> Tensor:
        """The positions both terms average over: non-padding, after the template's shared prefix."""
        mask = batch["attention_mask"].clone()
        mask[:, : self.prefix_length] = 0
        return mask

    def loss(self, model: nn.Module, batches: dict[str, Batch], step: int) -> LossOutput:
        fb, rb = batches["forget"], batches["retain"]
        h_f = hidden_at(model, fb, self.layer)
        control = (self.steering_coeff * self.u).to(device=h_f.device, dtype=h_f.dtype)
        forget_loss = masked_mse(h_f, control, self.positions(fb))
        h_r = hidden_at(model, rb, self.layer)
        self.frozen.to(h_r.device)
        with torch.no_grad():
            h_r0 = hidden_at(self.frozen, rb, self.layer)
        retain_loss = masked_mse(h_r, h_r0, self.positions(rb))
        loss = forget_loss + self.alpha * retain_loss
        return loss, {"forget_mse": forget_loss.item(), "retain_mse": retain_loss.item()}
