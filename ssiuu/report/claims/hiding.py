"""Claim 1: GD hides — its D− exceeds its D+ (Fig. 3), over the module type × layer cells of the heatmap."""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from ssiuu.report.analysis_inputs import read_influence
from ssiuu.report.claims.verdicts import Claim, Finding, analysis_dirs, interval_verdict, missing, sig
from ssiuu.report.inference import smallest_detectable_difference
from ssiuu.report.results import ResultFiles
from ssiuu.report.stats import CellStats, mean_interval


def influence_cells(influence_dir: Path) -> pd.DataFrame | None:
    """Per method, module and layer: ``plus`` (D̃+) and ``minus`` (D̃−) of the heatmap, mean over seeds."""
    heat = read_influence(influence_dir, "heatmap")
    if heat is None:
        return None
    mean = heat.groupby(["method", "sign", "module", "layer"])["value"].mean().unstack("sign")
    return mean.dropna(subset=[c for c in ("plus", "minus") if c in mean]).reset_index()


def top_k_sums(influence_dir: Path, method: str, k: int) -> dict[str, float]:
    """Fig. 3c: the sum of the top-k D̃+ and D̃− of ``method`` (mean over seeds); NaN where missing."""
    cum = read_influence(influence_dir, "cumulative")
    out = {"plus": math.nan, "minus": math.nan}
    if cum is None:
        return out
    for sign in out:
        sel = cum[(cum["method"] == method) & (cum["sign"] == sign) & (cum["m"] <= k)]
        if not sel.empty:
            out[sign] = float(sel.sort_values("m").groupby("seed", dropna=False)["cumulative"].last().mean())
    return out


def hiding_finding(where: str, influence_dir: Path, method: str, top_k: int, stats: CellStats) -> Finding:
    """Claim 1 on one (benchmark, model): the paired D̃− − D̃+ over the heatmap cells of ``method``."""
    cells = influence_cells(influence_dir)
    if cells is None or not {"plus", "minus"} <= set(cells.columns):
        return missing(where, f"no influence heatmap with both directions in {influence_dir}")
    mine = cells[cells["method"] == method]
    if mine.empty:
        return missing(where, f"{method} not in the influence results")
    diff = (mine["minus"] - mine["plus"]).to_numpy(dtype=float)
    iv = mean_interval(list(diff), **stats.bootstrap)
    se = float(diff.std(ddof=1) / math.sqrt(diff.size)) if diff.size > 1 else math.nan
    mdd = smallest_detectable_difference(se, int(diff.size), stats.alpha)
    sums = top_k_sums(influence_dir, method, top_k)
    text = (
        f"mean over module×layer cells of D̃− − D̃+ = {sig(iv.value)} "
        f"[{sig(iv.low)}, {sig(iv.high)}] (n = {iv.n} cells; D̃− larger in {int((diff > 0).sum())}); "
        f"Fig. 3c top-{top_k} sums D̃− {sig(sums['minus'])} vs D̃+ {sig(sums['plus'])}; smallest detectable "
        f"difference {sig(mdd)} (80 % power); one comparison, no multiplicity"
    )
    data = {
        "difference": asdict(iv),
        "cells_minus_larger": int((diff > 0).sum()),
        "top_k": top_k,
        "top_k_sum_minus": sums["minus"],
        "top_k_sum_plus": sums["plus"],
        "method": method,
        "smallest_detectable_difference": mdd,
    }
    return Finding(where, interval_verdict(iv), text, data)


def claim_hiding(
    results: ResultFiles,
    *,
    top_k: int,
    stats: CellStats,
    method: str = "GD",
) -> Claim:
    """Claim 1: GD hides (its D− exceeds its D+), on every analysed (benchmark, model)."""
    dirs = analysis_dirs(results)
    findings = [hiding_finding(where, d / "influence", method, top_k, stats) for where, d in dirs]
    if not findings:
        findings = [missing("all benchmarks", "no analysis/ directory under the results")]
    how = (
        "paired bootstrap over the module×layer cells of the influence heatmap (mean of the top-k D̃ per cell), "
        f"{stats.level} interval; smallest detectable difference from TTestPower at the cells' SD"
    )
    return Claim.from_findings(1, f"{method} hides: D− exceeds D+ (Fig. 3)", findings, how)
