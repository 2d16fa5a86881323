"""SSIUU (Algorithm 1, Eq. 6–14): the surrogate's value is J and its gradient is ∇J, for both HVP modes.

The reference is computed independently of the method: J(φ) = L_GD(φ) + λ Σ_{i∈I⁻} (A_{t−1,i} − φ_i ∂P/∂φ_i)²
with I⁻ and A_{t−1} held fixed, differentiated by autograd (double backward) and checked against central
finite differences of J itself.
"""

from __future__ import annotations

import pytest
import torch
from reference import answer_logprobs, answer_nll
from transformers import LlamaConfig, LlamaForCausalLM

from ssiuu.methods import SSIUU
from ssiuu.methods.ssiuu import math_sdpa
from ssiuu.models import tiny_random_llama, tiny_tokenizer
from ssiuu.training import encode_pairs, train

FORGET = [(f"Where was person {i} born?", f"City {i}") for i in range(6)]
RETAIN = [(f"What is the colour of item {i}?", f"Colour {i}") for i in range(6)]


def batch_of(tok, pairs):
    return encode_pairs(tok, pairs) | {"pairs": list(pairs)}


def step_batches(tok, t):
    return {
        "forget": batch_of(tok, FORGET[3 * t : 3 * t + 3]),
        "retain": batch_of(tok, RETAIN[3 * t : 3 * t + 3]),
    }


def objective(model, batch, target):
    seq = answer_logprobs(model, batch)
    return seq.exp().sum() if target == "prob" else seq.sum()


def attribution(model, batch, target):
    params = list(model.parameters())
    g = torch.autograd.grad(objective(model, batch, target), params)
    return [(p * gi).detach() for p, gi in zip(params, g, strict=True)]


def gd_value(model, bs):
    return -answer_nll(model, bs["forget"]) + answer_nll(model, bs["retain"])


def reference_J(model, bs, target, lam, prev, negative, *, create_graph=True):
    """J with I⁻ (``negative``) and A_{t−1} (``prev``) fixed."""
    params = list(model.parameters())
    with math_sdpa():
        g = torch.autograd.grad(objective(model, bs["forget"], target), params, create_graph=create_graph)
        reg = sum(
            ((m * (a0 - p * gi)) ** 2).sum() for m, a0, p, gi in zip(negative, prev, params, g, strict=True)
        )
        return gd_value(model, bs) + lam * reg


@pytest.fixture
def float64_llama(monkeypatch):
    """A tiny Llama computing everything in float64: HF's RMSNorm (and eager softmax) round to float32,
    which would cap the comparison at ~1e-8; SDPA's math kernel keeps float64."""
    from transformers.models.llama import modeling_llama

    def rms_forward(self, hidden_states):
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        return self.weight * (hidden_states * torch.rsqrt(variance + self.variance_epsilon))

    monkeypatch.setattr(modeling_llama.LlamaRMSNorm, "forward", rms_forward)
    model, tok = tiny_random_llama(0, attn_implementation="sdpa")
    return model.double(), tok


def grads_of(model, scalar):
    return torch.autograd.grad(scalar, list(model.parameters()))


def flat(ts):
    return torch.cat([t.reshape(-1) for t in ts])


def assert_attribution_close(got, expected):
    """Elementwise, relative to the largest entry (float32 rounding differs between code paths)."""
    tol = 1e-10 if expected[0].dtype == torch.float64 else 1e-4
    scale = max(float(e.abs().max()) for e in expected)
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=tol, atol=tol * scale)


def run_two_steps(model, tok, method):
    """Step 1 on one batch (stores A_1), a parameter change, step 2 on another batch; returns the
    step-2 output, its gradient and the fixed quantities of the reference."""
    b1, b2 = step_batches(tok, 0), step_batches(tok, 1)
    out1 = method.loss(model, b1, 1)
    a1 = attribution(model, b1["forget"], method.attribution_target)
    assert_attribution_close(method._latest, a1)
    step1_grads = grads_of(model, gd_value(model, b1))
    # t = 1 has no regulariser: value and gradient are GD's (whichever pass gives the forget gradient)
    tol = 1e-9 if out1[0].dtype == torch.float64 else 1e-4
    torch.testing.assert_close(out1[0].detach(), gd_value(model, b1).detach(), rtol=tol, atol=tol)
    got1, gd1 = flat(grads_of(model, out1[0])), flat(step1_grads)
    assert float((got1 - gd1).norm() / gd1.norm()) < tol
    with torch.no_grad():  # one plain descent step so that the parameters at t=2 differ
        for p, g in zip(model.parameters(), step1_grads, strict=True):
            p.sub_(1e-2 * g)
    loss2, logs2 = method.loss(model, b2, 2)
    grad2 = grads_of(model, loss2)
    a2 = attribution(model, b2["forget"], method.attribution_target)
    assert_attribution_close(method._latest, a2)
    # I⁻ from the method's own A_t: entries within rounding of 0 may flip sign between two code paths
    negative = [(a < 0).to(a.dtype) for a in method._latest]
    return out1, b1, b2, a1, loss2, logs2, grad2, negative


@pytest.mark.parametrize("target", ["logprob", "prob"])
@pytest.mark.parametrize("hvp", ["exact", "finite_difference"])
def test_gradient_matches_brute_force_of_the_full_objective(hvp, target, float64_llama):
    model, tok = float64_llama
    lam = 1.0
    if target == "prob":  # P is tiny on a random model: scale λ by 1/P² so that J's term matters
        with torch.no_grad():
            lam = float(objective(model, step_batches(tok, 0)["forget"], "prob")) ** -2
    method = SSIUU(
        model, tok, forget=FORGET, retain=RETAIN, lambda_=lam, hvp=hvp, attribution_target=target, fd_eps=1e-7
    )
    out1, b1, b2, a1, loss2, logs2, grad2, negative = run_two_steps(model, tok, method)

    # t = 1: plain GD (value and gradient)
    loss1 = out1[0]
    assert out1[1]["ssiuu_reg"] == 0.0
    # A_{t−1} at t = 2 is the attribution stored at t = 1
    assert_attribution_close(method.previous_attribution, a1)

    J = reference_J(model, b2, target, lam, a1, negative)
    torch.testing.assert_close(loss2.detach(), J.detach(), rtol=1e-10, atol=1e-12)
    assert logs2["ssiuu_reg"] > 0
    brute = flat(grads_of(model, J))
    got = flat(grad2)
    gd = flat(grads_of(model, gd_value(model, b2)))
    reg_brute, reg_got = brute - gd, got - gd
    assert reg_brute.norm() > 1e-3 * gd.norm()  # the regulariser is not negligible in this test
    rel = float((reg_got - reg_brute).norm() / reg_brute.norm())
    assert rel < (1e-8 if hvp == "exact" else 1e-5), rel

    # and against central finite differences of J along random directions (no double backward)
    gen = torch.Generator().manual_seed(0)
    params = list(model.parameters())
    for _ in range(2):
        d = [torch.randn(p.shape, generator=gen, dtype=p.dtype) for p in params]
        h = 1e-6
        vals = []
        for sign in (1, -1):
            with torch.no_grad():
                for p, di in zip(params, d, strict=True):
                    p.add_(sign * h * di)
            vals.append(reference_J(model, b2, target, lam, a1, negative, create_graph=False).item())
            with torch.no_grad():
                for p, di in zip(params, d, strict=True):
                    p.sub_(sign * h * di)
        fd = (vals[0] - vals[1]) / (2 * h)
        directional = float(got @ flat(d))
        assert abs(directional - fd) <= 1e-6 * max(1.0, abs(fd)), (directional, fd)
    del loss1


def test_exact_and_finite_difference_agree_in_float32_with_tied_embeddings():
    tok = tiny_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        tie_word_embeddings=True,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
    )
    config._attn_implementation = "sdpa"  # the exact mode runs SDPA on its math kernel
    torch.manual_seed(0)
    base = LlamaForCausalLM(config)
    assert base.lm_head.weight is base.model.embed_tokens.weight
    regs = {}
    for hvp, scheme in (
        ("exact", "forward"),
        ("finite_difference", "forward"),
        ("finite_difference", "central"),
    ):
        model = LlamaForCausalLM(config)
        model.load_state_dict(base.state_dict())
        method = SSIUU(
            model,
            tok,
            forget=FORGET,
            retain=RETAIN,
            lambda_=10.0,
            hvp=hvp,
            fd_scheme=scheme,
            attribution_target="logprob",
        )
        *_, loss2, _, grad2, _ = run_two_steps(model, tok, method)
        gd = flat(grads_of(model, gd_value(model, step_batches(tok, 1))))
        regs[(hvp, scheme)] = flat(grad2) - gd
    exact = regs[("exact", "forward")]
    assert exact.norm() > 0
    for key in (("finite_difference", "forward"), ("finite_difference", "central")):
        rel = float((regs[key] - exact).norm() / exact.norm())
        assert rel < 5e-3, (key, rel)  # measured: forward ~8e-4, central ~4e-5


def test_training_loop_runs_and_state_follows_steps():
    model, tok = tiny_random_llama(0)
    method = SSIUU(model, tok, forget=FORGET, retain=RETAIN, lambda_=1.0, attribution_target="logprob")
    res = train(model, tok, method.loss, method.streams(), lr=1e-3, max_steps=3, batch_size=3)
    assert res.steps == 3 and res.logs[0]["ssiuu_reg"] == 0.0 and res.logs[1]["ssiuu_reg"] > 0
    assert method._step == 3
    # a new run (step 1 again) starts from a clean state
    res = train(model, tok, method.loss, method.streams(), lr=1e-3, max_steps=1, batch_size=3)
    assert res.logs[0]["ssiuu_reg"] == 0.0 and method.previous_attribution is None


def test_required_attention_and_config_errors():
    assert SSIUU.required_attn_implementation({"hvp": "exact"}) == "sdpa"
    assert SSIUU.required_attn_implementation({"hvp": "finite_difference"}) is None
    model, tok = tiny_random_llama(0)
    with pytest.raises(ValueError, match="hvp"):
        SSIUU(model, tok, forget=FORGET, retain=RETAIN, hvp="newton")
    with pytest.raises(ValueError, match="attribution_target"):
        SSIUU(model, tok, forget=FORGET, retain=RETAIN, attribution_target="loss")


def test_exact_hvp_refuses_gradient_checkpointing_and_finite_difference_trains_under_it():
    model, tok = tiny_random_llama(0)
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    with pytest.raises(ValueError, match="gradient checkpointing.*finite_difference"):
        SSIUU(model, tok, forget=FORGET, retain=RETAIN, hvp="exact")
    method = SSIUU(
        model,
        tok,
        forget=FORGET,
        retain=RETAIN,
        hvp="finite_difference",
        lambda_=1.0,
        attribution_target="logprob",
    )
    res = train(model, tok, method.loss, method.streams(), lr=1e-3, max_steps=2, batch_size=3)
    assert res.steps == 2 and res.logs[1]["ssiuu_reg"] > 0
