"""Fig. 3: cumulative influence variations D̃+ and D̃− over the top-m neurons, and the top-k sums."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ssiuu.report.analysis_inputs import analysis_pairs, read_influence
from ssiuu.report.figures import common
from ssiuu.report.results import ResultFiles


def _seed_mean_curves(cum: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds per (method, sign, m), keeping only m values every seed has."""
    out = []
    for (method, sign), g in cum.groupby(["method", "sign"]):
        n_seeds = g["seed"].nunique(dropna=False)
        agg = g.groupby("m")["cumulative"].agg(["mean", "count"]).reset_index()
        agg = agg[agg["count"] == n_seeds]
        out.append(agg.assign(method=method, sign=sign, n_seeds=n_seeds))
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=["method", "sign", "m", "mean"])


def _curve(curves: pd.DataFrame, method: str, sign: str) -> pd.DataFrame:
    return curves[(curves["method"] == method) & (curves["sign"] == sign)].sort_values("m")


def _fig3_curves(
    ax: Axes,
    curves: pd.DataFrame,
    found: Sequence[str],
    sign: str,
    title: str,
    labels: Mapping[str, str] | None,
    unit: str,
) -> None:
    """(a, b) one cumulative curve per method for one direction."""
    colors = common.method_colors(found)
    for method in found:
        c = _curve(curves, method, sign)
        if c.empty:
            continue
        ax.plot(
            c["m"],
            c["mean"],
            color=colors[method],
            lw=2.2 if method.upper() == "SSIUU" else 1.4,
            ls="-" if sign == "minus" else ":",
            label=common._label(labels, method),
        )
    ax.set_title(title)
    ax.set_xlabel("Top-m neurons (sorted by score)")
    ax.set_ylabel(f"Cumulative influence variation\n(Σ D̃, attribution in {unit})")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", frameon=False)


def _fig3_bars(
    ax: Axes,
    curves: pd.DataFrame,
    found: Sequence[str],
    top_k: int,
    title: str,
    labels: Mapping[str, str] | None,
    unit: str,
) -> None:
    """(c) the sums over the top-``top_k`` neurons of D̃+ and D̃−, per method."""
    bars = []
    for method in found:
        vals = {}
        for sign in ("plus", "minus"):
            c = _curve(curves, method, sign)
            c = c[c["m"] <= top_k]
            vals[sign] = float(c["mean"].iloc[-1]) if not c.empty else math.nan
        bars.append((method, vals["plus"], vals["minus"]))
    x = np.arange(len(bars))
    plus, minus = [b[1] for b in bars], [b[2] for b in bars]
    ax.bar(
        x - 0.2,
        plus,
        0.4,
        color="#9ecae1",
        edgecolor="#3182bd",
        hatch="..",
        label="D̃⁺ (positive influence removed)",
    )
    ax.bar(x + 0.2, minus, 0.4, color="#fc9272", edgecolor="#de2d26", label="D̃⁻ (negative influence added)")
    ax.set_xticks(x, [common._label(labels, b[0]) for b in bars], rotation=30 if len(bars) > 5 else 0)
    top = np.nanmax([v for b in bars for v in b[1:]] + [0.0])
    ax.set_ylim(0, 1.35 * top if top > 0 else 1.0)
    ax.set_ylabel(f"Σ over top-{top_k} neurons\n({unit})")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(frameon=False, loc="upper left")


def _fig3_row(
    row: Sequence[Axes],
    cum: pd.DataFrame | None,
    titles: Sequence[str],
    missing: str,
    methods: Sequence[str] | None,
    top_k: int,
    labels: Mapping[str, str] | None,
    unit: str,
) -> None:
    """One analysed (benchmark, model): the two cumulative panels and the top-k bars."""
    if cum is None:
        for ax, t in zip(row, titles, strict=True):
            common.skip_panel(ax, t, missing)
        return
    curves = _seed_mean_curves(cum)
    found = common._ordered(list(dict.fromkeys(curves["method"])), methods)
    _fig3_curves(row[0], curves, found, "plus", titles[0], labels, unit)
    _fig3_curves(row[1], curves, found, "minus", titles[1], labels, unit)
    row[1].sharey(row[0])
    _fig3_bars(row[2], curves, found, top_k, titles[2], labels, unit)


@common._with_style
def fig3_influence(
    results: ResultFiles,
    out_dir: str | Path,
    *,
    attribution_target: str = "prob",
    methods: Sequence[str] | None = None,
    top_k: int = 100,
    labels: Mapping[str, str] | None = None,
    stem: str = "fig3_influence",
) -> list[Path]:
    """Fig. 3: cumulative D̃+ (left) and D̃− (middle) over the top-m neurons, one line per method, and the
    top-``top_k`` sums as bars (right; the paper's Fig. 3c). One row per analysed (benchmark, model)."""
    pairs = analysis_pairs(results) or [("", "")]
    fig = common._new_figure(14, 3.8 * len(pairs) + 0.4)
    axes = fig.subplots(len(pairs), 3, squeeze=False)
    for row, (bench, model) in zip(axes, pairs, strict=True):
        where = common._where(labels, bench, model)
        titles = [
            f"Cumulative D̃⁺ (erasing)\n{where}",
            f"Cumulative D̃⁻ (spurious neurons)\n{where}",
            f"Top-{top_k} neurons: D̃⁺ vs D̃⁻\n{where}",
        ]
        influence = results.root / bench / model / "analysis" / "influence"
        cum = read_influence(influence, "cumulative") if bench else None
        missing = f"no influence results ({bench or 'no'}/{model or 'analysis'}/analysis/influence)"
        _fig3_row(
            row, cum, titles, missing, methods, top_k, labels, common.ATTRIBUTION_UNITS[attribution_target]
        )
    fig.suptitle("Fig. 3 — Influence variations after unlearning (solid: D̃⁻, dotted: D̃⁺)", fontweight="bold")
    return common.save_figure(fig, out_dir, stem)
