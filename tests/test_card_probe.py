"""The card's linear probe (ssiuu/card/probe.py) on hand-made hidden states: near 1 where the answer is linearly
encoded, near chance where it is not; its per-item margin against a hand computation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ssiuu.card.probe import OPTIONS, PAIRS, ProbeSet, item_results, probe_results, read_positions


def option_set(n: int, encoded_layers: set[int], seed: int, n_layers: int = 3, hidden: int = 8) -> ProbeSet:
    """MCQA-style rows: one per item, its class the gold position of 3; in ``encoded_layers`` the class is
    written along its own direction (separable), elsewhere the features are noise."""
    rng = np.random.default_rng(seed)
    gold = rng.integers(0, 3, size=n)
    features = rng.normal(size=(n, n_layers, hidden))
    for layer in encoded_layers:
        features[np.arange(n), layer, gold] += 4.0
    ids = [f"i{seed}-{k}" for k in range(n)]
    return ProbeSet(OPTIONS, features, gold, np.arange(n), ids, gold, np.full(n, 3))


def pair_set(n: int, encoded: bool, seed: int, k_wrong: int = 3, hidden: int = 6) -> ProbeSet:
    """ROUGE-style rows: per item the gold answer (label 1) then ``k_wrong`` wrong ones (label 0); when
    ``encoded``, gold rows are shifted along one direction."""
    rng = np.random.default_rng(seed)
    rows = n * (1 + k_wrong)
    labels = np.tile([1] + [0] * k_wrong, n)
    features = rng.normal(size=(rows, 2, hidden))
    if encoded:
        features[labels == 1, 1, 0] += 4.0
    ids = [f"p{seed}-{k}" for k in range(n)]
    return ProbeSet(
        PAIRS, features, labels, np.repeat(np.arange(n), 1 + k_wrong), ids, np.zeros(n, int), np.full(n, 4)
    )


def test_a_linearly_encoded_answer_is_read_back_at_its_layer():
    result = probe_results(option_set(150, {2}, seed=0), option_set(90, {2}, seed=1), folds=3)
    assert result["layer"] == 2
    assert result["accuracy"] > 0.95 and result["n"] == 90
    accuracy_by_layer = {row["layer"]: row["forget_accuracy"] for row in result["layers"]}
    assert abs(accuracy_by_layer[0] - 1 / 3) < 0.2  # noise layers stay near chance
    assert result["chance"] == pytest.approx(1 / 3)
    assert all(len(item["correct_by_layer"]) == 3 for item in result["items"])


def test_an_answer_that_is_not_encoded_stays_near_chance():
    result = probe_results(option_set(150, set(), seed=2), option_set(300, set(), seed=3), folds=3)
    assert abs(result["accuracy"] - 1 / 3) < 0.1


def test_a_model_that_forgot_reads_near_chance_where_the_probe_was_trained_on_known_items():
    """Trained where the answer is encoded (retain and test items), scored where it is not (forgotten)."""
    result = probe_results(option_set(150, {1, 2}, seed=4), option_set(300, set(), seed=5), folds=3)
    assert abs(result["accuracy"] - 1 / 3) < 0.1


def test_gold_against_wrong_answers():
    known = probe_results(pair_set(80, True, seed=6), pair_set(60, True, seed=7), folds=4)
    assert known["layer"] == 1 and known["accuracy"] > 0.95
    assert known["chance"] == pytest.approx(0.25)
    unknown = probe_results(pair_set(80, True, seed=8), pair_set(200, False, seed=9), folds=4)
    assert abs(unknown["accuracy"] - 0.25) < 0.1


def test_item_results_pick_the_gold_candidate_and_take_its_margin():
    data = option_set(2, set(), seed=10)
    data = ProbeSet(
        OPTIONS, data.features, data.labels, data.item_of_row, data.ids, np.array([0, 2]), np.full(2, 3)
    )
    scores = np.log(np.array([[0.7, 0.2, 0.1], [0.5, 0.3, 0.2]]))
    correct, margins = item_results(data, scores)
    assert correct.tolist() == [True, False]
    assert margins[0] == pytest.approx(math.log(0.7) - math.log((0.2 + 0.1) / 2))
    assert margins[1] == pytest.approx(math.log(0.2) - math.log((0.5 + 0.3) / 2))


def test_a_training_set_without_an_option_position_is_refused():
    train = option_set(30, {1}, seed=11)
    train = ProbeSet(
        OPTIONS,
        train.features,
        np.minimum(train.labels, 1),
        train.item_of_row,
        train.ids,
        train.gold,
        train.n_candidates,
    )
    with pytest.raises(ValueError, match=r"no row of class\(es\) \[2\]"):
        probe_results(train, option_set(10, {1}, seed=12))


def test_read_positions():
    import torch

    labels = torch.tensor([[-100, -100, 5, 6, -100], [-100, 7, 8, 9, 2]])
    assert read_positions(labels, OPTIONS).tolist() == [1, 0]  # the token before the first answer token
    assert read_positions(labels, PAIRS).tolist() == [3, 4]  # the last answer token


def test_hidden_features_are_the_full_models_hidden_states_at_the_read_positions():
    """The decoder alone gives every layer's hidden state exactly as the causal LM does, read at each row's
    position (the last prompt token for MCQA options, the answer's last token for gold-against-wrong pairs)."""
    import torch

    from ssiuu.card.probe import hidden_features
    from ssiuu.models import tiny_random_llama
    from ssiuu.training import encode

    model, tokenizer = tiny_random_llama(0)
    pairs = [
        ("Which city is the capital of Peru?", "Lima"),
        ("Who wrote the book?", "An author of ten novels"),
    ]
    for design in (OPTIONS, PAIRS):
        features = hidden_features(model, tokenizer, pairs, design, max_length=64, batch_size=1)
        batch = encode(tokenizer, pairs, torch.device("cpu"), 64)
        with torch.no_grad():
            states = model(
                input_ids=batch["input_ids"],
                attention_mask=batch["attention_mask"],
                output_hidden_states=True,
            ).hidden_states
        positions = read_positions(batch["labels"], design)
        expected = torch.stack([h[torch.arange(len(pairs)), positions] for h in states], dim=1).numpy()
        assert features.shape == (len(pairs), model.config.num_hidden_layers + 1, model.config.hidden_size)
        np.testing.assert_allclose(features, expected, rtol=1e-5, atol=1e-5)
