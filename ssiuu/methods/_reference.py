"""A frozen copy of the starting model with a per-pair cache of its answer log-probabilities."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ssiuu.forward import Batch, sequence_logprobs
from ssiuu.model_parts import frozen_copy


class ReferenceLogprobs:
    """``log π_ref(y|x)`` of the starting model (DPO, NPO). Values are cached per (question, answer)
    pair, so each pair costs one reference forward pass over the whole run."""

    def __init__(self, model: nn.Module) -> None:
        self.model = frozen_copy(model)
        self.cache: dict[tuple[str, str], float] = {}

    @torch.no_grad()
    def __call__(self, batch: Batch) -> Tensor:
        pairs = [tuple(p) for p in batch["pairs"]]
        device = batch["input_ids"].device
        if any(p not in self.cache for p in pairs):
            self.model.to(device)
            seq, _ = sequence_logprobs(self.model, batch)
            for p, v in zip(pairs, seq.tolist(), strict=True):
                self.cache[p] = v
        return torch.tensor([self.cache[p] for p in pairs], dtype=torch.float32, device=device)
