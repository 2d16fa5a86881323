"""Influence variations (Eqs. 2, 4, 5, App. A), Fig. 5/6 tables and the logit lens (Fig. 4)."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import pearsonr, spearmanr
from transformers import Qwen2Config, Qwen2ForCausalLM

from ssiuu.analysis import (
    attribution_correlation,
    attribution_histograms,
    cumulative_curve,
    influence_totals,
    influence_variation,
    logit_lens_accuracy,
    logit_lens_logprobs,
    neuron_scores,
    per_example_correlation,
    rowwise_rho,
    save_distribution_tables,
    save_influence_tables,
    top_k_heatmap,
)
from ssiuu.analysis.logit_lens import answer_positions
from ssiuu.attribution import AttributionSummary
from ssiuu.data.records import QARecord
from ssiuu.models import tiny_random_llama, tiny_tokenizer
from ssiuu.training import encode_pairs


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _summary(max_rows, min_rows, sha="x"):
    """Two examples, one layer, module q: rows are per-example lists of per-neuron values."""
    mx = torch.tensor(max_rows, dtype=torch.float32).unsqueeze(1)
    mn = torch.tensor(min_rows, dtype=torch.float32).unsqueeze(1)
    return AttributionSummary({"q": mx}, {"q": mn}, {"pairs_sha": sha})


# Neuron 0: positive influence erased (D+ = 1) and negative influence grown (D- = 1.5)
# Neuron 1: contradictory -- positive influence *increased* (raw D+ = -1.5 -> clipped to 0)
# Neuron 2: over-unlearning -- A_θ' becomes negative (raw D+ = 4, corrected 2); negative influence shrank
#           (raw D- = -1 -> clipped to 0)
# Neuron 3: unchanged max; min drops in one example (D- = 0.5)
BASE = _summary([[3, 1, 2, 0.5], [1, 1, 2, 0.5]], [[-1, -0.5, -2, 0], [-1, -0.5, -2, 0]])
UNLEARNED = _summary([[1, 2, -1, 0.5], [1, 3, -3, 0.5]], [[-3, -0.5, -1, 0], [-2, -0.5, -1, -1]])


def test_influence_variation_hand_example():
    var = influence_variation(BASE, UNLEARNED)
    torch.testing.assert_close(var["positive"]["q"], torch.tensor([[1.0, 0.0, 2.0, 0.0]]))
    torch.testing.assert_close(var["negative"]["q"], torch.tensor([[1.5, 0.0, 0.0, 0.5]]))
    raw = influence_variation(BASE, UNLEARNED, clip=False, over_unlearning_correction=False)
    torch.testing.assert_close(raw["positive"]["q"], torch.tensor([[1.0, -1.5, 4.0, 0.0]]))
    torch.testing.assert_close(raw["negative"]["q"], torch.tensor([[1.5, 0.0, -1.0, 0.5]]))
    no_clip = influence_variation(BASE, UNLEARNED, clip=False)
    torch.testing.assert_close(no_clip["positive"]["q"], torch.tensor([[1.0, -1.5, 2.0, 0.0]]))


def test_influence_variation_refuses_different_examples():
    with pytest.raises(ValueError, match="different"):
        influence_variation(BASE, _summary([[0] * 4] * 2, [[0] * 4] * 2, sha="other"))


def test_influence_variation_refuses_mixed_attribution_targets():
    as_prob, as_logprob = _summary([[0] * 4] * 2, [[0] * 4] * 2), _summary([[0] * 4] * 2, [[0] * 4] * 2)
    as_prob.meta["target"], as_logprob.meta["target"] = "prob", "logprob"
    with pytest.raises(ValueError, match="attribution_target"):
        influence_variation(as_prob, as_logprob)
    influence_variation(as_logprob, as_logprob)  # same target: fine


def test_cumulative_curve_and_heatmap():
    D = {"q": torch.tensor([[1.0, 0.0, 2.0, 0.0]]), "ffn": torch.tensor([[0.5, 4.0]])}
    curve = cumulative_curve(D, 4)
    assert list(curve.columns) == ["m", "cumulative"]
    assert curve["m"].tolist() == [1, 2, 3, 4]
    assert curve["cumulative"].tolist() == [4.0, 6.0, 7.0, 7.5]
    assert len(cumulative_curve(D, 100)) == 6  # capped at the number of neurons

    heat = top_k_heatmap(
        {"q": torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 6.0]]), "k": torch.tensor([[1.0, 3.0]])}, k=2
    )
    assert list(heat.columns) == ["module", "layer", "value"]
    assert heat.values.tolist() == [["q", 0, 2.5], ["q", 1, 3.0], ["k", 0, 2.0]]

    totals = influence_totals({"positive": D}, top_m=2)
    row = totals[(totals.module == "all")].iloc[0]
    assert (row.n_neurons, row.n_nonzero, row.total, row.top_m_sum) == (6, 4, 7.5, 6.0)


def test_save_influence_tables(tmp_path):
    paths = save_influence_tables(BASE, UNLEARNED, tmp_path, m_max=3, k=2)
    cum = pd.read_csv(paths["cumulative"])
    assert list(cum.columns) == ["direction", "m", "cumulative"]
    assert cum[cum.direction == "positive"]["cumulative"].tolist() == [2.0, 3.0, 3.0]
    assert cum[cum.direction == "negative"]["cumulative"].tolist() == [1.5, 2.0, 2.0]
    heat = pd.read_csv(paths["heatmap"])
    assert list(heat.columns) == ["direction", "module", "layer", "value"]
    assert heat.set_index("direction").loc["positive", "value"] == 1.5
    totals = pd.read_csv(paths["totals"])
    assert set(totals.columns) >= {"direction", "module", "total", "top_m_sum"}


# ------------------------------------------------------------------------------------------ Fig. 6


def _random_summary(seed, n=3, shift=0.0):
    g = torch.Generator().manual_seed(seed)
    mx = {t: torch.rand(n, 2, w, generator=g) + shift for t, w in [("q", 8), ("k", 4), ("ffn", 12)]}
    mn = {t: -torch.rand(n, 2, w, generator=g) for t, w in [("q", 8), ("k", 4), ("ffn", 12)]}
    return AttributionSummary(mx, mn, {"pairs_sha": "s"})


def test_pearson_matches_scipy():
    pre, post = _random_summary(0), _random_summary(1)
    post.max["q"] = pre.max["q"] * 2 + 0.1 * post.max["q"]  # some real correlation

    def manual(s):
        order = ["q", "k", "ffn"]
        return np.concatenate(
            [s.max[t].numpy().mean(axis=0).ravel() for t in order]
            + [s.min[t].numpy().mean(axis=0).ravel() for t in order]
        )

    expected = pearsonr(manual(pre), manual(post)).statistic
    assert attribution_correlation(pre, post) == pytest.approx(expected, rel=1e-6)
    q_only = pearsonr(pre.max["q"].numpy().mean(0).ravel(), post.max["q"].numpy().mean(0).ravel()).statistic
    assert attribution_correlation(pre, post, quantity="max", modules=["q"]) == pytest.approx(
        q_only, rel=1e-6
    )
    assert attribution_correlation(pre, pre) == pytest.approx(1.0)


def test_histograms_and_tables(tmp_path):
    sums = {"base": _random_summary(0), "GD": _random_summary(1, shift=0.5), "GD+attack": _random_summary(2)}
    hist = attribution_histograms(sums, bins=11)
    n_values = neuron_scores(sums["base"]).size
    assert n_values == 2 * 2 * (8 + 4 + 12)
    per_model = hist.groupby("model").agg(
        count=("count", "sum"), below=("n_below", "first"), above=("n_above", "first")
    )
    assert (per_model["count"] + per_model["below"] + per_model["above"]).tolist() == [n_values] * 3
    assert per_model[["below", "above"]].to_numpy().sum() > 0  # the 0.999 quantile leaves tails outside
    base, vals = hist[hist.model == "base"], neuron_scores(sums["base"])
    first = ((vals >= base.bin_left.iloc[0]) & (vals < base.bin_right.iloc[0])).sum()
    assert base["count"].iloc[0] == first  # the tails are not piled into the edge bins
    edges = hist[hist.model == "base"][["bin_left", "bin_right"]].to_numpy()
    assert np.allclose(edges, hist[hist.model == "GD"][["bin_left", "bin_right"]].to_numpy())
    assert edges[0, 0] == pytest.approx(-edges[-1, 1])
    paths = save_distribution_tables(sums, [("GD", "GD+attack")], tmp_path, bins=11)
    corr = pd.read_csv(paths["correlation"])
    assert list(corr.columns) == ["pre", "post", "module", "quantity", "n_values", "pearson_r"]
    assert corr.module.tolist() == ["all", "q", "k", "ffn"]
    assert corr.iloc[0].pearson_r == pytest.approx(attribution_correlation(sums["GD"], sums["GD+attack"]))
    assert set(pd.read_csv(paths["stats"]).model) == set(sums)


# ------------------------------------------------------------------------------------------ Fig. 4


def _qwen2():
    tok = tiny_tokenizer()
    torch.manual_seed(1)
    cfg = Qwen2Config(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=2,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=False,
    )
    return Qwen2ForCausalLM(cfg).eval(), tok


@pytest.fixture(scope="module", params=["llama", "qwen2"])
def tiny(request):
    if request.param == "llama":
        return tiny_random_llama(0, num_layers=3)
    return _qwen2()


def _hooked_states(model, ids, mask):
    """Embedding output and every decoder layer's raw output, captured with forward hooks."""
    states = []
    handles = [model.model.embed_tokens.register_forward_hook(lambda m, a, o: states.append(o))]
    for layer in model.model.layers:
        handles.append(
            layer.register_forward_hook(lambda m, a, o: states.append(o[0] if isinstance(o, tuple) else o))
        )
    try:
        with torch.no_grad():
            logits = model(input_ids=ids, attention_mask=mask).logits
    finally:
        for h in handles:
            h.remove()
    return states, logits


def test_lens_layers_match_model_and_hooks(tiny):
    model, tok = tiny
    enc = encode_pairs(
        tok, [("What is the capital of France?", "Paris."), ("Which continent?", "South America.")]
    )
    pos, first = answer_positions(enc["labels"])
    lens = logit_lens_logprobs(model, enc["input_ids"], enc["attention_mask"], pos, first)
    assert lens.shape == (4, 2)
    states, logits = _hooked_states(model, enc["input_ids"], enc["attention_mask"])
    rows = torch.arange(2)
    own = torch.log_softmax(logits[rows, pos].float(), -1)[rows, first]
    torch.testing.assert_close(lens[-1], own, rtol=1e-5, atol=1e-5)  # layer L = the model's own output
    with torch.no_grad():
        for layer in range(3):  # embeddings, layer 1, layer 2 through norm + lm_head
            manual = torch.log_softmax(model.lm_head(model.model.norm(states[layer][rows, pos])), -1)[
                rows, first
            ]
            torch.testing.assert_close(lens[layer], manual, rtol=1e-5, atol=1e-5)


def test_logit_lens_accuracy_counts_and_skips(tiny):
    model, tok = tiny
    records = [
        QARecord("r0", "c0", "e", "base", "What is the capital of France?", "Paris.", ("London", "Yen")),
        QARecord(
            "r1", "c1", "e", "base", "Which continent is Brazil in?", "South America.", ("Europe", "Asia")
        ),
        QARecord("r2", "c2", "e", "base", "What is the currency of Japan?", "Yen", ("Euro", "Dollar")),
        # same first token for gold and distractor: skipped
        QARecord("r3", "c3", "e", "base", "Odd one?", "xqa", ("xzb",)),
    ]
    assert (
        tok("xqa", add_special_tokens=False).input_ids[0] == tok("xzb", add_special_tokens=False).input_ids[0]
    )
    df = logit_lens_accuracy(model, tok, records, batch_size=3, seed=7)
    assert list(df.columns) == ["layer", "accuracy", "n_evaluated", "n_skipped"]
    assert df.layer.tolist() == [0, 1, 2, 3]
    assert set(df.n_evaluated) == {3} and set(df.n_skipped) == {1}

    rng = random.Random(7)
    distractors = [rng.choice(r.false_options) for r in records]
    hits = np.zeros((4, 3))
    for i, r in enumerate(records[:3]):
        scores = []
        for answer in (r.answer, distractors[i]):
            enc = encode_pairs(tok, [(r.question, answer)])
            j = int((enc["labels"][0] != -100).nonzero()[0])
            states, _ = _hooked_states(model, enc["input_ids"], enc["attention_mask"])
            with torch.no_grad():
                per_layer = [model.model.norm(s[0, j - 1]) for s in states]
                scores.append(
                    torch.stack(
                        [torch.log_softmax(model.lm_head(h), -1)[enc["labels"][0, j]] for h in per_layer]
                    )
                )
        hits[:, i] = (scores[0] > scores[1]).numpy()
    assert df.accuracy.tolist() == pytest.approx(hits.mean(axis=1).tolist())


def test_logit_lens_errors(tiny):
    model, tok = tiny
    with pytest.raises(ValueError, match="distractor"):
        logit_lens_accuracy(model, tok, [QARecord("r", "c", "e", "qa", "Q?", "A")])
    with pytest.raises(ValueError, match="skipped"):
        logit_lens_accuracy(model, tok, [QARecord("r", "c", "e", "base", "Q?", "xqa", ("xzb",))])


# --------------------------------------------------------------------------------------------- per-example ρ
def test_rowwise_rho_matches_scipy_on_a_hand_case() -> None:
    a = np.array([[1.0, 2.0, 3.0, 4.0, 5.0], [1.0, 1.0, 2.0, 3.0, 10.0], [2.0, 2.0, 2.0, 2.0, 2.0]])
    b = np.array([[2.0, 1.0, 4.0, 3.0, 5.0], [5.0, 6.0, 7.0, 8.0, 7.0], [1.0, 2.0, 3.0, 4.0, 5.0]])
    pearson, spearman = rowwise_rho(a, b)
    # row 0 by hand: ranks (1..5) vs (2, 1, 4, 3, 5), Σd² = 4, so Spearman = 1 − 6·4 / (5·24) = 0.8
    assert spearman[0] == pytest.approx(0.8)
    for i in range(2):
        assert pearson[i] == pytest.approx(pearsonr(a[i], b[i]).statistic)
        assert spearman[i] == pytest.approx(spearmanr(a[i], b[i]).statistic)  # ties (row 1) as mid-ranks
    assert np.isnan(pearson[2]) and np.isnan(spearman[2])  # a constant row has no ρ


def test_per_example_correlation_is_scipy_per_example_module_and_quantity() -> None:
    g = torch.Generator().manual_seed(0)
    mx = {t: torch.randn(5, 2, 6, generator=g) for t in ("q", "ffn")}
    mn = {t: -torch.rand(5, 2, 6, generator=g) for t in ("q", "ffn")}
    pre = AttributionSummary(mx, mn)
    post = AttributionSummary(
        {t: v + 0.5 * torch.randn(v.shape, generator=g) for t, v in mx.items()},
        {t: v.flip(-1) for t, v in mn.items()},
    )
    df = per_example_correlation(pre, post)
    assert len(df) == 5 * 2 * 2 and set(df["quantity"]) == {"max", "min"} and (df["n_values"] == 12).all()
    for _, row in df.iterrows():
        a = getattr(pre, row["quantity"])[row["module"]][row["item"]].flatten().double().numpy()
        b = getattr(post, row["quantity"])[row["module"]][row["item"]].flatten().double().numpy()
        assert row["pearson_r"] == pytest.approx(pearsonr(a, b).statistic)
        assert row["spearman_r"] == pytest.approx(spearmanr(a, b).statistic)
