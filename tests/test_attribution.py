"""Eq. 1 neuron attribution: module discovery, an independent autograd/finite-difference check, storage."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

from ssiuu.attribution import (
    MODULE_TYPES,
    AttributionSummary,
    attribution_positions,
    compute_attribution_summary,
    discover_neuron_modules,
    neuron_attribution,
    neuron_counts,
)
from ssiuu.model_parts import ModuleDiscoveryError
from ssiuu.models import tiny_tokenizer
from ssiuu.training import encode_pairs

PAIRS = [
    ("What is the capital of France?", "Paris."),
    ("Which continent is Brazil in?", "South America."),
    ("What is the currency of Japan?", "Yen"),
]


def _config_kwargs(tok):
    return dict(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        tie_word_embeddings=False,
    )


def _llama(seed=0, dtype=torch.float64):
    tok = tiny_tokenizer()
    torch.manual_seed(seed)
    model = LlamaForCausalLM(LlamaConfig(**_config_kwargs(tok), attn_implementation="eager"))
    return model.to(dtype).eval(), tok


def _qwen2(seed=0, dtype=torch.float64):
    tok = tiny_tokenizer()
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(Qwen2Config(**_config_kwargs(tok), attn_implementation="eager"))
    return model.to(dtype).eval(), tok


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Tiny models run fastest single-threaded (no oversubscription on a busy 2-core machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def llama():
    return _llama()


@pytest.fixture(scope="module")
def llama_summary(llama):
    model, tok = llama
    return neuron_attribution(model, tok, PAIRS, batch_size=2)


# ----------------------------------------------------------------------------------------- discovery


@pytest.mark.parametrize("factory", [_llama, _qwen2])
def test_discovery_finds_projections_and_down_proj(factory):
    model, _ = factory()
    mods = discover_neuron_modules(model)
    assert list(mods) == list(MODULE_TYPES)
    for t in MODULE_TYPES:
        assert len(mods[t]) == 2
    layer = model.model.layers[1]
    assert mods["q"][1] is layer.self_attn.q_proj
    assert mods["k"][1] is layer.self_attn.k_proj
    assert mods["v"][1] is layer.self_attn.v_proj
    assert mods["o"][1] is layer.self_attn.o_proj
    assert mods["ffn"][1] is layer.mlp.down_proj
    # GQA: 2 kv heads of dim 8 -> 16 k/v neurons; ffn neurons = intermediate size
    assert neuron_counts(mods) == {"q": 32, "k": 16, "v": 16, "o": 32, "ffn": 48}


def test_discovery_error_names_the_problem():
    with pytest.raises(ModuleDiscoveryError, match="decoder layers"):
        discover_neuron_modules(nn.Sequential(nn.Linear(2, 2)))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.self_attn = nn.Module()
            self.self_attn.qkv_proj = nn.Linear(4, 12)
            self.mlp = nn.Module()

    class Fused(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([Block()])

    with pytest.raises(ModuleDiscoveryError, match="q_proj"):
        discover_neuron_modules(Fused())


# --------------------------------------------------------------------------------------------- Eq. 1


def test_positions_exclude_padding_and_final_token():
    labels = torch.tensor([[-100, -100, 5, 6, -100, -100], [-100, 7, 8, 9, 10, -100]])
    mask = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 0]])
    expected = torch.tensor([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 0, 0]], dtype=torch.bool)
    assert torch.equal(attribution_positions(mask, labels), expected)
    with pytest.raises(ValueError, match="no answer tokens"):
        attribution_positions(mask, torch.full_like(labels, -100))


def _manual_attribution(model, tok, pair, module_type, layer):
    """A of one example on an isolated leaf tensor h, P computed from scratch: returns (h, dP/dh, valid)."""
    enc = encode_pairs(tok, [pair])
    ids, labels = enc["input_ids"], enc["labels"][0]
    n_tokens = int(enc["attention_mask"].sum())
    block = model.model.layers[layer]
    mod = block.mlp.down_proj if module_type == "ffn" else getattr(block.self_attn, f"{module_type}_proj")
    store = {}

    if module_type == "ffn":

        def pre(m, args):
            store["h"] = args[0].detach().requires_grad_(True)
            return (store["h"],)

        handle = mod.register_forward_pre_hook(pre)
    else:

        def fwd(m, args, out):
            store["h"] = out.detach().requires_grad_(True)
            return store["h"]

        handle = mod.register_forward_hook(fwd)
    try:
        logits = model(input_ids=ids).logits[0]
    finally:
        handle.remove()
    answer_positions = [j for j in range(n_tokens) if labels[j] != -100]
    logp = sum(torch.log_softmax(logits[j - 1], -1)[labels[j]] for j in answer_positions)
    prob = torch.exp(logp)
    (grad,) = torch.autograd.grad(prob, store["h"])
    valid = n_tokens - 1  # positions 0..n_tokens-2 can influence P
    return store["h"][0, :valid].detach(), grad[0, :valid], prob.detach()


@pytest.mark.parametrize("module_type", MODULE_TYPES)
def test_eq1_matches_isolated_autograd(llama, llama_summary, module_type):
    model, tok = llama
    for i, pair in enumerate(PAIRS):
        for layer in range(2):
            h, g, _ = _manual_attribution(model, tok, pair, module_type, layer)
            a = h * g
            torch.testing.assert_close(
                llama_summary.max[module_type][i, layer], a.amax(0).float(), rtol=1e-5, atol=1e-9
            )
            torch.testing.assert_close(
                llama_summary.min[module_type][i, layer], a.amin(0).float(), rtol=1e-5, atol=1e-9
            )


def test_eq1_matches_finite_differences(llama, llama_summary):
    """max_k A = max_k h × ∂P/∂h checked without autograd: central differences on the FFN activation."""
    model, tok = llama
    pair, layer, idx = PAIRS[0], 1, 0
    neuron = int(llama_summary.max["ffn"][idx, layer].argmax())
    h, g, _ = _manual_attribution(model, tok, pair, "ffn", layer)
    k = int((h * g)[:, neuron].argmax())  # the position holding max_k A of that neuron
    enc = encode_pairs(tok, [pair])
    labels = enc["labels"][0]
    eps = 1e-5

    def prob_with_shift(delta):
        def pre(m, args):
            x = args[0].clone()
            x[0, k, neuron] += delta
            return (x,)

        handle = model.model.layers[layer].mlp.down_proj.register_forward_pre_hook(pre)
        try:
            with torch.no_grad():
                logits = model(input_ids=enc["input_ids"]).logits[0]
        finally:
            handle.remove()
        logp = torch.log_softmax(logits, -1)
        return torch.exp(sum(logp[j - 1, labels[j]] for j in range(len(labels)) if labels[j] != -100))

    fd = (prob_with_shift(eps) - prob_with_shift(-eps)) / (2 * eps)
    expected = float(h[k, neuron] * fd)
    assert expected > 0
    assert float(llama_summary.max["ffn"][idx, layer, neuron]) == pytest.approx(expected, rel=1e-4)


def test_batching_does_not_change_results(llama, llama_summary):
    model, tok = llama
    one = neuron_attribution(model, tok, PAIRS, batch_size=1)
    for t in MODULE_TYPES:
        torch.testing.assert_close(one.max[t], llama_summary.max[t], rtol=1e-5, atol=1e-10)
        torch.testing.assert_close(one.min[t], llama_summary.min[t], rtol=1e-5, atol=1e-10)
    assert all(p.grad is None for p in model.parameters()), (
        "attribution must not accumulate parameter gradients"
    )


def test_logprob_target_is_prob_target_divided_by_p(llama, llama_summary):
    """∂P/∂h = P ∂logP/∂h, so with P > 0 max_k/min_k scale by P exactly."""
    model, tok = llama
    log_summary = neuron_attribution(model, tok, PAIRS, batch_size=3, target="logprob")
    for i, pair in enumerate(PAIRS):
        _, _, prob = _manual_attribution(model, tok, pair, "q", 0)
        for t in MODULE_TYPES:
            torch.testing.assert_close(
                llama_summary.max[t][i],
                (log_summary.max[t][i].double() * prob).float(),
                rtol=1e-4,
                atol=1e-12,
            )
    with pytest.raises(ValueError, match="target"):
        neuron_attribution(model, tok, PAIRS, target="nll")


def test_qwen2_shapes_and_summary_roundtrip(tmp_path):
    model, tok = _qwen2(dtype=torch.float32)
    path = tmp_path / "attr.pt"
    summary = compute_attribution_summary(model, tok, PAIRS[:2], batch_size=2, label="base", path=path)
    assert summary.max["k"].shape == (2, 2, 16) and summary.min["ffn"].shape == (2, 2, 48)
    assert torch.isfinite(summary.max["q"]).all()
    assert (summary.max["o"] >= summary.min["o"]).all()
    loaded = AttributionSummary.load(path)
    assert loaded.meta["label"] == "base" and loaded.meta["pairs_sha"] == summary.meta["pairs_sha"]
    for t in MODULE_TYPES:
        assert torch.equal(loaded.max[t], summary.max[t])
    summary.save(tmp_path / "bf16.pt", storage_dtype="bfloat16")
    small = AttributionSummary.load(tmp_path / "bf16.pt")
    torch.testing.assert_close(small.min["v"], summary.min["v"], rtol=1e-2, atol=0)
    with pytest.raises(ValueError, match="storage_dtype"):
        summary.save(tmp_path / "x.pt", storage_dtype="float16")
