"""Inference on the structure of the data: unlearning seeds × attack draws × items, resampled as clusters.

**Cluster bootstrap.** A per-item measure is observed at (seed, draw, item); an item scored in several draws or
seeds, and a draw shared by several models, are each *one* unit. :func:`cluster_bootstrap` resamples every
level that varies independently (the pigeonhole bootstrap for crossed random effects, Owen 2007, *Ann. Appl.
Stat.* 1:2): a resample draws n_l units with replacement at each level l, and an observation's weight is the
product of the counts of its units, w_sdi = c_s · c_d · c_i. A statistic is a function of weighted means
m(y) = Σ w y / Σ w. :func:`scipy.stats.bootstrap` draws the resamples (one sample per level, ``paired=False``)
and gives the percentile interval; a level with one unit (a single seed or draw) does not vary and is left
out, which is what resampling it would do. Seeds are a level *per row* (seed 0 of GD and seed 0 of SSIUU are
different checkpoints); draws and items are shared by every row of a comparison, which is what pairs it.

**Which ratios rank.** A recovered share (a − u) / (R − u) is undefined where its denominator can be 0.
:func:`rankable` is Fieller's condition: the denominator's interval, from the same resamples, must lie above
0 (then the ratio's interval is bounded; otherwise the share is § and not ranked). Every table, figure and
claim uses this one rule.

**Tests.** :func:`holm` (``statsmodels.stats.multitest.multipletests``), :func:`smallest_detectable_difference`
(``statsmodels.stats.power.TTestPower``), :func:`wilson` (``proportion_confint``), :func:`paired_loss_test`
(exact McNemar, ``statsmodels.stats.contingency_tables.mcnemar``; Wilcoxon signed-rank, scipy).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

#: the levels a per-item observation is identified by
LEVELS = ("seed", "draw", "item")
#: the power at which :func:`smallest_detectable_difference` is computed
POWER = 0.8
#: scipy.stats.bootstrap's batch (resamples evaluated at once: bounds the weight matrix's memory)
BATCH = 500


@dataclass(frozen=True)
class Units:
    """How many units each resampled level has (seeds summed over the rows of a comparison)."""

    seeds: int = 0
    draws: int = 0
    items: int = 0

    def text(self) -> str:
        """``2 seeds × 3 draws × 34 items``."""
        return f"{self.seeds} seeds × {self.draws} draws × {self.items} items"


@dataclass(frozen=True)
class Estimate:
    """A statistic with its percentile interval (NaN where undefined), the number of observations n, the
    units of each level, the bootstrap standard error and the two-sided bootstrap p value against 0."""

    value: float
    low: float = math.nan
    high: float = math.nan
    n: int = 0
    units: Units = field(default_factory=Units)
    se: float = math.nan
    p: float = math.nan

    @classmethod
    def missing(cls) -> Estimate:
        """No value, no interval, no observations."""
        return cls(math.nan)

    def scaled(self, factor: float) -> Estimate:
        """Value, bounds and standard error times ``factor`` (e.g. 100 for percent)."""
        return Estimate(
            self.value * factor,
            self.low * factor,
            self.high * factor,
            self.n,
            self.units,
            self.se * abs(factor),
            self.p,
        )

    @property
    def defined(self) -> bool:
        """Whether the interval exists."""
        return not (math.isnan(self.low) or math.isnan(self.high))


# --------------------------------------------------------------------------------------------- sample
@dataclass(frozen=True)
class ClusteredSample:
    """Observations of one or more rows (``group``) at (seed, draw, item), restricted to the (draw, item)
    pairs every group scores: ``values[column]`` per observation, ``codes[level]`` the unit of each
    observation in a resampled level (−1: not in that level)."""

    groups: np.ndarray
    values: Mapping[str, np.ndarray]
    codes: Mapping[str, np.ndarray]
    units: Units

    @classmethod
    def of(cls, frames: Mapping[str, pd.DataFrame]) -> ClusteredSample:
        """From one long frame per group (columns seed, draw, item and the values), on their shared
        (draw, item) pairs; each group's seeds are its own level."""
        frames = {g: f for g, f in frames.items()}
        shared = _shared_pairs(frames.values())
        rows = [f.assign(group=g).merge(shared, on=["draw", "item"]) for g, f in frames.items()]
        frame = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["group", *LEVELS])
        codes = {f"seed:{g}": _codes(frame, frame["group"] == g, "seed") for g in frames}
        codes |= {level: _codes(frame, np.ones(len(frame), bool), level) for level in ("draw", "item")}
        seeds = sum(frame.loc[frame["group"] == g, "seed"].nunique() for g in frames)
        units = Units(int(seeds), int(shared["draw"].nunique()), int(shared["item"].nunique()))
        skip = {"group", *LEVELS}
        values = {c: frame[c].to_numpy(dtype=float) for c in frame.columns if c not in skip}
        return cls(frame["group"].to_numpy(dtype=object), values, codes, units)

    def __len__(self) -> int:
        return len(self.groups)


def _shared_pairs(frames: Sequence[pd.DataFrame] | object) -> pd.DataFrame:
    """The (draw, item) pairs present in every frame."""
    pairs = None
    for f in frames:  # type: ignore[union-attr]
        these = f[["draw", "item"]].drop_duplicates()
        pairs = these if pairs is None else pairs.merge(these, on=["draw", "item"])
    return pairs if pairs is not None else pd.DataFrame(columns=["draw", "item"])


def _codes(frame: pd.DataFrame, mask: np.ndarray, level: str) -> np.ndarray:
    """The unit index of each observation within ``level`` (−1 outside ``mask``)."""
    codes = np.full(len(frame), -1, dtype=int)
    if mask.any():
        codes[mask] = pd.factorize(frame.loc[mask, level].astype(str), sort=True)[0]
    return codes


class WeightedMeans:
    """m(group, column) = Σ w y / Σ w over the group's observations, for each resample's weights (B, n)."""

    def __init__(self, sample: ClusteredSample, weights: np.ndarray) -> None:
        self.sample, self.weights = sample, weights

    def __call__(self, group: str, column: str) -> np.ndarray:
        mask = self.sample.groups == group
        y, w = self.sample.values[column][mask], self.weights[:, mask]
        ok = ~np.isnan(y)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (w[:, ok] @ y[ok]) / w[:, ok].sum(axis=1)


Statistic = Callable[[WeightedMeans], np.ndarray]


# --------------------------------------------------------------------------------------------- bootstrap
def _unit_counts(indices: np.ndarray, n_units: int) -> np.ndarray:
    """(B, n_units): how often each unit was drawn in each resample of ``indices`` (B, n_units)."""
    indices = np.atleast_2d(indices).astype(int)
    offsets = indices + n_units * np.arange(indices.shape[0])[:, None]
    return np.bincount(offsets.ravel(), minlength=indices.shape[0] * n_units).reshape(-1, n_units)


def _weights(sample: ClusteredSample, levels: Sequence[str], indices: Sequence[np.ndarray]) -> np.ndarray:
    """w = Π_l c_l[unit_l(obs)] per resample; an observation outside a level gets factor 1 there."""
    batch = np.atleast_2d(indices[0]).shape[0] if indices else 1
    weights = np.ones((batch, len(sample)))
    for level, idx in zip(levels, indices, strict=True):
        codes = sample.codes[level]
        n_units = int(codes.max()) + 1
        counts = np.concatenate([_unit_counts(idx, n_units), np.ones((batch, 1))], axis=1)
        weights *= counts[:, np.where(codes < 0, n_units, codes)]
    return weights


def _finite(statistic: Statistic, sample: ClusteredSample, weights: np.ndarray) -> np.ndarray:
    """The statistic per row of ``weights``; a ratio over 0 (±inf) is undefined (NaN)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.asarray(statistic(WeightedMeans(sample, weights)), dtype=float)
    return np.where(np.isfinite(out), out, np.nan)


def varying_levels(sample: ClusteredSample) -> list[str]:
    """The levels with at least two units (a level with one unit does not vary under resampling)."""
    return [level for level, codes in sample.codes.items() if codes.max(initial=-1) >= 1]


def _resample(data: tuple[np.ndarray, ...], statistic: Callable, confidence: float, n_resamples: int) -> Any:
    """scipy's percentile bootstrap, each level's units resampled on their own (fixed seed: reproducible)."""
    return stats.bootstrap(
        data,
        statistic,
        vectorized=True,
        paired=False,
        confidence_level=confidence,
        n_resamples=n_resamples,
        batch=BATCH,
        method="percentile",
        rng=np.random.default_rng(0),
    )


def cluster_bootstrap(
    sample: ClusteredSample, statistic: Statistic, *, confidence: float, n_resamples: int
) -> Estimate:
    """``statistic`` of the sample with its percentile interval over the pigeonhole resamples (module doc).

    p is the two-sided bootstrap p value of 0, 2·min(P*(θ ≤ 0), P*(θ ≥ 0)) with the (k + 1) / (B + 1)
    correction, consistent with the percentile interval (0 lies outside the 1 − α interval iff p < α)."""
    value = _finite(statistic, sample, np.ones((1, len(sample))))[0] if len(sample) else math.nan
    levels = varying_levels(sample)
    base = Estimate(value, n=len(sample), units=sample.units)
    if math.isnan(value) or not levels:
        return base

    def resampled(*indices: np.ndarray, axis: int = -1) -> np.ndarray:
        out = _finite(statistic, sample, _weights(sample, levels, indices))
        return out if np.ndim(indices[0]) > 1 else out[0]

    data = tuple(np.arange(int(sample.codes[level].max()) + 1) for level in levels)
    with (
        warnings.catch_warnings()
    ):  # a degenerate distribution (every resample equal) is a valid 0-width interval
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        res = _resample(data, resampled, confidence, n_resamples)
    dist = np.asarray(res.bootstrap_distribution, dtype=float)
    if np.isnan(dist).any():
        return base
    below, above = (dist <= 0).sum(), (dist >= 0).sum()
    p = float(min(1.0, 2 * (min(below, above) + 1) / (dist.size + 1)))
    low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return Estimate(value, low, high, len(sample), sample.units, float(dist.std(ddof=1)), p)


# --------------------------------------------------------------------------------------------- statistics
def mean_of(group: str, column: str) -> Statistic:
    """m(y): the weighted mean of one row's column."""
    return lambda m: m(group, column)


def gain_of(group: str, after: str = "after", before: str = "before") -> Statistic:
    """m(after) − m(before) of one row: what the attack gave it."""
    return lambda m: m(group, after) - m(group, before)


def room_of(row: str, reference: str) -> Statistic:
    """m_R(after) − m_row(before): the recovered share's denominator (how far the attacked reference is above
    the unlearned model)."""
    return lambda m: m(reference, "after") - m(row, "before")


def share_of(row: str, reference: str) -> Statistic:
    """Recovered share (m_row(after) − m_row(before)) / (m_R(after) − m_row(before)) (docs/results.md)."""
    return lambda m: gain_of(row)(m) / room_of(row, reference)(m)


def did_of(row: str, reference: str) -> Statistic:
    """Difference in differences (m_row(after) − m_row(before)) − (m_R(after) − m_R(before))."""
    return lambda m: gain_of(row)(m) - gain_of(reference)(m)


def difference(first: Statistic, second: Statistic) -> Statistic:
    """first − second on the same resamples (a paired difference)."""
    return lambda m: first(m) - second(m)


def rankable(room: Estimate) -> bool:
    """Fieller's condition for a ratio whose denominator is ``room``: its interval lies above 0."""
    return room.defined and room.low > 0


# --------------------------------------------------------------------------------------------- tests
def holm(p_values: Sequence[float], alpha: float) -> list[float]:
    """Holm-adjusted p values of one family (``multipletests(method="holm")``); NaN stays NaN."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        from statsmodels.stats.multitest import multipletests

        out[ok] = multipletests(p[ok], alpha=alpha, method="holm")[1]
    return out.tolist()


def smallest_detectable_difference(se: float, n: int, alpha: float, power: float = POWER) -> float:
    """The difference a two-sided test at ``alpha`` detects with ``power``, for an estimate with standard error
    ``se`` resting on ``n`` independent units: d·σ with d from ``TTestPower().solve_power(nobs=n)`` and
    σ = se·√n the per-unit SD that reproduces ``se`` (so d·σ ≈ (t_{1−α/2} + t_power)·se)."""
    if math.isnan(se) or n < 2:
        return math.nan
    from statsmodels.stats.power import TTestPower

    d = TTestPower().solve_power(effect_size=None, nobs=n, alpha=alpha, power=power, alternative="two-sided")
    return float(d) * se * math.sqrt(n)


def units_needed(difference: float, se: float, n: int, alpha: float, power: float = POWER) -> float:
    """Independent units a two-sided test at ``alpha`` needs to detect ``difference`` with ``power`` at the
    per-unit SD σ = se·√n (``TTestPower().solve_power(effect_size=|difference|/σ)``)."""
    if math.isnan(se) or n < 2 or se == 0 or difference == 0 or math.isnan(difference):
        return math.nan
    from statsmodels.stats.power import TTestPower

    effect = abs(difference) / (se * math.sqrt(n))
    with warnings.catch_warnings():  # no solution (an effect far beyond or below any n): NaN
        warnings.simplefilter("ignore")
        needed = TTestPower().solve_power(effect_size=effect, nobs=None, alpha=alpha, power=power)
    return float(needed) if np.isfinite(needed) else math.nan


def wilson(successes: float, n: int, confidence: float) -> tuple[float, float]:
    """Wilson score interval of a proportion (``proportion_confint(method="wilson")``); a fractional count
    (the sum of ROUGE recalls in [0, 1]) gives a conservative interval, since Var X ≤ p(1 − p) on [0, 1]."""
    if n < 1:
        return math.nan, math.nan
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(successes, n, alpha=1 - confidence, method="wilson")
    return float(low), float(high)


def proportion_estimate(values: Sequence[float], confidence: float, n: int | None = None) -> Estimate:
    """Mean of per-item values in [0, 1] with its Wilson interval over ``n`` items (default: len(values))."""
    v = np.asarray([x for x in values if not math.isnan(x)], dtype=float)
    if not v.size:
        return Estimate.missing()
    n = int(v.size if n is None else n)
    low, high = wilson(float(v.mean()) * n, n, confidence)
    return Estimate(float(v.mean()), low, high, n, Units(items=n))


@dataclass(frozen=True)
class LossTest:
    """A test of whether a model scores lower than the starting model on the same items."""

    name: str
    p: float
    lower: bool
    n: int


def paired_loss_test(model: Sequence[float], start: Sequence[float]) -> LossTest:
    """Exact McNemar test on 0/1 outcomes of the same items, else Wilcoxon signed-rank on paired values
    (ROUGE recalls, or outcomes averaged over seeds). ``lower``: the model's mean is below the start's."""
    a, b = np.asarray(model, dtype=float), np.asarray(start, dtype=float)
    lower = bool(a.mean() < b.mean()) if a.size else False
    if not a.size or np.array_equal(a, b):
        return LossTest("no difference", 1.0, lower, int(a.size))
    if set(np.unique(np.concatenate([a, b]))) <= {0.0, 1.0}:
        from statsmodels.stats.contingency_tables import mcnemar

        table = [[int(((a == 1) & (b == 1)).sum()), int(((a == 1) & (b == 0)).sum())]]
        table.append([int(((a == 0) & (b == 1)).sum()), int(((a == 0) & (b == 0)).sum())])
        return LossTest("exact McNemar", float(mcnemar(table, exact=True).pvalue), lower, int(a.size))
    return LossTest("Wilcoxon signed-rank", float(stats.wilcoxon(a, b).pvalue), lower, int(a.size))


def count_loss_test(model: tuple[int, int], start: tuple[int, int]) -> LossTest:
    """Fisher's exact test on (correct, n) counts when per-item outcomes are not recorded: it ignores that the
    items are the same, so it is conservative for a positive correlation between the two models' answers."""
    (k1, n1), (k0, n0) = model, start
    p = float(stats.fisher_exact([[k1, n1 - k1], [k0, n0 - k0]]).pvalue)
    return LossTest("Fisher's exact on counts (per-item outcomes not recorded)", p, k1 / n1 < k0 / n0, n1)
