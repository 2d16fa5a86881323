"""One attack cell of Tables 1-2 and Fig. 2 from the per-item values the attack JSON files keep.

Per run (one unlearning seed × one attack run) the attack score is the largest FS over the configured
learning rates and the evaluation steps (the paper's max over the curve and the learning-rate grid). The
cell pools the evaluation items of that best point over runs and seeds: its value is their mean, which is
the mean over runs of the per-run score (every run of a cell scores the same number of items), and its
interval resamples those items (:mod:`ssiuu.report.stats`). The recovery measure does the same at the
point of each run where the gold answers' mean log-probability is highest.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ssiuu.report.stats import (
    Interval,
    difference_interval,
    mean_interval,
    recovered_fraction_difference_interval,
    recovered_fraction_interval,
)


@dataclass(frozen=True)
class RunItems:
    """The evaluation items of one run at its best points: FS scores, and log-probabilities of the start
    model, the unlearned model and the attacked model."""

    scores: list[float]
    start: list[float]
    unlearned: list[float]
    attacked: list[float]


@dataclass(frozen=True)
class AttackCell:
    """A cell: attack score, recovered fraction, log-probability gain and unlearning's drop, pooled over runs."""

    score: Interval
    recovered: Interval
    gain: Interval
    drop: float
    runs: int
    items: tuple[RunItems, ...]

    def stable(self, min_drop: float) -> bool:
        """Whether unlearning lowered the log-probability enough for the recovered fraction to mean something."""
        return not math.isnan(self.drop) and self.drop >= min_drop


def _best_point(
    results: Sequence[Mapping[str, Any]], key: str
) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """(result, curve point) with the largest ``key`` over the learning rates and steps of one run."""
    points = [(res, pt) for res in results for pt in res["curve"]]
    return max(points, key=lambda rp: rp[1][key])


def run_items(results: Sequence[Mapping[str, Any]]) -> RunItems | None:
    """The items of one run (its results at every configured learning rate); None without evaluation items."""
    results = [r for r in results if r.get("curve")]
    if not results:
        return None
    _, fs_point = _best_point(results, "fs")
    lp_result, lp_point = _best_point(results, "logprob")
    return RunItems(
        scores=list(fs_point["item_scores"]),
        start=list(lp_result["start_logprobs"]),
        unlearned=list(lp_result["curve"][0]["item_logprobs"]),
        attacked=list(lp_point["item_logprobs"]),
    )


def attack_cell(
    results_by_run: Mapping[Any, Sequence[Mapping[str, Any]]], *, confidence: float, n_resamples: int
) -> AttackCell:
    """Pool the runs of one (method, attack) cell; ``results_by_run`` maps (seed, run) to that run's results."""
    runs = [items for items in (run_items(r) for r in results_by_run.values()) if items is not None]
    pooled = {
        field: [x for r in runs for x in getattr(r, field)]
        for field in ("scores", "start", "unlearned", "attacked")
    }
    opts = {"confidence": confidence, "n_resamples": n_resamples}
    start, unlearned, attacked = (
        np.asarray(pooled[f], dtype=float) for f in ("start", "unlearned", "attacked")
    )
    has_start = start.size == attacked.size and start.size > 0
    return AttackCell(
        score=mean_interval(pooled["scores"], **opts),
        recovered=recovered_fraction_interval(attacked, unlearned, start, **opts)
        if has_start
        else Interval.missing(),
        gain=mean_interval(list(attacked - unlearned), **opts) if attacked.size else Interval.missing(),
        drop=float(start.mean() - unlearned.mean()) if has_start else math.nan,
        runs=len(runs),
        items=tuple(runs),
    )


def cell_difference(
    first: AttackCell, second: AttackCell, *, confidence: float, n_resamples: int
) -> tuple[Interval, Interval]:
    """(score difference, recovered-fraction difference) first − second, each with its bootstrap interval.

    The two cells score different items (each method's own pool), so the samples are independent."""
    opts = {"confidence": confidence, "n_resamples": n_resamples}

    def pooled(cell: AttackCell, field: str) -> list[float]:
        return [x for r in cell.items for x in getattr(r, field)]

    score = difference_interval(pooled(first, "scores"), pooled(second, "scores"), **opts)
    triples = [tuple(pooled(c, f) for f in ("attacked", "unlearned", "start")) for c in (first, second)]
    if any(len(t[2]) != len(t[0]) or not t[0] for t in triples):
        return score, Interval.missing()
    return score, recovered_fraction_difference_interval(*triples, **opts)


def group_by_run(results: Iterable[Mapping[str, Any]]) -> dict[tuple[int, int], list[Mapping[str, Any]]]:
    """Attack results keyed by (seed, run): one run's results at its learning rates."""
    out: dict[tuple[int, int], list[Mapping[str, Any]]] = {}
    for res in results:
        out.setdefault((int(res["seed"]), int(res["run"])), []).append(res)
    return out
