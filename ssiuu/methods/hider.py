"""The known hider: a control that by construction keeps the knowledge in the network and only stops its expression.

Gradient Difference's loss, ``−NLL(forget) + retain_weight · NLL(retain)``, with only the **last decoder block
and the final norm** trainable. Every earlier block and the token embeddings are frozen (bit-identical after
unlearning), and so is the LM head: where it is tied to the embeddings, as in SmolLM2 (and Llama-3.2-3B,
Qwen2.5-3B), it *is* the embedding matrix, and freezing it there but training it in an untied model would make
the control differ between architectures, so it is frozen in every model.

Why it is a known hider: the residual stream that enters the last block is the starting model's, token for
token, so whatever the lower blocks encode about a forget fact is still there after unlearning; only the
last block's read-out of it has changed. Its forget score can fall to the threshold like any method's, and an
attack that fine-tunes the whole model can restore the fact by re-tuning one block. It runs through the same
unlearning job as the methods (learning-rate search, early stop at the threshold), so its row shows what
hiding looks like under the attacks: a method whose attacks recover about as much as the hider's hides, one
that recovers about as little as the never-learned model (the known eraser, :mod:`ssiuu.references`) erases.

Training one block of many needs a higher learning rate than full fine-tuning: it has its own list
(``unlearning.method_learning_rates.Hider``).
"""

from __future__ import annotations

from torch import Tensor, nn

from ssiuu.attribution import final_norm_and_head
from ssiuu.forward import Batch
from ssiuu.methods.base import LossOutput, UnlearningMethod
from ssiuu.methods.gd import gd_loss
from ssiuu.model_parts import decoder_layers, full_mask, param_names


class Hider(UnlearningMethod):
    """GD on the last decoder block and the final norm only; see the module docstring."""

    name = "hider"

    def __init__(self, *, retain_weight: float = 1.0) -> None:
        self.retain_weight = float(retain_weight)

    def trainable_names(self) -> list[str]:
        """The parameters it trains: those of the last decoder block and of the final norm."""
        names = param_names(self.model)
        norm, _ = final_norm_and_head(self.model)
        return [
            names[id(p)] for module in (decoder_layers(self.model)[-1], norm) for p in module.parameters()
        ]

    def parameter_mask(self) -> dict[str, Tensor]:
        return full_mask(self.model, dict.fromkeys(self.trainable_names(), True))

    def loss(self, model: nn.Module, batches: dict[str, Batch], step: int) -> LossOutput:
        return gd_loss(model, batches, self.retain_weight)
