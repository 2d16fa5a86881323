import random

import pytest
import torch

from ssiuu.forward import (
    answer_logits,
    answer_nll,
    sequence_logprobs,
    set_shared_prefix_forward,
    shared_prefix_length,
)
from ssiuu.training import NonFiniteLossError, encode_pairs, nll_loss, train


def test_answer_only_labels(tiny):
    model, tok = tiny
    batch = encode_pairs(tok, [("What is the capital of France?", "Paris"), ("Hi", "Hello there friend")])
    for i, answer in enumerate(["Paris", "Hello there friend"]):
        labels = batch["labels"][i]
        kept = labels[labels != -100].tolist()
        assert kept == tok(answer, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        # the answer tokens are the last real tokens of the row, the prompt before them is masked
        n_real = int(batch["attention_mask"][i].sum())
        assert batch["input_ids"][i, n_real - len(kept) : n_real].tolist() == kept
        assert (labels[: n_real - len(kept)] == -100).all() and (labels[n_real:] == -100).all()
    prompt = tok.decode(batch["input_ids"][0][batch["labels"][0] == -100][:10])
    assert prompt.startswith("<|im_start|>user")  # chat template applied


def test_raw_prompt_without_chat_template(tiny):
    _, tok = tiny
    tok.chat_template = None
    batch = encode_pairs(tok, [("Q?", "A")])
    assert tok.decode(batch["input_ids"][0]).startswith("Q? A")


def test_sequence_logprob_matches_manual(tiny):
    model, tok = tiny
    batch = encode_pairs(tok, [("Capital of France?", "Paris"), ("2+2?", "4")])
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        got = sequence_logprobs(model, batch)[0]
        nll = answer_nll(model, batch)
    total, count = 0.0, 0
    for i in range(2):
        manual = 0.0
        for t in range(1, batch["input_ids"].shape[1]):
            label = batch["labels"][i, t].item()
            if label != -100:
                manual += torch.log_softmax(logits[i, t - 1], -1)[label].item()
                count += 1
        total += manual
        assert got[i].item() == pytest.approx(manual, rel=1e-5)
    assert nll.item() == pytest.approx(-total / count, rel=1e-5)
    hf_loss = model(**{k: batch[k] for k in ("input_ids", "attention_mask", "labels")}).loss
    assert nll.item() == pytest.approx(hf_loss.item(), rel=1e-4)


@pytest.mark.parametrize(
    "pairs",
    [
        # a long shared prefix, rows of different lengths (right padding)
        [
            ("Tell me please, where is Paris?", "France"),
            ("Tell me please, where is the city of Rome?", "In Italy"),
            ("Tell me please, 2+2?", "4"),
        ],
        # identical prompts (DPO's chosen/rejected): the prefix stops before the first answer prediction
        [("Same question?", "yes indeed"), ("Same question?", "no")],
    ],
)
def test_shared_prefix_forward_equals_the_full_forward(tiny, pairs):
    """Logits and gradients with the prefix run once and its cache repeated match the plain batch forward."""
    model, tok = tiny
    batch = encode_pairs(tok, pairs)
    first_col = int((batch["labels"][:, 1:] != -100).any(0).nonzero()[0])
    prefix = shared_prefix_length(batch, first_col)
    common = next(
        i for i in range(batch["input_ids"].shape[1]) if len(set(batch["input_ids"][:, i].tolist())) > 1
    )
    assert 0 < prefix == min(common, first_col)
    grads = {}
    for share in (False, True):
        model.zero_grad()
        logits, target, rows = answer_logits(model, batch, share_prefix=share)
        torch.nn.functional.cross_entropy(logits, target).backward()
        grads[share] = ([logits.detach(), target, rows], [p.grad.clone() for p in model.parameters()])
    for a, b in zip(grads[False][0], grads[True][0]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    for a, b in zip(grads[False][1], grads[True][1]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    assert (
        shared_prefix_length({k: v[:1] for k, v in batch.items()}, first_col) == 0
    )  # one row: nothing to share


@pytest.mark.parametrize(("setting", "forwards"), [("auto", 2), (True, 2), (False, 1)])
def test_shared_prefix_forward_setting_picks_the_path(tiny, setting, forwards):
    """The config's shared_prefix_forward decides whether answer_logits runs a separate prefix pass
    ("auto" shares on CPU tensors); the logits are the same either way."""
    model, tok = tiny
    batch = encode_pairs(tok, [("Tell me please, where is Paris?", "France"), ("Tell me please, 2+2?", "4")])
    calls = []
    handle = model.model.embed_tokens.register_forward_hook(
        lambda module, args, out: calls.append(args[0].shape)
    )
    try:
        set_shared_prefix_forward(model, setting)
        logits = answer_logits(model, batch)[0]
    finally:
        handle.remove()
        set_shared_prefix_forward(model, "auto")
    assert len(calls) == forwards
    plain = answer_logits(model, batch, share_prefix=False)[0]
    torch.testing.assert_close(logits, plain, rtol=1e-5, atol=1e-6)


@pytest.mark.filterwarnings("ignore:.*gradient_checkpointing_enable:FutureWarning")
def test_activation_checkpointing_turns_the_shared_prefix_off(tiny):
    """Checkpointed HF blocks run without a KV cache, so even a forced setting takes the plain forward."""
    model, tok = tiny
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    set_shared_prefix_forward(model, True)
    batch = encode_pairs(tok, [("Tell me please, where is Paris?", "France"), ("Tell me please, 2+2?", "4")])
    calls = []
    handle = model.model.embed_tokens.register_forward_hook(
        lambda module, args, out: calls.append(args[0].shape)
    )
    try:
        answer_logits(model, batch)
    finally:
        handle.remove()
    assert len(calls) == 1


def test_shared_prefix_forward_rejects_an_unknown_setting(tiny):
    with pytest.raises(ValueError, match="shared_prefix_forward"):
        set_shared_prefix_forward(tiny[0], "sometimes")


def test_loss_decreases_on_memorisation(tiny):
    model, tok = tiny
    data = [("What is the capital of France?", "Paris"), ("Name a color.", "Blue")]
    before = answer_nll(model, encode_pairs(tok, data)).item()
    seen = []
    result = train(
        model,
        tok,
        nll_loss,
        {"train": data},
        lr=3e-3,
        max_steps=25,
        batch_size=2,
        callback=lambda step, m: seen.append(step) or False,
    )
    after = answer_nll(model, encode_pairs(tok, data)).item()
    assert after < 0.3 * before
    assert result.steps == 25 and seen == list(range(1, 26))
    assert not model.training


def test_callback_stops_early(tiny):
    model, tok = tiny
    result = train(
        model, tok, nll_loss, {"a": [("q", "a")]}, lr=1e-3, max_steps=10, callback=lambda s, m: s == 3
    )
    assert result.steps == 3 and result.stopped_early


def test_nan_guard_fires_and_leaves_parameters(tiny):
    model, tok = tiny
    before = {k: v.clone() for k, v in model.state_dict().items()}

    def bad_loss(m, batches, step):
        return nll_loss(m, batches, step) * float("nan")

    with pytest.raises(NonFiniteLossError, match="step 1"):
        train(model, tok, bad_loss, {"forget": [("q", "a")]}, lr=1e-3, max_steps=5)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])


def test_param_mask_keeps_frozen_entries_bit_identical(tiny):
    model, tok = tiny
    name = "model.layers.0.mlp.down_proj.weight"
    param = dict(model.named_parameters())[name]
    mask = torch.zeros_like(param, dtype=torch.bool)
    mask[:, :5] = True
    before = {k: v.clone() for k, v in model.named_parameters()}
    frozen = {k: torch.zeros_like(v, dtype=torch.bool) for k, v in model.named_parameters() if k != name}
    train(
        model,
        tok,
        nll_loss,
        {"a": [("q", "answer")]},
        lr=1e-2,
        max_steps=3,
        weight_decay=0.1,
        param_mask=frozen | {name: mask},
    )
    after = dict(model.named_parameters())
    assert torch.equal(after[name][~mask], before[name][~mask])
    assert not torch.equal(after[name][mask], before[name][mask])
    for k in frozen:
        assert torch.equal(after[k], before[k]), k


def test_streams_cycle_independently(tiny):
    model, tok = tiny
    seen = {"forget": [], "retain": []}

    def loss(m, batches, step):
        for k in batches:
            seen[k] += [p[0] for p in batches[k]["pairs"]]
        return nll_loss(m, batches, step)

    forget = [(f"f{i}", "x") for i in range(3)]
    retain = [(f"r{i}", "y") for i in range(5)]
    train(model, tok, loss, {"forget": forget, "retain": retain}, lr=1e-4, max_steps=3, batch_size=3)
    assert sorted(seen["forget"]) == sorted([p[0] for p in forget] * 3)
    assert len(seen["retain"]) == 9 and set(seen["retain"]) <= {p[0] for p in retain}


# -- stopping at the first step that passes a periodic check ----------------------------------------------------


def _scripted_check(fs_at, threshold, calls, *, draw_rng=False):
    """A check whose FS is ``fs_at(step)``; it records every call. With ``draw_rng`` it also draws from the
    global random generators (a check must not change what training draws)."""

    def check(step, model):
        assert not model.training
        calls.append(step)
        if draw_rng:
            torch.rand(64)
            random.random()
        return fs_at(step) <= threshold

    return check


@pytest.mark.parametrize(
    ("threshold", "max_steps", "check_every", "checks", "stop"),
    [
        # periodic checks at 3, 6, 9; 9 passes, so back to 6 and one step at a time: 7 passes
        (3, 12, 3, [3, 6, 9, 7], 7),
        # the first step that passes is the periodic one: 7 and 8 are checked, 9 is not checked again
        (1, 12, 3, [3, 6, 9, 7, 8], 9),
        # the first check passes: back to step 0
        (9, 12, 3, [3, 1], 1),
        (7, 12, 3, [3, 1, 2], 3),
        # the last step is always checked, also off the interval
        (2, 8, 3, [3, 6, 8, 7], 8),
        # never passes: every periodic check and the last step, no rewind
        (-1, 10, 3, [3, 6, 9, 10], 10),
        # checked every step: nothing to go back to
        (3, 12, 1, [1, 2, 3, 4, 5, 6, 7], 7),
        # two steps between checks, crossing right after the previous check
        (5, 12, 4, [4, 8, 5], 5),
    ],
)
def test_check_stops_at_the_first_step_that_passes(tiny, threshold, max_steps, check_every, checks, stop):
    """FS = 10 − step against a threshold: the loop stops at the first step at or below it, having checked
    the periodic steps, then (after going back) the single steps."""
    model, tok = tiny
    calls = []
    result = train(
        model,
        tok,
        nll_loss,
        {"a": [("q", "a"), ("r", "b")]},
        lr=1e-4,
        max_steps=max_steps,
        batch_size=1,
        check=_scripted_check(lambda s: 10 - s, threshold, calls),
        check_every=check_every,
    )
    assert calls == result.checks == checks
    assert result.steps == stop == len(result.losses) == len(result.logs)
    assert result.stopped_early == (threshold >= 10 - max_steps)
    rewound = checks[-1] < max(checks)
    assert result.rewound_from == (max(checks) if rewound else None)
    assert not model.training and all(p.requires_grad for p in model.parameters())


FORGET = [(f"Where was person {i} born?", f"City {i}") for i in range(5)]
RETAIN = [(f"What is the colour of item {i}?", f"Colour {i}") for i in range(7)]


def _method_run(kind):
    """A fresh tiny model and what ``train`` needs to unlearn with ``kind``; the method object (its per-step
    state) or None."""
    from ssiuu.methods import GD, SIMU, SSIUU
    from ssiuu.models import tiny_random_llama

    model, tok = tiny_random_llama(0)
    if kind == "gd-dropout":  # GD with attention dropout: training draws from torch's global generator
        for layer in model.model.layers:
            layer.self_attn.attention_dropout = 0.3
        method = GD(model, tok, forget=FORGET, retain=RETAIN)
        return model, tok, method, {"grad_accum": 2}
    if kind == "ssiuu":  # per-step state: the previous step's attributions
        method = SSIUU(model, tok, forget=FORGET, retain=RETAIN, lambda_=1.0, attribution_target="logprob")
        return model, tok, method, {}
    # SIMU: masked Sophia (optimiser state, curvature every 2 steps from labels its own generator samples)
    method = SIMU(model, tok, forget=FORGET, retain=RETAIN, ig_steps=2, threshold=0.3, hessian_interval=2)
    extra = {"optimizer_factory": method.optimizer_factory(), "param_mask": method.parameter_mask()}
    return model, tok, method, extra


@pytest.mark.parametrize("kind", ["gd-dropout", "ssiuu", "simu"])
def test_the_steps_replayed_after_a_rewind_are_the_straight_runs_steps(kind):
    """Stopping at step 5 after a check at step 6 passed (checks every 3 steps) leaves exactly the weights,
    losses, logs, optimiser and method state of a straight 5-step run."""
    runs = {}
    for straight in (False, True):
        model, tok, method, extra = _method_run(kind)
        calls = []
        kwargs = {} if straight else {"check": _scripted_check(lambda s: 10 - s, 5, calls, draw_rng=True)}
        result = train(
            model,
            tok,
            method.loss,
            method.streams(),
            lr=3e-3,
            max_steps=5 if straight else 12,
            batch_size=2,
            seed=1,
            check_every=3,
            step_state=(method,),
            **kwargs,
            **extra,
        )
        runs[straight] = (model, method, result)
        if not straight:
            assert calls == [3, 6, 4, 5] and result.rewound_from == 6
    (model, method, rewound), (ref_model, ref_method, ref) = runs[False], runs[True]
    assert rewound.steps == ref.steps == 5
    assert rewound.losses == ref.losses and rewound.logs == ref.logs
    for (name, p), q in zip(model.named_parameters(), ref_model.parameters(), strict=True):
        assert torch.equal(p, q), name
    initial = _method_run(kind)[0]
    assert any(not torch.equal(p, q) for p, q in zip(model.parameters(), initial.parameters(), strict=True))
    if kind == "ssiuu":
        assert method._step == ref_method._step == 5
        for a, b in zip(method._latest, ref_method._latest, strict=True):
            assert torch.equal(a, b)
    if kind == "simu":
        assert method._hessian_step == ref_method._hessian_step == 5
        assert torch.equal(method._generator.get_state(), ref_method._generator.get_state())
        for p, q in zip(model.parameters(), ref_model.parameters(), strict=True):
            for key in ("exp_avg", "hessian"):
                if p in method.optimizer.state:
                    assert torch.equal(method.optimizer.state[p][key], ref_method.optimizer.state[q][key])


def test_loss_terms_and_the_regulariser_ratio():
    """SSIUU logs its regulariser: loss − ssiuu_reg is its GD loss, and the ratio summary covers the steps
    that have a regulariser (not the first)."""
    from ssiuu.methods import SSIUU
    from ssiuu.models import tiny_random_llama

    model, tok = tiny_random_llama(0)
    method = SSIUU(model, tok, forget=FORGET, retain=RETAIN, lambda_=1.0, attribution_target="logprob")
    res = train(model, tok, method.loss, method.streams(), lr=1e-3, max_steps=3, batch_size=2, grad_accum=2)
    terms = res.loss_terms()
    assert [t["step"] for t in terms] == [1, 2, 3] and terms[0]["ssiuu_reg"] == 0.0
    ratios = []
    for loss, t in zip(res.losses, terms, strict=True):
        # the logs average over the same micro-steps as the loss
        assert loss - t["ssiuu_reg"] == pytest.approx(-t["forget_nll"] + t["retain_nll"], rel=1e-5)
        if t["ssiuu_reg"]:
            ratios.append(t["ssiuu_reg"] / abs(-t["forget_nll"] + t["retain_nll"]))
    summary = res.regulariser_ratio()
    assert summary["steps"] == 2 and len(ratios) == 2
    assert summary["max"] == pytest.approx(max(ratios), rel=1e-4)
    assert summary["median"] == pytest.approx(sum(ratios) / 2, rel=1e-4)
    # a loss without a regulariser has no ratio; one that logs nothing has no terms
    plain = train(model, tok, nll_loss, {"a": [("q", "a")]}, lr=1e-4, max_steps=2)
    assert plain.regulariser_ratio() is None and plain.loss_terms() == []
