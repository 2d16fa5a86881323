"""Confidence intervals (ssiuu/report/stats.py) against scipy.stats.bootstrap and hand-computed values, and the
attack cell's pooling (ssiuu/report/attack_cells.py) on hand-made attack results."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from ssiuu.report.attack_cells import attack_cell, cell_difference, group_by_run
from ssiuu.report.stats import (
    difference_interval,
    mean_interval,
    mean_of_means_interval,
    recovered_fraction_interval,
    standard_error_interval,
)

SAMPLE = [0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0]


def test_mean_interval_matches_scipy_bootstrap_on_a_known_sample():
    got = mean_interval(SAMPLE, confidence=0.95, n_resamples=2000)
    ref = scipy_stats.bootstrap(
        (np.array(SAMPLE),),
        np.mean,
        confidence_level=0.95,
        n_resamples=2000,
        method="percentile",
        rng=np.random.default_rng(0),
    ).confidence_interval
    assert got.value == pytest.approx(8 / 12) and got.n == 12
    assert (got.low, got.high) == pytest.approx((ref.low, ref.high))
    assert got.low < got.value < got.high


def test_no_interval_from_a_single_value_or_nothing():
    one = mean_interval([0.4])
    assert one.value == 0.4 and math.isnan(one.low) and math.isnan(one.high) and one.n == 1
    assert mean_interval([]).n == 0 and math.isnan(mean_interval([]).value)


def test_recovered_fraction_interval_value_is_the_ratio_of_means():
    attacked, unlearned, start = [-2.0, -1.0, -2.0, -1.0], [-3.0, -3.0, -3.0, -3.0], [-1.0, -1.0, -1.0, -1.0]
    got = recovered_fraction_interval(attacked, unlearned, start, n_resamples=2000)
    assert got.value == pytest.approx((-1.5 + 3.0) / (-1.0 + 3.0))  # 0.75
    assert got.low <= 0.75 <= got.high and got.n == 4
    # an item's three values move together: resampling items can only give fractions between 0.5 and 1.0
    assert 0.5 <= got.low and got.high <= 1.0


def test_difference_and_mean_of_means_and_standard_error():
    diff = difference_interval([1.0, 1.0, 0.0, 1.0], [0.0, 0.0, 1.0, 0.0], n_resamples=2000)
    assert diff.value == pytest.approx(0.5) and diff.low < 0.5 < diff.high
    mom = mean_of_means_interval([[0.1, 0.3], [0.6, 0.8, 1.0]], n_resamples=2000)
    assert mom.value == pytest.approx((0.2 + 0.8) / 2) and mom.n == 5
    se = standard_error_interval(0.5, 0.05, 100, confidence=0.95)
    assert (se.low, se.high) == pytest.approx((0.5 - 1.959964 * 0.05, 0.5 + 1.959964 * 0.05), abs=1e-6)


def _result(seed: int, run: int, lr: float, points: list[tuple[list[float], list[float]]]) -> dict:
    curve = [
        {
            "step": i,
            "fs": float(np.mean(s)),
            "logprob": float(np.mean(lp)),
            "item_scores": s,
            "item_logprobs": lp,
        }
        for i, (s, lp) in enumerate(points)
    ]
    return {"seed": seed, "run": run, "lr": lr, "curve": curve, "start_logprobs": [-1.0] * len(points[0][0])}


def test_attack_cell_takes_each_runs_best_point_over_learning_rates_and_pools_the_runs():
    """Run 0: lr 1e-5 peaks at FS 0.5, lr 1e-6 at 1.0 → its items are [1, 1]; run 1 peaks at 0.5 → [1, 0].
    The cell is the pooled mean 0.75 = mean over runs of the per-run maxima (1.0 + 0.5) / 2."""
    results = [
        _result(0, 0, 1e-5, [([0.0, 0.0], [-3.0, -3.0]), ([1.0, 0.0], [-2.0, -2.0])]),
        _result(0, 0, 1e-6, [([0.0, 0.0], [-3.0, -3.0]), ([1.0, 1.0], [-2.5, -2.5])]),
        _result(0, 1, 1e-5, [([0.0, 0.0], [-3.0, -3.0]), ([1.0, 0.0], [-1.0, -1.0])]),
    ]
    cell = attack_cell(group_by_run(results), confidence=0.95, n_resamples=2000)
    assert cell.runs == 2 and cell.score.n == 4
    assert cell.score.value == pytest.approx(0.75)
    # recovery at each run's highest log-probability: run 0 at −2.0 (lr 1e-5), run 1 at −1.0
    assert cell.gain.value == pytest.approx(((1.0 + 1.0) + (2.0 + 2.0)) / 4)
    assert cell.recovered.value == pytest.approx(1.5 / 2.0)
    assert cell.drop == pytest.approx(2.0) and cell.stable(0.1)
    other = attack_cell(group_by_run(results[2:]), confidence=0.95, n_resamples=2000)
    score, recovered = cell_difference(cell, other, confidence=0.95, n_resamples=2000)
    assert score.value == pytest.approx(0.75 - 0.5)
    assert recovered.value == pytest.approx(0.75 - 1.0)


def test_a_cell_without_evaluation_items_is_missing():
    cell = attack_cell(
        group_by_run([{"seed": 0, "run": 0, "lr": 1e-5, "curve": []}]), confidence=0.95, n_resamples=100
    )
    assert cell.runs == 0 and math.isnan(cell.score.value) and not cell.stable(0.1)
