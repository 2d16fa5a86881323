"""Claim 2: SSIUU has the lowest harmful-attack score and the lowest recovered fraction, per attack cell."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from ssiuu.report.attack_cells import cell_difference
from ssiuu.report.results import STYLES, AttackGrid, ResultFiles, collect_base
from ssiuu.report.stats import CellStats, Interval
from ssiuu.report.table_data import aggregate_table
from ssiuu.report.verdicts import (
    INCONCLUSIVE,
    NOT_SUPPORTED,
    SUPPORTED,
    Claim,
    Finding,
    fmt_interval,
    missing,
)


@dataclass(frozen=True)
class Comparison:
    """SSIUU minus one baseline in one attack cell: score (fraction) and recovered fraction, each with its CI."""

    baseline: str
    score: Interval
    recovered: Interval
    rankable: bool  # both recovered fractions rest on a large enough log-probability drop


def compare_cells(
    ours: Any, others: Mapping[str, Any], *, min_drop: float, opts: Mapping[str, Any]
) -> list[Comparison]:
    """:func:`cell_difference` of ``ours`` against each baseline's :class:`AttackCell`."""
    out = []
    for name, cell in others.items():
        score, recovered = cell_difference(ours, cell, **opts)
        out.append(Comparison(name, score, recovered, ours.stable(min_drop) and cell.stable(min_drop)))
    return out


def _above(iv: Interval) -> bool:
    return iv.low > 0  # False for NaN


def _below(iv: Interval) -> bool:
    return iv.high < 0


def lowest_verdict(comparisons: Sequence[Comparison]) -> str:
    """Claim 2 on one cell: every difference below 0 → supported; a baseline significantly lower → not."""
    if any(_above(c.score) or (c.rankable and _above(c.recovered)) for c in comparisons):
        return NOT_SUPPORTED
    lower = all(_below(c.score) and c.rankable and _below(c.recovered) for c in comparisons)
    return SUPPORTED if comparisons and lower else INCONCLUSIVE


def _weakest(comparisons: Sequence[Comparison], attr: str) -> Comparison:
    """The comparison whose interval reaches highest (the one closest to contradicting the claim)."""
    return max(
        comparisons, key=lambda c: -math.inf if math.isnan(getattr(c, attr).high) else getattr(c, attr).high
    )


def lowest_text(ours: Any, comparisons: Sequence[Comparison], method: str) -> str:
    """Claim 2's sentence on one cell: our score and fraction, then the baselines closest to them."""
    s, r = _weakest(comparisons, "score"), _weakest(comparisons, "recovered")
    unranked = [c.baseline for c in comparisons if not c.rankable]
    text = (
        f"{method} score {fmt_interval(ours.score, 1, 100)} % (n = {ours.score.n} items, {ours.runs} runs), "
        f"recovered {fmt_interval(ours.recovered)}; closest baselines: {s.baseline} Δ score "
        f"{fmt_interval(s.score, 1, 100)} points, {r.baseline} Δ recovered {fmt_interval(r.recovered)}"
    )
    return text + (
        f"; recovered fraction not ranked for {', '.join(unranked)} (drop too small)" if unranked else ""
    )


def _comparison_data(c: Comparison) -> dict[str, Any]:
    return {
        "baseline": c.baseline,
        "score": asdict(c.score.scaled(100)),
        "recovered": asdict(c.recovered),
        "rankable": c.rankable,
    }


def lowest_findings(
    table: pd.DataFrame, keys: Sequence[str], *, method: str, min_drop: float, opts: Mapping[str, Any]
) -> list[Finding]:
    """Claim 2 per (benchmark, model, harmful attack) of one aggregated table (:func:`aggregate_table`)."""
    findings = []
    for (bench, model), grp in table.groupby(["benchmark", "model"], sort=False):
        rows = grp[(grp["method"] != "Default") & ~grp["reference"].astype(bool)].set_index("method")
        for key in keys:
            where = f"{bench}/{model} harmful p={key.removeprefix('harmful_p')}"
            if method not in rows.index or f"{key}_cell" not in rows.columns:
                findings.append(missing(where, f"no {method} attack results"))
                continue
            ours = rows.loc[method, f"{key}_cell"]
            others = {m: c for m, c in rows[f"{key}_cell"].items() if m != method and c.runs}
            if not ours.runs or not others:
                what = "any baseline" if ours.runs else method
                findings.append(missing(where, f"no per-item attack results ('curve') for {what}"))
                continue
            comparisons = compare_cells(ours, others, min_drop=min_drop, opts=opts)
            data = {
                "score": asdict(ours.score.scaled(100)),
                "recovered": asdict(ours.recovered),
                "runs": ours.runs,
                "comparisons": [_comparison_data(c) for c in comparisons],
            }
            findings.append(
                Finding(where, lowest_verdict(comparisons), lowest_text(ours, comparisons, method), data)
            )
    return findings


def claim_lowest_attack(
    results: ResultFiles,
    *,
    methods: Sequence[str],
    grid: AttackGrid,
    stats: CellStats,
    method: str = "SSIUU",
) -> Claim:
    """Claim 2: SSIUU's harmful-attack cells are below every baseline's, in score and in recovered fraction."""
    opts = stats.bootstrap
    keys = grid.harmful_keys
    findings = []
    for style in STYLES:
        if style not in set(collect_base(results)["style"]):
            continue
        table = aggregate_table(results, style, methods=methods, grid=grid, stats=stats)
        findings += lowest_findings(table, keys, method=method, min_drop=stats.min_logprob_drop, opts=opts)
    how = (
        f"{method} minus each baseline, per harmful attack: bootstrap over evaluation items pooled over runs "
        f"(independent samples), {stats.confidence:.0%} interval; score in points of %"
    )
    return Claim.from_findings(
        2, f"{method} has the lowest harmful-attack score and the lowest recovered fraction", findings, how
    )
