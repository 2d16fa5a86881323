"""One attack cell of Tables 1-2, Fig. 2 and the claims: the per-item values of its attack files, and what the
report estimates from them (:mod:`ssiuu.report.inference`).

An attack file (``docs/results.md``) holds one draw of one checkpoint: its unlearning ``seed``, the draw's
``run``, the evaluation items ``eval_ids`` and, per evaluation point, ``item_scores``, ``item_margins`` and
``item_logprobs``. :func:`draw_items` turns it into one row per item: the values at step 0 (``*_before``) and
at the **end of the attack** (the last evaluation point: the attack's score, never the step-0 value). Where a
draw was run at several configured learning rates, the rate whose end FS is highest is kept (the paper's max
over the rate grid). The cell's observations are indexed by (seed, draw, item) and resampled as clusters.

* **FS after the attack** (§6.2.2): the end score on the items the model answered wrongly at step 0; the
  ``Start`` reference answers them all right, so its FS is on all its evaluation items.
* **Log-probability fraction** (secondary, the old measure): (a − u) / (s − u) of the gold answer's mean
  log-probability, attacked a, unlearned u, unattacked starting model s.
* The **margin** measures against the attacked reference (recovered share, difference in differences) need
  the reference's cell too: :mod:`ssiuu.report.aggregate`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ssiuu.report.inference import (
    LEVELS,
    ClusteredSample,
    Estimate,
    cluster_bootstrap,
    gain_of,
    mean_of,
    rankable,
)
from ssiuu.report.stats import CellStats

#: the reference whose FS is read on every evaluation item (it answers them all right before the attack)
START = "Start"
ITEM_COLUMNS = [
    *LEVELS,
    "score_before",
    "score",
    "margin_before",
    "margin",
    "logprob_before",
    "logprob",
    "start_logprob",
]


def _item_values(point: Mapping[str, Any], key: str, n: int) -> list[float]:
    """An evaluation point's per-item values of ``key`` (NaN where the file does not record them)."""
    values = point.get(key)
    return [math.nan if v is None else float(v) for v in values] if values is not None else [math.nan] * n


def draw_items(result: Mapping[str, Any]) -> pd.DataFrame:
    """One row per evaluation item of one attack file: seed, draw, item and the step-0 / end values."""
    curve, ids = result.get("curve") or [], list(result.get("eval_ids") or [])
    if not curve or not ids:
        return pd.DataFrame(columns=ITEM_COLUMNS)
    first, last, n = curve[0], curve[-1], len(ids)
    frame = pd.DataFrame({"seed": int(result["seed"]), "draw": int(result["run"]), "item": ids})
    for name, key in (("score", "item_scores"), ("margin", "item_margins"), ("logprob", "item_logprobs")):
        frame[f"{name}_before"] = _item_values(first, key, n)
        frame[name] = _item_values(last, key, n)
    frame["start_logprob"] = _item_values(result, "start_logprobs", n)
    return frame[ITEM_COLUMNS]


def cell_items(results: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """The items of every (seed, draw) of a cell, each at the learning rate with the highest end FS."""
    best: dict[tuple[int, int], pd.DataFrame] = {}
    for result in results:
        items = draw_items(result)
        if items.empty:
            continue
        key = (int(result["seed"]), int(result["run"]))
        if key not in best or items["score"].mean() > best[key]["score"].mean():
            best[key] = items
    frames = [best[k] for k in sorted(best)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=ITEM_COLUMNS)


def fs_items(items: pd.DataFrame, method: str) -> pd.DataFrame:
    """The items FS is read on: those wrong at step 0 (§6.2.2), every item for the ``Start`` reference."""
    return items if method == START else items[items["score_before"] == 0]


def measure(items: pd.DataFrame, name: str) -> pd.DataFrame:
    """seed, draw, item, ``before`` and ``after`` of one measure (``score``, ``margin``, ``logprob``); the
    old fraction's unattacked-start value as ``start``. Rows where the measure is not recorded are dropped."""
    out = items[list(LEVELS)].assign(before=items[f"{name}_before"], after=items[name])
    if name == "logprob":
        out = out.assign(start=items["start_logprob"])
    return out.dropna()


@dataclass(frozen=True)
class AttackCell:
    """One row's attack cell: its items, FS after the attack, and the old log-probability fraction with its
    denominator (the drop s − u) and the gain a − u."""

    items: pd.DataFrame
    score: Estimate
    lp_fraction: Estimate
    lp_gain: Estimate
    lp_drop: Estimate

    @property
    def runs(self) -> int:
        """(seed, draw) pairs with per-item results."""
        return int(self.items[["seed", "draw"]].drop_duplicates().shape[0]) if not self.items.empty else 0

    @property
    def lp_rankable(self) -> bool:
        """Whether the log-probability fraction can be ranked (:func:`ssiuu.report.inference.rankable`)."""
        return rankable(self.lp_drop)

    @property
    def has_margins(self) -> bool:
        """Whether the files record the per-item margin (the format-free measure)."""
        return not self.items.empty and bool(self.items["margin"].notna().any())


def _lp_fraction(m: Any) -> np.ndarray:
    return (m("row", "after") - m("row", "before")) / (m("row", "start") - m("row", "before"))


def attack_cell(results: Iterable[Mapping[str, Any]], method: str, stats: CellStats) -> AttackCell:
    """The cell of one row from its attack files at the configured learning rates."""
    items = cell_items(results)
    opts = stats.bootstrap
    score = cluster_bootstrap(
        ClusteredSample.of({"row": measure(fs_items(items, method), "score")}),
        mean_of("row", "after"),
        **opts,
    )
    logprob = ClusteredSample.of({"row": measure(items, "logprob")})
    drop = cluster_bootstrap(logprob, lambda m: m("row", "start") - m("row", "before"), **opts)
    fraction = cluster_bootstrap(logprob, _lp_fraction, **opts) if drop.n else Estimate.missing()
    return AttackCell(items, score, fraction, cluster_bootstrap(logprob, gain_of("row"), **opts), drop)
