"""The report's inference (ssiuu/report/inference.py) on hand-made cases: clusters, pairing, the ratio rule,
Holm, the smallest detectable difference, Wilson and McNemar against statsmodels; and the attack cell
(ssiuu/report/attack_cells.py) read from hand-made attack files."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestPower
from statsmodels.stats.proportion import proportion_confint

from ssiuu.report import inference as I
from ssiuu.report.attack_cells import attack_cell
from ssiuu.report.stats import CellStats, mean_interval

OPTS = {"confidence": 0.95, "n_resamples": 4999}
VALUES = np.array([0.9, 0.1, 0.8, 0.3, 0.7, 0.2, 0.6, 0.4, 1.0, 0.0, 0.55, 0.45, 0.65, 0.35, 0.75, 0.25])


def frame(values, draws, items, seed: int = 0) -> pd.DataFrame:
    return pd.DataFrame({"seed": seed, "draw": draws, "item": items, "y": values})


def width(est: I.Estimate) -> float:
    return est.high - est.low


def test_an_item_scored_in_two_draws_is_one_cluster() -> None:
    """The same 16 items scored identically in two draws: 32 observations, 16 clusters. The interval must be
    that of 16 items (√2 wider than 32 independent values), and n items = 16."""
    n = len(VALUES)
    items = [f"i{k}" for k in range(n)]
    twice = I.ClusteredSample.of({"row": frame(np.tile(VALUES, 2), [0] * n + [1] * n, items * 2)})
    once = I.ClusteredSample.of({"row": frame(VALUES, [0] * n, items)})
    independent = I.ClusteredSample.of(
        {"row": frame(np.tile(VALUES, 2), [0] * 2 * n, [f"x{k}" for k in range(2 * n)])}
    )
    est = {
        name: I.cluster_bootstrap(s, I.mean_of("row", "y"), **OPTS)
        for name, s in (("twice", twice), ("once", once), ("independent", independent))
    }
    assert twice.units == I.Units(seeds=1, draws=2, items=16) and est["twice"].n == 32
    assert est["twice"].value == pytest.approx(VALUES.mean())
    # identical draws add no variance: the interval is the 16 items' (up to resampling noise) ...
    assert width(est["twice"]) == pytest.approx(width(est["once"]), rel=0.1)
    # ... and wider than 32 independent values by about √2
    assert width(est["twice"]) / width(est["independent"]) == pytest.approx(math.sqrt(2), rel=0.15)


def test_a_single_seed_or_draw_does_not_vary_and_is_not_an_error() -> None:
    sample = I.ClusteredSample.of(
        {"row": frame(VALUES, [0] * len(VALUES), [f"i{k}" for k in range(len(VALUES))])}
    )
    assert I.varying_levels(sample) == ["item"]
    one = I.ClusteredSample.of({"row": frame([0.4], [0], ["i0"])})
    est = I.cluster_bootstrap(one, I.mean_of("row", "y"), **OPTS)
    assert est.value == 0.4 and not est.defined and est.n == 1


def test_with_one_seed_and_draw_it_is_scipys_item_bootstrap() -> None:
    sample = I.ClusteredSample.of(
        {"row": frame(VALUES, [0] * len(VALUES), [f"i{k:02d}" for k in range(len(VALUES))])}
    )
    est = I.cluster_bootstrap(sample, I.mean_of("row", "y"), **OPTS)
    ref = mean_interval(list(VALUES), **OPTS)
    assert (est.low, est.high) == pytest.approx((ref.low, ref.high), abs=0.02)


def test_paired_difference_on_shared_items_against_a_hand_computation() -> None:
    """Row a scores items 0-5, row b items 2-7 (same draw): the difference uses items 2-5 only."""
    a = frame([0.9, 0.8, 0.7, 0.6, 0.5, 0.4], [0] * 6, [f"i{k}" for k in range(6)])
    b = frame([0.1, 0.5, 0.3, 0.2, 0.3, 0.0], [0] * 6, [f"i{k}" for k in range(2, 8)])
    sample = I.ClusteredSample.of({"a": a, "b": b})
    est = I.cluster_bootstrap(sample, I.difference(I.mean_of("a", "y"), I.mean_of("b", "y")), **OPTS)
    diffs = np.array([0.7, 0.6, 0.5, 0.4]) - np.array([0.1, 0.5, 0.3, 0.2])  # items 2, 3, 4, 5
    assert sample.units.items == 4 and est.n == 8
    assert est.value == pytest.approx(diffs.mean())
    ref = scipy_stats.bootstrap(
        (diffs,), np.mean, n_resamples=4999, method="percentile", rng=np.random.default_rng(0)
    )
    assert (est.low, est.high) == pytest.approx(
        (ref.confidence_interval.low, ref.confidence_interval.high), abs=0.06
    )


def test_recovered_share_and_did_and_the_ratio_rule() -> None:
    """Row: before −1, after 0 on every item; reference after 1, before 0.5: share = 1 / 2, DiD = 1 − 0.5."""
    items = [f"i{k}" for k in range(8)]
    noise = np.array([0.1, -0.1, 0.05, -0.05, 0.2, -0.2, 0.0, 0.0])
    row = pd.DataFrame({"seed": 0, "draw": 0, "item": items, "before": -1.0 + noise, "after": 0.0 + noise})
    ref = pd.DataFrame({"seed": 0, "draw": 0, "item": items, "before": 0.5 + noise, "after": 1.0 + noise})
    sample = I.ClusteredSample.of({"row": row, "ref": ref})
    share = I.cluster_bootstrap(sample, I.share_of("row", "ref"), **OPTS)
    did = I.cluster_bootstrap(sample, I.did_of("row", "ref"), **OPTS)
    room = I.cluster_bootstrap(sample, I.room_of("row", "ref"), **OPTS)
    assert share.value == pytest.approx(0.5) and did.value == pytest.approx(0.5)
    assert I.rankable(room) and room.low > 0
    # a reference no higher than the row before the attack: the denominator's interval reaches 0 → not ranked
    flat = ref.assign(after=row["before"] + np.array([0.3, -0.3, 0.2, -0.2, 0.1, -0.1, 0.0, 0.05]))
    room = I.cluster_bootstrap(
        I.ClusteredSample.of({"row": row, "ref": flat}), I.room_of("row", "ref"), **OPTS
    )
    assert room.low <= 0 <= room.high and not I.rankable(room)
    assert not I.rankable(I.Estimate(1.0))  # no interval: not ranked


def test_holm_against_statsmodels_on_a_known_vector() -> None:
    p = [0.01, 0.04, 0.03, 0.005, math.nan]
    ref = multipletests(p[:4], alpha=0.05, method="holm")[1]
    got = I.holm(p, 0.05)
    assert got[:4] == pytest.approx(list(ref)) and math.isnan(got[4])
    assert got[:4] == pytest.approx(
        [0.03, 0.06, 0.06, 0.02]
    )  # by hand: 4·0.005, 3·0.01, max(2·0.03, ·), 1·0.04 → 0.06


def test_smallest_detectable_difference_against_statsmodels_power() -> None:
    se, n, alpha = 0.05, 30, 0.05
    d = TTestPower().solve_power(nobs=n, alpha=alpha, power=0.8)
    mdd = I.smallest_detectable_difference(se, n, alpha)
    assert mdd == pytest.approx(d * se * math.sqrt(n))
    # the power of a test at that difference, per statsmodels, is 0.8
    power = TTestPower().power(effect_size=mdd / (se * math.sqrt(n)), nobs=n, alpha=alpha)
    assert power == pytest.approx(0.8, abs=1e-6)
    assert mdd == pytest.approx((scipy_stats.norm.ppf(0.975) + scipy_stats.norm.ppf(0.8)) * se, rel=0.06)
    assert I.units_needed(mdd, se, n, alpha) == pytest.approx(n, rel=1e-3)
    assert math.isnan(I.smallest_detectable_difference(math.nan, n, alpha))


def test_wilson_against_a_known_value_and_at_ceiling() -> None:
    low, high = I.wilson(8, 10, 0.95)
    assert (low, high) == pytest.approx((0.4902, 0.9433), abs=1e-4)  # Wilson (1927), 8 of 10
    assert (low, high) == pytest.approx(proportion_confint(8, 10, alpha=0.05, method="wilson"))
    ceiling = I.proportion_estimate([1.0] * 50, 0.95)
    assert (
        ceiling.value == 1.0
        and ceiling.high == pytest.approx(1.0)
        and ceiling.low == pytest.approx(0.9287, abs=1e-4)
    )


def test_mcnemar_on_a_known_table() -> None:
    """model right / start right: 10 both, 2 only the model, 8 only the start, 20 neither."""
    model = [1] * 10 + [1] * 2 + [0] * 8 + [0] * 20
    start = [1] * 10 + [0] * 2 + [1] * 8 + [0] * 20
    test = I.paired_loss_test(model, start)
    assert test.name == "exact McNemar" and test.lower and test.n == 40
    assert test.p == pytest.approx(mcnemar([[10, 2], [8, 20]], exact=True).pvalue)
    assert test.p == pytest.approx(2 * scipy_stats.binom.cdf(2, 10, 0.5))  # 0.109375
    recall = I.paired_loss_test([0.5, 0.4, 0.3, 0.2, 0.6, 0.1], [0.9, 0.8, 0.7, 0.9, 0.8, 0.9])
    assert recall.name == "Wilcoxon signed-rank" and recall.p == pytest.approx(0.03125)
    counts = I.count_loss_test((12, 40), (17, 40))
    assert (
        "counts" in counts.name
        and counts.lower
        and counts.p == pytest.approx(scipy_stats.fisher_exact([[12, 28], [17, 23]]).pvalue)
    )


def _attack(
    seed: int, run: int, ids: list[str], before: list[float], after: list[float], margins=None
) -> dict:
    margins = margins or ([0.0] * len(ids), [0.0] * len(ids))

    def point(s, scores, m):
        return {
            "step": s,
            "item_scores": scores,
            "item_margins": m,
            "item_logprobs": [-1.0] * len(ids),
        }  # noqa: E731

    return {
        "seed": seed,
        "run": run,
        "lr": 1e-4,
        "kind": "harmful",
        "p": 0.1,
        "eval_ids": ids,
        "curve": [
            point(0, before, margins[0]),
            point(5, [1.0] * len(ids), margins[0]),
            point(10, after, margins[1]),
        ],
    }


def test_attack_cell_reads_the_end_of_the_attack_on_items_wrong_before_it() -> None:
    """FS after the attack is the last point (not the max over the curve), on the step-0-wrong items; the
    Start reference is read on all its items; an item in both draws is one cluster."""
    ids = ["a", "b", "c", "d"]
    results = [
        _attack(0, 0, ids, [0, 0, 0, 1], [1, 0, 0, 1]),
        _attack(0, 1, ids, [0, 0, 0, 1], [1, 1, 0, 0]),
    ]
    stats = CellStats(0.95, 999)
    cell = attack_cell(results, "GD", stats)
    assert cell.score.value == pytest.approx(3 / 6) and cell.score.n == 6  # items a-c in 2 draws; d was right
    assert cell.score.units == I.Units(1, 2, 3) and cell.runs == 2
    start = attack_cell(results, "Start", stats)
    assert start.score.value == pytest.approx(4 / 8) and start.score.units.items == 4
    assert not cell.lp_rankable  # s − u = 0 on every item: the old fraction has no denominator
