"""The cells of Tables 1-2 (no rendering here): scores with Wilson intervals, the ‡ test, the attack cells and
the margin measures against the attacked reference (:mod:`ssiuu.report.inference`).

* FS, RS and US are proportions of items (0/1 answers, or ROUGE-L recalls in [0, 1]): their interval is the
  Wilson interval over the distinct items (several seeds score the same items: the value is their mean, n
  counts each item once), which does not collapse at 0 or 100 %.
* ‡ (degraded): RS or US below 80 % of the starting model's **and** significantly lower on the same items
  (:func:`ssiuu.report.inference.paired_loss_test`: exact McNemar for one checkpoint's 0/1 answers, Wilcoxon
  signed-rank for recalls or seed means; Fisher's exact test on counts where per-item utility outcomes
  were not recorded), at level 1 − confidence.
* Attack cells: :mod:`ssiuu.report.attack_cells`. The margin measures pair the row with the attacked
  reference (``Start``) on the draws and items both score: recovered share (a − u) / (R − u) and difference
  in differences (a − u) − (R_after − R_before), docs/results.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ssiuu.data.records import ITEM_SCORE, BenchmarkSplit
from ssiuu.io import read_json
from ssiuu.references import HIDER as _HIDER
from ssiuu.references import NEVER_LEARNED, START
from ssiuu.report.attack_cells import AttackCell, attack_cell, measure
from ssiuu.report.inference import (
    ClusteredSample,
    Estimate,
    LossTest,
    cluster_bootstrap,
    count_loss_test,
    did_of,
    difference,
    paired_loss_test,
    proportion_estimate,
    rankable,
    room_of,
    share_of,
    wilson,
)
from ssiuu.report.results import ResultError, lr_matches
from ssiuu.report.stats import CellStats

SCORES = ("FS", "RS", "US")
#: ‡: the share of the starting model's RS or US below which a significant loss marks a model degraded
DEGRADED_BELOW = 0.8
#: the controls (ssiuu.references), in table order after the methods
HIDER, ERASER, REFERENCE = _HIDER, NEVER_LEARNED, START
CONTROLS = (HIDER, ERASER, REFERENCE)


def fs_ids(split_path: Path) -> list[str]:
    """The ids FS is scored on: the split's forget base questions (every forget QA for ROUGE benchmarks)."""
    return [r.id for r in BenchmarkSplit.load(split_path).forget_train]


# --------------------------------------------------------------------------------------------- FS, RS, US
def item_means(
    results: Sequence[Mapping[str, Any]], part: str, key: str, ids: Sequence[str] | None = None
) -> pd.Series:
    """Per item id of ``per_item[part]``: its ``key`` averaged over the results (seeds)."""
    wanted = set(ids) if ids is not None else None
    rows = [
        (e["id"], float(e[key]))
        for r in results
        for e in (r.get("per_item") or {}).get(part, [])
        if key in e and e[key] is not None and (wanted is None or e["id"] in wanted)
    ]
    if not rows:
        return pd.Series(dtype=float)
    return pd.DataFrame(rows, columns=["id", "v"]).groupby("id", sort=True)["v"].mean()


def rs_part(style: str) -> str:
    """RS is the test-set score on MCQA benchmarks (the paper's Table 1), the retain-set score on ROUGE ones."""
    return "test" if style == "mcqa" else "retain"


def utility_items(results: Sequence[Mapping[str, Any]], style: str) -> pd.Series:
    """Per utility item (``task/index``), its outcome averaged over seeds: ROUGE's ``per_item['utility/…']``,
    MCQA's ``utility.item_correct`` (lm-eval's per-sample accuracy); empty where not recorded."""
    if style == "rouge":
        parts = sorted({p for r in results for p in (r.get("per_item") or {}) if p.startswith("utility/")})
        series = [item_means(results, p, ITEM_SCORE[style]).rename(lambda i, p=p: f"{p}/{i}") for p in parts]
        return pd.concat(series) if series else pd.Series(dtype=float)
    rows = [
        (f"{task}/{i}", float(v))
        for r in results
        for task, values in ((r.get("utility") or {}).get("item_correct") or {}).items()
        for i, v in enumerate(values)
    ]
    frame = pd.DataFrame(rows, columns=["id", "v"])
    return frame.groupby("id", sort=True)["v"].mean() if rows else pd.Series(dtype=float)


def utility_count(results: Sequence[Mapping[str, Any]]) -> tuple[float, int]:
    """(US averaged over seeds, its utility items per seed) from lm-eval's task summary."""
    values = [float(r["US"]) for r in results if r.get("US") is not None]
    n = max(
        (sum(int(v) for v in ((r.get("utility") or {}).get("n_items") or {}).values()) for r in results),
        default=0,
    )
    return (float(np.mean(values)) if values else math.nan), n


def utility_estimate(results: Sequence[Mapping[str, Any]], style: str, confidence: float) -> Estimate:
    """US with the Wilson interval over its items (per-item outcomes, else the task summary's counts)."""
    items = utility_items(results, style)
    if not items.empty:
        return proportion_estimate(list(items), confidence)
    us, n = utility_count(results)
    if math.isnan(us) or n < 1:
        return Estimate(us)
    low, high = wilson(us * n, n, confidence)
    return Estimate(us, low, high, n)


def score_estimates(
    results: Sequence[Mapping[str, Any]], style: str, forget_ids: Sequence[str], confidence: float
) -> dict[str, Estimate]:
    """FS, RS and US of a row (its seeds' ``unlearn.json`` or one ``base.json``), as fractions."""
    key = ITEM_SCORE[style]
    fs = item_means(results, "forget", key, forget_ids)
    rs = item_means(results, rs_part(style), key)
    return {
        "FS": proportion_estimate(list(fs), confidence),
        "RS": proportion_estimate(list(rs), confidence),
        "US": utility_estimate(results, style, confidence),
    }


# --------------------------------------------------------------------------------------------- ‡
@dataclass(frozen=True)
class Degradation:
    """The ‡ decision of a row: whether it is degraded, and the test behind each score."""

    degraded: bool
    tests: Mapping[str, LossTest]

    def text(self) -> str:
        """``RS: exact McNemar p = 0.14; US: …``."""
        return "; ".join(f"{x}: {t.name} p = {t.p:.2g}" for x, t in self.tests.items())


def _paired(model: pd.Series, start: pd.Series) -> LossTest | None:
    shared = model.index.intersection(start.index)
    return paired_loss_test(list(model[shared]), list(start[shared])) if len(shared) else None


def _utility_test(
    results: Sequence[Mapping[str, Any]], base: Mapping[str, Any], style: str
) -> LossTest | None:
    test = _paired(utility_items(results, style), utility_items([base], style))
    if test is not None or style == "rouge":
        return test
    (us, n), (us0, n0) = utility_count(results), utility_count([base])
    if math.isnan(us) or math.isnan(us0) or not (n and n0):
        return None
    return count_loss_test((round(us * n), n), (round(us0 * n0), n0))


def degradation(
    results: Sequence[Mapping[str, Any]],
    base: Mapping[str, Any],
    row: Mapping[str, Estimate],
    start: Mapping[str, Estimate],
    *,
    style: str,
    alpha: float,
) -> Degradation:
    """‡ when RS or US is below :data:`DEGRADED_BELOW` of the start's and significantly lower (module doc)."""
    key = ITEM_SCORE[style]
    part = rs_part(style)
    tests = {
        "RS": _paired(item_means(results, part, key), item_means([base], part, key)),
        "US": _utility_test(results, base, style),
    }
    tests = {x: t for x, t in tests.items() if t is not None}
    degraded = any(
        row[x].value < DEGRADED_BELOW * start[x].value and t.lower and t.p < alpha for x, t in tests.items()
    )
    return Degradation(degraded, tests)


# --------------------------------------------------------------------------------------------- attacks
def attack_cells(
    attacks: pd.DataFrame,
    keys: Sequence[str],
    lrs: Mapping[str, Sequence[float]],
    method: str,
    stats: CellStats,
) -> dict[str, AttackCell]:
    """Per attack key, the row's :class:`AttackCell` from its attack files at the configured learning rates."""
    cells = {}
    for key in keys:
        sel = attacks[attacks["key"] == key]
        wanted = lrs["benign" if key == "benign" else "harmful"]
        if method not in CONTROLS:  # the controls run the configured rates only, never a sweep's extras
            _require_every_rate(sel, wanted, method, key)
        paths = [p for p, lr in zip(sel["path"], sel["lr"], strict=True) if lr_matches(lr, wanted)]
        cells[key] = attack_cell((read_json(p) for p in paths), method, stats)
    return cells


def _require_every_rate(sel: pd.DataFrame, wanted: Sequence[float], method: str, key: str) -> None:
    """Every (seed, draw) of a cell has a result at every configured learning rate, else a ResultError."""
    for (seed, run), grp in sel.groupby(["seed", "run"]):
        absent = [lr for lr in wanted if not lr_matches(lr, grp["lr"])]
        if absent and any(lr_matches(lr, wanted) for lr in grp["lr"]):
            raise ResultError(
                f"{method}/seed{seed}: attack {key} run {run} has no result for learning rate(s) "
                f"{', '.join(f'{x:.0e}' for x in absent)}; re-run the attack rules (or pass the learning rates "
                "that were run)"
            )


def cell_columns(name: str, estimate: Estimate, scale: float = 100.0) -> dict[str, float]:
    """``name``, ``name_low``, ``name_high`` and ``name_n`` of an estimate, scaled (percent by default)."""
    iv = estimate.scaled(scale)
    return {name: iv.value, f"{name}_low": iv.low, f"{name}_high": iv.high, f"{name}_n": iv.n}


def attack_columns(key: str, cell: AttackCell) -> dict[str, Any]:
    """The columns of one attack cell: FS after the attack (percent), its (seed, draw) runs and distinct items,
    and the secondary log-probability fraction, gain and whether the fraction ranks (Fieller)."""
    return (
        cell_columns(key, cell.score)
        | {f"{key}_runs": cell.runs, f"{key}_items": cell.score.units.items}
        | cell_columns(f"{key}_recovered", cell.lp_fraction, 1.0)
        | cell_columns(f"{key}_gain", cell.lp_gain, 1.0)
        | {f"{key}_stable": cell.lp_rankable, f"{key}_drop": cell.lp_drop.value}
    )


def margin_sample(cells: Mapping[str, AttackCell]) -> ClusteredSample:
    """The margins of several rows' cells on the (draw, item) pairs they all score."""
    return ClusteredSample.of({name: measure(c.items, "margin") for name, c in cells.items()})


@dataclass(frozen=True)
class MarginMeasures:
    """A row's recovered share and difference in differences against the attacked reference, the share's
    denominator (the rule of :func:`ssiuu.report.inference.rankable`) and the shared units."""

    share: Estimate
    did: Estimate
    room: Estimate

    @property
    def rankable(self) -> bool:
        """Whether the share can be ranked: its denominator's interval lies above 0."""
        return rankable(self.room)


def margin_measures(
    cell: AttackCell, reference: AttackCell | None, stats: CellStats
) -> MarginMeasures | None:
    """:class:`MarginMeasures` of ``cell`` against the attacked reference; None without margins on both."""
    if reference is None or not (cell.has_margins and reference.has_margins):
        return None
    sample = margin_sample({"row": cell, "ref": reference})
    opts = stats.bootstrap
    return MarginMeasures(
        cluster_bootstrap(sample, share_of("row", "ref"), **opts),
        cluster_bootstrap(sample, did_of("row", "ref"), **opts),
        cluster_bootstrap(sample, room_of("row", "ref"), **opts),
    )


def margin_columns(key: str, measures: MarginMeasures | None) -> dict[str, Any]:
    """``<key>_share`` and ``<key>_did`` (each with _low/_high/_n), ``<key>_share_rankable`` and the shared
    units ``<key>_shared_items`` / ``<key>_shared_draws``; NaN (not available) without margins."""
    if measures is None:
        missing = Estimate.missing()
        return (
            cell_columns(f"{key}_share", missing, 1.0)
            | cell_columns(f"{key}_did", missing, 1.0)
            | {f"{key}_share_rankable": False, f"{key}_shared_items": 0, f"{key}_shared_draws": 0}
        )
    return (
        cell_columns(f"{key}_share", measures.share, 1.0)
        | cell_columns(f"{key}_did", measures.did, 1.0)
        | {
            f"{key}_share_rankable": measures.rankable,
            f"{key}_shared_items": measures.share.units.items,
            f"{key}_shared_draws": measures.share.units.draws,
        }
    )


def separation(
    hider: AttackCell | None, eraser: AttackCell | None, reference: AttackCell | None, stats: CellStats
) -> Estimate:
    """The instrument's separation on one attack: the hider's recovered share minus the known eraser's (ROUGE
    benchmarks), or the hider's share against 0 where no eraser exists (MCQA), paired on shared draws/items."""
    cells = {"hider": hider, "ref": reference} | ({"eraser": eraser} if eraser is not None else {})
    if any(c is None or not c.has_margins for c in cells.values()):
        return Estimate.missing()
    sample = margin_sample(cells)  # type: ignore[arg-type]
    statistic = share_of("hider", "ref")
    if eraser is not None:
        statistic = difference(statistic, share_of("eraser", "ref"))
    return cluster_bootstrap(sample, statistic, **stats.bootstrap)


def margin_sees_unlearning(
    hider: AttackCell | None, reference: AttackCell | None, stats: CellStats
) -> Estimate:
    """The margin's validity on one attack's items: the attacked reference's margin minus the known hider's,
    both before the attack, paired on shared draws and items. The hider was unlearned to the threshold from the
    reference, so a measure that sees what unlearning removed puts this above 0; at or below 0, a recovered
    share of the margin says nothing about the facts (docs/reading-results.md)."""
    cells = {"hider": hider, "ref": reference}
    if any(c is None or not c.has_margins for c in cells.values()):
        return Estimate.missing()
    sample = margin_sample(cells)  # type: ignore[arg-type]
    return cluster_bootstrap(sample, lambda m: m("ref", "before") - m("hider", "before"), **stats.bootstrap)


def row_methods(methods: Sequence[str], found: Iterable[str]) -> list[str]:
    """Table rows after Default: the configured methods, then the controls that were run (Hider, NeverLearned,
    Start)."""
    found = set(found)
    return list(methods) + [c for c in CONTROLS if c in found and c not in methods]
