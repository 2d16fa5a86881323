"""A job's learning-rate tries share the starting model's neuron scores (KLUE, SIMU): computed once, and a try
that reuses them trains exactly as one that recomputes them."""

from __future__ import annotations

import pytest
import torch

from ssiuu.methods.klue import KLUE
from ssiuu.methods.simu import SIMU
from ssiuu.models import tiny_random_llama
from ssiuu.training import train

FORGET = [(f"Where was person {i} born?", f"In city number {i}") for i in range(4)]
RETAIN = [(f"What is the colour of item {i}?", f"It is colour {i}") for i in range(4)]
CASES = {
    "KLUE": (KLUE, {"neuron_ratio": 0.3, "superficial_n": 2}, "_neuron_scores"),
    "SIMU": (SIMU, {"ig_steps": 2, "threshold": 0.3, "hessian_interval": 2}, "_ig_scores"),
}


def trained_weights(cls, params, cache):
    model, tok = tiny_random_llama(0)  # every try loads the same starting weights
    torch.manual_seed(0)
    method = cls(model, tok, forget=FORGET, retain=RETAIN, seed=0, start_cache=cache, **params)
    train(
        model,
        tok,
        method.loss,
        method.streams(),
        lr=1e-3,
        max_steps=3,
        batch_size=2,
        seed=0,
        optimizer_factory=method.optimizer_factory(),
        param_mask=method.parameter_mask(),
    )
    return [p.detach().clone() for p in model.parameters()], method


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_second_try_reuses_the_scores_and_trains_identically(name, monkeypatch):
    cls, params, compute = CASES[name]
    fresh, fresh_method = trained_weights(cls, params, None)
    cache: dict = {}
    first, _ = trained_weights(cls, params, cache)
    calls = []
    original = getattr(cls, compute)
    monkeypatch.setattr(cls, compute, lambda self, *a: calls.append(1) or original(self, *a))
    second, second_method = trained_weights(cls, params, cache)
    assert calls == [] and len(cache) == 1  # the second try computed no scores
    assert torch.equal(second_method.scores, fresh_method.scores)
    for a, b, c in zip(fresh, first, second, strict=True):
        assert torch.equal(a, b) and torch.equal(a, c)
