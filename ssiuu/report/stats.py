"""Confidence intervals for every table cell and figure bar: scipy's bootstrap and lm-eval's standard errors.

Each interval resamples the observations behind the cell (evaluation items, pooled over runs and seeds)
with :func:`scipy.stats.bootstrap` (percentile method, fixed seed, so tables regenerate byte for byte).
A cell resting on fewer than two observations gets no interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class CellStats:
    """How the report estimates its cells: the interval's confidence level and bootstrap resamples, and the
    least drop in log-probability (nats per token) that lets a recovered fraction be ranked (the § rule).
    Built from the validated config's ``attacks.confidence_level``, ``attacks.bootstrap_resamples`` and
    ``attacks.min_logprob_drop`` by :func:`ssiuu.report.options_from_config`."""

    confidence: float
    n_resamples: int
    min_logprob_drop: float

    @property
    def bootstrap(self) -> dict[str, float]:
        """Keyword arguments of this module's interval routines (``confidence``, ``n_resamples``)."""
        return {"confidence": self.confidence, "n_resamples": self.n_resamples}


@dataclass(frozen=True)
class Interval:
    """A point estimate, its confidence interval (NaN where undefined) and the number of observations."""

    value: float
    low: float
    high: float
    n: int

    @classmethod
    def missing(cls) -> Interval:
        """No value, no interval, no observations."""
        return cls(math.nan, math.nan, math.nan, 0)

    def scaled(self, factor: float) -> Interval:
        """Value and bounds times ``factor`` (e.g. 100 for percent); n unchanged."""
        return Interval(self.value * factor, self.low * factor, self.high * factor, self.n)


def _bootstrap(
    data: tuple[np.ndarray, ...], statistic, *, paired: bool, confidence: float, n_resamples: int
) -> tuple[float, float]:
    res = stats.bootstrap(
        data,
        statistic,
        paired=paired,
        vectorized=True,
        confidence_level=confidence,
        n_resamples=n_resamples,
        method="percentile",
        rng=np.random.default_rng(0),
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def mean_interval(values: Sequence[float], *, confidence: float = 0.95, n_resamples: int = 9999) -> Interval:
    """Mean of ``values`` with a bootstrap percentile interval."""
    v = np.asarray([x for x in values if not math.isnan(x)], dtype=float)
    if v.size == 0:
        return Interval.missing()
    if v.size < 2:
        return Interval(float(v.mean()), math.nan, math.nan, 1)
    low, high = _bootstrap((v,), np.mean, paired=False, confidence=confidence, n_resamples=n_resamples)
    return Interval(float(v.mean()), low, high, int(v.size))


def mean_of_means_interval(
    groups: Sequence[Sequence[float]], *, confidence: float = 0.95, n_resamples: int = 9999
) -> Interval:
    """The mean of the groups' means (e.g. US over utility sets), each group resampled on its own."""
    arrays = tuple(np.asarray(g, dtype=float) for g in groups if len(g))
    if not arrays:
        return Interval.missing()
    value = float(np.mean([a.mean() for a in arrays]))
    n = sum(a.size for a in arrays)
    if min(a.size for a in arrays) < 2:
        return Interval(value, math.nan, math.nan, n)

    def statistic(*samples: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.mean([s.mean(axis=axis) for s in samples], axis=0)

    low, high = _bootstrap(arrays, statistic, paired=False, confidence=confidence, n_resamples=n_resamples)
    return Interval(value, low, high, n)


def recovered_fraction_of_means(
    attacked: np.ndarray, unlearned: np.ndarray, start: np.ndarray, axis: int = -1
) -> np.ndarray:
    """(mean attacked − mean unlearned) / (mean start − mean unlearned) along ``axis``; NaN without a drop."""
    drop = start.mean(axis=axis) - unlearned.mean(axis=axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(drop > 0, (attacked.mean(axis=axis) - unlearned.mean(axis=axis)) / drop, np.nan)


def recovered_fraction_interval(
    attacked: Sequence[float],
    unlearned: Sequence[float],
    start: Sequence[float],
    *,
    confidence: float = 0.95,
    n_resamples: int = 9999,
) -> Interval:
    """:func:`recovered_fraction_of_means` over items, the three values of an item resampled together."""
    a, u, s = (np.asarray(x, dtype=float) for x in (attacked, unlearned, start))
    if not a.size:
        return Interval.missing()
    value = float(recovered_fraction_of_means(a, u, s))
    if a.size < 2 or math.isnan(value):
        return Interval(value, math.nan, math.nan, int(a.size))
    low, high = _bootstrap(
        (a, u, s), recovered_fraction_of_means, paired=True, confidence=confidence, n_resamples=n_resamples
    )
    return Interval(value, low, high, int(a.size))


def difference_interval(
    first: Sequence[float], second: Sequence[float], *, confidence: float = 0.95, n_resamples: int = 9999
) -> Interval:
    """mean(first) − mean(second) for two independent samples (different evaluation items)."""
    a, b = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    if not (a.size and b.size):
        return Interval.missing()
    value = float(a.mean() - b.mean())
    if min(a.size, b.size) < 2:
        return Interval(value, math.nan, math.nan, int(a.size + b.size))

    def statistic(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
        return x.mean(axis=axis) - y.mean(axis=axis)

    low, high = _bootstrap((a, b), statistic, paired=False, confidence=confidence, n_resamples=n_resamples)
    return Interval(value, low, high, int(a.size + b.size))


def standard_error_interval(value: float, stderr: float, n: int, *, confidence: float = 0.95) -> Interval:
    """A normal interval from a standard error (lm-eval's ``acc_stderr``, its own bootstrap or formula)."""
    if math.isnan(stderr) or n < 2:
        return Interval(value, math.nan, math.nan, n)
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    return Interval(value, value - z * stderr, value + z * stderr, n)


def recovered_fraction_difference_interval(
    first: tuple[Sequence[float], Sequence[float], Sequence[float]],
    second: tuple[Sequence[float], Sequence[float], Sequence[float]],
    *,
    confidence: float = 0.95,
    n_resamples: int = 9999,
) -> Interval:
    """Recovered fraction of ``first`` minus that of ``second``; each is (attacked, unlearned, start) per item.

    The two samples are independent; within one, an item's three values are resampled together (the
    bootstrap resamples item indices)."""
    a, b = (tuple(np.asarray(x, dtype=float) for x in triple) for triple in (first, second))
    value = float(recovered_fraction_of_means(*a) - recovered_fraction_of_means(*b))
    n = int(a[0].size + b[0].size)
    if min(a[0].size, b[0].size) < 2 or math.isnan(value):
        return Interval(value, math.nan, math.nan, n)

    def statistic(ia: np.ndarray, ib: np.ndarray, axis: int = -1) -> np.ndarray:
        ia, ib = ia.astype(int), ib.astype(int)
        return recovered_fraction_of_means(*(x[ia] for x in a)) - recovered_fraction_of_means(
            *(x[ib] for x in b)
        )

    idx = (np.arange(a[0].size, dtype=float), np.arange(b[0].size, dtype=float))
    low, high = _bootstrap(idx, statistic, paired=False, confidence=confidence, n_resamples=n_resamples)
    return Interval(value, low, high, n)
