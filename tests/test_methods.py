"""Unlearning methods: every loss against a hand computation, masks, registry (tiny random Llama)."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from reference import answer_logprobs
from reference import answer_nll as loop_nll

from ssiuu.attribution import neuron_attribution
from ssiuu.data.templates import REFUSAL_ANSWER, chat_prompt, template_prefix_length
from ssiuu.forward import answer_nll, hidden_at, sequence_logprobs
from ssiuu.methods import METHODS, MethodConfigError, build_method, get_method, method_hparams
from ssiuu.methods.hider import Hider
from ssiuu.methods.klue import KLUE, ffn_max_attribution, superficial_variants
from ssiuu.methods.rmu import RMU, rmu_layer, steering_vector
from ssiuu.methods.simu import SIMU, critical_neurons, integrated_gradients, logits_from_block
from ssiuu.methods.sophia import MaskedSophiaG
from ssiuu.model_parts import decoder_layers
from ssiuu.models import tiny_random_llama
from ssiuu.training import encode_pairs, train

FORGET = [(f"Where was person {i} born?", f"In city number {i}") for i in range(6)]
RETAIN = [(f"What is the colour of item {i}?", f"It is colour {i}") for i in range(6)]


def tiny(num_layers: int = 2, seed: int = 0):
    return tiny_random_llama(seed, num_layers=num_layers)


def batch_of(tok, pairs):
    return encode_pairs(tok, pairs) | {"pairs": list(pairs)}


def batches(tok, f=FORGET[:3], r=RETAIN[:3]):
    return {"forget": batch_of(tok, f), "retain": batch_of(tok, r)}


def perturb(model, scale: float = 0.05, seed: int = 1) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn(p.shape, generator=gen))


def value(out):
    return out[0] if isinstance(out, tuple) else out


def snapshot(model):
    return {n: p.detach().clone() for n, p in model.named_parameters()}


# -- registry -----------------------------------------------------------------------------------------
def test_registry_names_case_insensitive_and_unknown_lists_valid():
    assert set(METHODS) == {"ga", "gd", "dpo", "npo", "rmu", "klue", "ssiuu", "simu", "hider"}
    assert get_method("SSIUU") is get_method("ssiuu") is get_method(" Ssiuu ")
    with pytest.raises(ValueError) as err:
        get_method("sgd")
    for name in ("GA", "GD", "DPO", "NPO", "RMU", "KLUE", "SSIUU", "SIMU", "Hider"):
        assert name in str(err.value)
    assert get_method("Hider") is Hider


def test_unknown_hparam_is_rejected_with_valid_names():
    model, tok = tiny()
    with pytest.raises(MethodConfigError, match="retain_weight"):
        build_method("GD", model, tok, forget=FORGET, retain=RETAIN, retian_weight=2.0)
    assert method_hparams("NPO") == {"beta": 0.1, "retain_weight": 1.0}
    assert method_hparams("SSIUU")["lambda_"] == 1e-3


def test_methods_need_their_streams():
    model, tok = tiny()
    with pytest.raises(MethodConfigError, match="retain"):
        get_method("GD")(model, tok, forget=FORGET, retain=[])
    assert set(get_method("GA")(model, tok, forget=FORGET).streams()) == {"forget"}
    assert set(get_method("GD")(model, tok, forget=FORGET, retain=RETAIN).streams()) == {"forget", "retain"}


# -- shared log-likelihood helpers ---------------------------------------------------------------------
def test_sequence_logprobs_match_the_training_loop():
    model, tok = tiny()
    b = batch_of(tok, FORGET[:4])
    seq, counts = sequence_logprobs(model, b)
    torch.testing.assert_close(seq, answer_logprobs(model, b), rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(answer_nll(model, b), loop_nll(model, b), rtol=1e-5, atol=1e-5)
    assert counts.tolist() == (b["labels"][:, 1:] != -100).sum(1).tolist()


# -- GA / GD ---------------------------------------------------------------------------------------------
def test_ga_and_gd_losses_by_hand():
    model, tok = tiny()
    bs = batches(tok)
    nll_f, nll_r = loop_nll(model, bs["forget"]), loop_nll(model, bs["retain"])
    ga = get_method("GA")(model, tok, forget=FORGET)
    torch.testing.assert_close(value(ga.loss(model, bs, 1)), -nll_f, rtol=1e-5, atol=1e-5)
    gd = get_method("GD")(model, tok, forget=FORGET, retain=RETAIN, retain_weight=0.5)
    torch.testing.assert_close(value(gd.loss(model, bs, 1)), -nll_f + 0.5 * nll_r, rtol=1e-5, atol=1e-5)


# -- NPO / DPO: β and the frozen reference ---------------------------------------------------------------
def test_npo_loss_by_hand_with_frozen_reference():
    model, tok = tiny()
    ref = copy.deepcopy(model)
    npo = get_method("NPO")(model, tok, forget=FORGET, retain=RETAIN, beta=0.3)
    bs = batches(tok)
    at_start = value(npo.loss(model, bs, 1))  # θ = θ_ref: −(2/β) log σ(0) = (2/β) log 2
    torch.testing.assert_close(
        at_start, 2 / 0.3 * math.log(2) + loop_nll(model, bs["retain"]), rtol=1e-5, atol=1e-5
    )
    perturb(model)
    ratio = answer_logprobs(model, bs["forget"]) - answer_logprobs(ref, bs["forget"]).detach()
    expected = -(2 / 0.3) * F.logsigmoid(-0.3 * ratio).mean() + loop_nll(model, bs["retain"])
    torch.testing.assert_close(value(npo.loss(model, bs, 2)), expected, rtol=1e-4, atol=1e-4)
    assert all(not p.requires_grad for p in npo.reference.model.parameters())


def test_dpo_loss_by_hand_refusal_preferred():
    model, tok = tiny()
    ref = copy.deepcopy(model)
    dpo = get_method("DPO")(model, tok, forget=FORGET, retain=RETAIN, beta=0.2, retain_weight=2.0)
    bs = batches(tok)
    torch.testing.assert_close(
        value(dpo.loss(model, bs, 1)), math.log(2) + 2.0 * loop_nll(model, bs["retain"]), rtol=1e-5, atol=1e-5
    )
    perturb(model)
    chosen = batch_of(tok, [(q, REFUSAL_ANSWER) for q, _ in FORGET[:3]])
    rejected = bs["forget"]
    margin = (answer_logprobs(model, chosen) - answer_logprobs(ref, chosen)) - (
        answer_logprobs(model, rejected) - answer_logprobs(ref, rejected)
    )
    expected = -F.logsigmoid(0.2 * margin).mean() + 2.0 * loop_nll(model, bs["retain"])
    torch.testing.assert_close(value(dpo.loss(model, bs, 2)), expected, rtol=1e-4, atol=1e-4)
    # descending the loss raises the refusal relative to the true answer
    loss = value(dpo.loss(model, bs, 3))
    loss.backward()
    assert loss.requires_grad


# -- RMU --------------------------------------------------------------------------------------------------
def test_rmu_layer_and_steering_vector():
    assert rmu_layer(28) == 7 and rmu_layer(30) == 8 and rmu_layer(4) == 2 and rmu_layer(2) == 1
    u = steering_vector(64, seed=3)
    assert torch.isclose(u.norm(), torch.tensor(1.0)) and (u >= 0).all()
    torch.testing.assert_close(u, steering_vector(64, seed=3))
    assert not torch.equal(u, steering_vector(64, seed=4))


CHAT_TEMPLATE = (
    "{% for m in messages %}system: be brief. user: {{ m['content'] }}{% endfor %}"
    "{% if add_generation_prompt %} assistant:{% endif %}"
)


def test_template_prefix_length_counts_the_shared_system_part():
    _, tok = tiny()
    assert tok.chat_template  # the tiny tokenizer's own template opens every prompt with "<|im_start|>user\n"
    assert template_prefix_length(tok) == len(
        tok("<|im_start|>user\n", add_special_tokens=False)["input_ids"]
    )
    tok.chat_template = None
    assert template_prefix_length(tok) == 0  # no chat template: prompts are raw
    tok.chat_template = CHAT_TEMPLATE
    shared = tok("system: be brief. user: ", add_special_tokens=False)["input_ids"]
    n = template_prefix_length(tok)
    assert n > 0
    for text in ("Where was person 3 born?", "What is the colour of item 1?"):
        assert tok(chat_prompt(tok, text), add_special_tokens=False)["input_ids"][:n] == shared[:n]


@pytest.mark.parametrize("chat_template", [None, CHAT_TEMPLATE])
def test_rmu_loss_by_hand_and_frozen_params(chat_template):
    model, tok = tiny(num_layers=4)
    tok.chat_template = chat_template  # None: raw prompts, so every position counts
    ref = copy.deepcopy(model)
    rmu = RMU(model, tok, forget=FORGET, retain=RETAIN, seed=5, alpha=50.0, steering_coeff=20.0)
    assert rmu.layer == 2 and rmu.update_layers == [0, 1, 2]
    perturb(model, 0.02)
    bs = batches(tok)

    def h(m, b):  # residual stream after block 2 = hidden_states[3]
        return m(
            input_ids=b["input_ids"], attention_mask=b["attention_mask"], output_hidden_states=True
        ).hidden_states[3]

    torch.testing.assert_close(hidden_at(model, bs["forget"], 2), h(model, bs["forget"]))
    target = 20.0 * steering_vector(64, seed=5)
    skip = template_prefix_length(tok)  # the chat template's shared system part is left out of both terms
    assert (skip > 0) == (chat_template is not None)
    mf, mr = bs["forget"]["attention_mask"].bool(), bs["retain"]["attention_mask"].bool()
    mf[:, :skip] = False
    mr[:, :skip] = False
    forget_mse = ((h(model, bs["forget"])[mf] - target) ** 2).mean()
    retain_mse = ((h(model, bs["retain"])[mr] - h(ref, bs["retain"])[mr]) ** 2).mean()
    torch.testing.assert_close(
        value(rmu.loss(model, bs, 1)), forget_mse + 50.0 * retain_mse, rtol=1e-4, atol=1e-4
    )

    mask = rmu.parameter_mask()
    trainable = {n for n, m in mask.items() if m.all()}
    assert trainable == {f"model.layers.{i}.mlp.down_proj.weight" for i in (0, 1, 2)}
    assert all(not m.any() for n, m in mask.items() if n not in trainable)
    before = snapshot(model)
    train(model, tok, rmu.loss, rmu.streams(), lr=1e-2, max_steps=3, batch_size=3, param_mask=mask)
    for n, p in model.named_parameters():
        assert torch.equal(p, before[n]) != (n in trainable), n


# -- KLUE ------------------------------------------------------------------------------------------------
def test_klue_attribution_matches_finite_differences():
    model, tok = tiny()
    model.double()
    b = batch_of(tok, FORGET[:1])
    attr = ffn_max_attribution(model, b, "prob")  # per layer [1, I]
    n_tok = int(b["attention_mask"].sum())
    prob = lambda: sequence_logprobs(model, b)[0].exp().sum()  # noqa: E731
    for layer in (0, 1):
        down = decoder_layers(model)[layer].mlp.down_proj
        for neuron in (3, 77):
            per_token = []
            for k in range(n_tok - 1):  # the final EOS predicts nothing labelled: left out
                vals = []
                for eps in (1e-5, -1e-5):  # h → (1 + ε) h at one token: dP/dε = h · ∂P/∂h

                    def hook(_m, args, k=k, eps=eps, neuron=neuron):
                        x = args[0].clone()
                        x[0, k, neuron] *= 1 + eps
                        return (x,)

                    handle = down.register_forward_pre_hook(hook)
                    with torch.no_grad():
                        vals.append(prob())
                    handle.remove()
                per_token.append((vals[0] - vals[1]) / 2e-5)
            expected = torch.stack(per_token).max()
            torch.testing.assert_close(attr[layer][0, neuron], expected, rtol=1e-5, atol=1e-30)


def test_klue_attribution_leaves_out_the_final_eos_like_attribution_py():
    """The EOS that ends every answer has gradient exactly 0: left in, every max_k would be ≥ 0. KLUE's per-example
    maxima equal ssiuu.attribution's (an independent implementation), negative ones included."""
    model, tok = tiny()
    tok.chat_template = None  # raw prompts: few positions, so some neurons have only negative contributions
    pairs = [("Hi", "yes"), ("Where?", "In 3")]
    klue = torch.stack(ffn_max_attribution(model, batch_of(tok, pairs), "logprob"), dim=1)  # [B, L, I]
    summary = neuron_attribution(model, tok, pairs, target="logprob", module_types=("ffn",))
    assert (klue < 0).any()
    torch.testing.assert_close(klue, summary.max["ffn"], rtol=1e-4, atol=1e-7)


def test_klue_selection_and_mask_hold_during_training():
    model, tok = tiny()
    variants = superficial_variants(FORGET, RETAIN, 5, seed=0)
    assert len(variants) == 5 * len(FORGET)
    assert [a for _, a in variants] == [a for _, a in FORGET for _ in range(5)]
    assert {q for q, _ in variants} <= {q for q, _ in RETAIN}
    plain = KLUE(
        model, tok, forget=FORGET, retain=RETAIN, superficial_alpha=0.0, attribution_target="logprob"
    )
    klue = KLUE(
        model, tok, forget=FORGET, retain=RETAIN, superficial_alpha=10.0, attribution_target="logprob"
    )
    assert klue.selected.sum() == math.ceil(0.1 * 2 * 128)
    assert not torch.equal(plain.scores, klue.scores)  # the superficial term changes the scores

    mask = klue.parameter_mask()
    sel0 = klue.selected[0]
    assert torch.equal(mask["model.layers.0.mlp.up_proj.weight"].any(1), sel0)
    assert torch.equal(mask["model.layers.0.mlp.gate_proj.weight"].all(1), sel0)
    assert torch.equal(mask["model.layers.0.mlp.down_proj.weight"].all(0), sel0)
    assert not mask["model.layers.0.self_attn.q_proj.weight"].any() and not mask["lm_head.weight"].any()

    before = snapshot(model)
    train(model, tok, klue.loss, klue.streams(), lr=1e-2, max_steps=3, batch_size=3, param_mask=mask)
    changed = 0
    for n, p in model.named_parameters():
        frozen = ~mask[n]
        assert torch.equal(p[frozen], before[n][frozen]), n
        changed += int((p != before[n]).sum())
    assert changed > 0


# -- Hider (the known hider) ---------------------------------------------------------------------------
@pytest.mark.parametrize("tied", [False, True])
def test_hider_trains_the_last_block_and_final_norm_only(tied):
    """After a few unlearning steps every earlier block, the embeddings and the LM head (tied or not) are
    bit-identical; the last block and the final norm changed."""
    model, tok = tiny(num_layers=3)
    if tied:  # as in SmolLM2: the LM head is the embedding matrix
        model.lm_head.weight = model.model.embed_tokens.weight
    hider = build_method("Hider", model, tok, forget=FORGET, retain=RETAIN)
    last = {f"model.layers.2.{n}" for n, _ in model.model.layers[2].named_parameters()}
    assert set(hider.trainable_names()) == last | {"model.norm.weight"}
    mask = hider.parameter_mask()
    assert {n for n, m in mask.items() if m.all()} == set(hider.trainable_names())
    assert all(not m.any() for n, m in mask.items() if n not in hider.trainable_names())
    assert ("lm_head.weight" in mask) != tied  # a tied head is the (frozen) embedding
    gd = get_method("GD")(model, tok, forget=FORGET, retain=RETAIN)
    torch.testing.assert_close(
        value(hider.loss(model, batches(tok), 1)), value(gd.loss(model, batches(tok), 1))
    )

    before = snapshot(model)
    train(model, tok, hider.loss, hider.streams(), lr=1e-2, max_steps=3, batch_size=3, param_mask=mask)
    for n, p in model.named_parameters():
        assert torch.equal(p, before[n]) != (n in hider.trainable_names()), n


# -- SIMU ------------------------------------------------------------------------------------------------
def test_simu_partial_forward_and_ig_completeness():
    model, tok = tiny()
    model.double()
    b = batch_of(tok, FORGET[:2])
    from ssiuu.forward import answer_columns
    from ssiuu.methods.simu import capture_block_inputs

    cols, target, valid = answer_columns(b["labels"])
    inputs = capture_block_inputs(model, b)
    full = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits[:, cols]
    for start in (0, 1):
        torch.testing.assert_close(logits_from_block(model, start, inputs, cols), full)

    # completeness of integrated gradients: Σ_k IG_k = F(β) − F(0) for the block's scaled activations
    scores = integrated_gradients(model, b, steps=400)

    def objective(layer, alpha):
        handle = decoder_layers(model)[layer].mlp.down_proj.register_forward_pre_hook(
            lambda _m, a: (alpha * a[0],)
        )
        with torch.no_grad():
            out = answer_logprobs(model, b).sum()
        handle.remove()
        return out

    for layer in (0, 1):
        torch.testing.assert_close(
            scores[layer].sum(), objective(layer, 1.0) - objective(layer, 0.0), rtol=2e-2, atol=1e-3
        )


def test_simu_ig_points_equal_a_full_forward_per_block_and_point():
    """Each Riemann point of the IG sum, computed independently: a full forward whose block-l
    down-projection input is replaced by α·β as a leaf, and ∂(Σ answer log-probs)/∂ that leaf."""
    model, tok = tiny()
    model.double()
    b = batch_of(tok, FORGET[:3])

    def point(layer: int, alpha: float) -> torch.Tensor:
        held = []

        def hook(_m, a):
            x = a[0].detach()
            held.extend([x, (alpha * x).requires_grad_()])
            return (held[1],)

        handle = decoder_layers(model)[layer].mlp.down_proj.register_forward_pre_hook(hook)
        (grad,) = torch.autograd.grad(answer_logprobs(model, b).sum(), held[1])
        handle.remove()
        return (held[0] * grad).sum(dim=(0, 1))

    layers = range(len(decoder_layers(model)))
    for steps in (1, 2, 3):
        expected = torch.stack(
            [sum(point(li, s / steps) for s in range(1, steps + 1)) / steps for li in layers]
        )
        for by_backprop in (True, False):
            scores = integrated_gradients(model, b, steps=steps, clean_point_by_backprop=by_backprop)
            torch.testing.assert_close(scores, expected)


def test_critical_neurons_threshold_per_layer():
    scores = torch.tensor([[1.0, 0.6, 0.4, -2.0], [-1.0, -0.5, -3.0, -0.1], [10.0, 2.0, 5.1, 4.9]])
    crit = critical_neurons(scores, 0.5)
    assert crit.tolist() == [[True, True, False, False], [False] * 4, [True, False, True, False]]


def test_masked_sophia_step_by_hand_and_triple_mask():
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0, 3.0, 0.5]))
    mask = torch.tensor([True, True, False, True])
    opt = MaskedSophiaG([p], lr=0.1, betas=(0.9, 0.99), rho=0.5, weight_decay=0.0, masks={p: mask})
    opt.update_hessian({p: torch.tensor([1.0, 0.1, 7.0, 0.0])}, scale=2.0)
    h = 0.01 * 2.0 * torch.tensor([1.0, 0.01, 49.0, 0.0]) * mask
    torch.testing.assert_close(opt.state[p]["hessian"], h)
    p.grad = torch.tensor([0.5, -0.3, 9.0, 0.2])
    opt.step()
    m = 0.1 * p.grad * mask
    ratio = (m.abs() / (0.5 * h + 1e-15)).clamp(max=1)
    expected = torch.tensor([1.0, -2.0, 3.0, 0.5]) - 0.1 * m.sign() * ratio
    expected[2] = 3.0
    torch.testing.assert_close(p.detach(), expected)
    assert opt.state[p]["exp_avg"][2] == 0 and opt.state[p]["hessian"][2] == 0  # masked state never moves


def test_simu_mask_sophia_and_training():
    model, tok = tiny()
    simu = SIMU(model, tok, forget=FORGET, retain=RETAIN, ig_steps=4, threshold=0.3, hessian_interval=2)
    mask = simu.parameter_mask()
    for i in range(2):
        assert mask[f"model.layers.{i}.self_attn.q_proj.weight"].all()
        assert mask[f"model.layers.{i}.self_attn.o_proj.weight"].all()
        assert torch.equal(mask[f"model.layers.{i}.mlp.down_proj.weight"].all(0), simu.critical[i])
        assert not mask[f"model.layers.{i}.mlp.up_proj.weight"].any()
    assert not mask["model.embed_tokens.weight"].any() and not mask["lm_head.weight"].any()
    assert 0 < int(simu.critical.sum()) < simu.critical.numel()

    before = snapshot(model)
    res = train(
        model,
        tok,
        simu.loss,
        simu.streams(),
        lr=1e-2,
        max_steps=3,
        batch_size=3,
        optimizer_factory=simu.optimizer_factory(),
        param_mask=mask,
    )
    assert isinstance(simu.optimizer, MaskedSophiaG)
    assert "sampled_ce" in res.logs[0] and "sampled_ce" not in res.logs[1] and "sampled_ce" in res.logs[2]
    for n, p in model.named_parameters():
        frozen = ~mask[n]
        assert torch.equal(p[frozen], before[n][frozen]), n
    assert not torch.equal(
        model.model.layers[0].self_attn.q_proj.weight, before["model.layers.0.self_attn.q_proj.weight"]
    )
    for p, state in simu.optimizer.state.items():
        m = simu.optimizer.masks.get(p)
        if m is not None:
            assert not state["exp_avg"][~m].any() and not state["hessian"][~m].any()
