"""The report's statistical settings (:class:`CellStats`) and the plain bootstrap of independent values.

Attack cells and every comparison between rows are estimated on the structure of the data (seeds × draws ×
items) by :mod:`ssiuu.report.inference`; :func:`mean_interval` is left for values that are independent units
by construction (claim 1's module × layer cells, Fig. 7a's per-item scores of one checkpoint).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from ssiuu.report.inference import Estimate, Units
from ssiuu.report.registry import level_text


@dataclass(frozen=True)
class CellStats:
    """How the report estimates: the intervals' confidence level (also 1 − α of every test) and the bootstrap
    resamples. Built from the validated config's ``attacks.confidence_level`` and
    ``attacks.bootstrap_resamples`` by :func:`ssiuu.report.options.options_from_config`."""

    confidence: float
    n_resamples: int

    @property
    def bootstrap(self) -> dict[str, float]:
        """Keyword arguments of the interval routines (``confidence``, ``n_resamples``)."""
        return {"confidence": self.confidence, "n_resamples": self.n_resamples}

    @property
    def alpha(self) -> float:
        """The tests' level: 1 − confidence."""
        return 1.0 - self.confidence

    @property
    def level(self) -> str:
        """``95 %``: the confidence level as the notes write it."""
        return level_text(self.confidence)


def mean_interval(values: Sequence[float], *, confidence: float = 0.95, n_resamples: int = 9999) -> Estimate:
    """Mean of independent ``values`` with a percentile bootstrap interval (:func:`scipy.stats.bootstrap`)."""
    v = np.asarray([x for x in values if not math.isnan(x)], dtype=float)
    if v.size == 0:
        return Estimate.missing()
    if v.size < 2:
        return Estimate(float(v.mean()), n=1, units=Units(items=1))
    res = stats.bootstrap(
        (v,),
        np.mean,
        vectorized=True,
        confidence_level=confidence,
        n_resamples=n_resamples,
        method="percentile",
        rng=np.random.default_rng(0),
    )
    low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return Estimate(float(v.mean()), low, high, int(v.size), Units(items=int(v.size)))
