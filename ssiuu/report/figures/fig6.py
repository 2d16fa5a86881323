"""Fig. 6: attribution distributions before and after the harmful attack, and Pearson ρ per method."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.patches import Patch

from ssiuu.report.analysis_inputs import HISTOGRAM_FILE, analysis_pairs, read_distributions
from ssiuu.report.figures import common
from ssiuu.report.paper_values import PAPER_RHO
from ssiuu.report.results import ResultFiles

STATE_COLORS = {"base": "#4d4d4d", "unlearned": "#d62728", "attacked": "#1f77b4"}
NO_HISTOGRAMS = f"{HISTOGRAM_FILE} missing"


# --------------------------------------------------------------------------------------------- ρ
def _rho_by_method(rho: pd.DataFrame | None) -> dict[str, tuple[float, float, int]]:
    """method -> (mean ρ, sample std or NaN for one value, number of seeds)."""
    out: dict[str, tuple[float, float, int]] = {}
    if rho is None:
        return out
    for method, g in rho.groupby("method"):
        v = g["rho"].to_numpy(dtype=float)
        out[str(method)] = (float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else math.nan, v.size)
    return out


def _rho_for_seed(rho: pd.DataFrame | None, method: str, seed: Any) -> float | None:
    if rho is None or seed is None:
        return None
    hit = rho[(rho["method"] == method) & (rho["seed"] == seed)]
    return float(hit["rho"].iloc[0]) if not hit.empty else None


def _rho_legend(rho_by: Mapping[str, tuple[float, float, int]]) -> str:
    ns = sorted({n for _, _, n in rho_by.values()})
    if ns[-1] == 1:
        return "ρ of this run (bars): one unlearning seed, so no spread"
    span = str(ns[-1]) if len(ns) == 1 else f"{ns[0]}–{ns[-1]}"
    return f"ρ of this run (bars): mean over {span} seeds, ± std where ≥ 2"


def _draw_rho_bars(
    ax: Axes, rho_by: Mapping[str, tuple[float, float, int]], names: list[str], colors: Mapping[str, str]
) -> None:
    x = np.arange(len(names))
    means = [rho_by[m][0] for m in names]
    ax.bar(x, means, 0.6, color=[colors[m] for m in names])
    for i, m in enumerate(names):
        if rho_by[m][2] >= 2:
            ax.errorbar(i, means[i], yerr=rho_by[m][1], fmt="none", ecolor="black", capsize=3, lw=1)
    quoted = [(i, PAPER_RHO[m]) for i, m in enumerate(names) if m in PAPER_RHO]
    if quoted:
        ax.scatter(
            [q[0] for q in quoted],
            [q[1] for q in quoted],
            marker="D",
            facecolors="none",
            edgecolors="black",
            zorder=3,
            label="paper (Llama-3.2-3B, FaithUn), quoted",
        )
    for i, v in enumerate(means):
        inside = v > 0.15
        ax.text(
            i,
            v - 0.03 if inside else v + 0.03,
            f"{v:.2f}",
            ha="center",
            va="top" if inside else "bottom",
            fontsize=8,
            color="white" if inside else "black",
        )
    ax.set_ylim(min(0.0, min(means) - 0.1), 1.15)
    ax.set_ylabel("Pearson ρ (pre vs post attack)")
    ax.grid(axis="y", alpha=0.3)


# --------------------------------------------------------------------------------------------- distributions
def _drawn_bins(df: pd.DataFrame) -> tuple[pd.DataFrame, float | None]:
    """The bins to draw and the fraction of values outside them (``None`` when the file does not say).
    Histograms marked ``edge_clipped`` hold the clipped tails in their edge bins: those two bins are not
    drawn, and their share is the fraction outside the drawn range."""
    width = df["bin_right"] - df["bin_left"]
    if df["edge_clipped"].any() and len(df) > 2:
        edge = (df["density"] * width).iloc[[0, -1]].sum()
        return df.iloc[1:-1], float(edge)
    if df["n_below"].notna().any():
        return df, max(0.0, 1.0 - float((df["density"] * width).sum()))
    return df, None


def _distribution_curves(
    hist: pd.DataFrame, method: str, attack_p: float
) -> tuple[Any, list[tuple[str, pd.DataFrame, str]]]:
    """(seed shown, [(label, bins, state)]) of one method: its lowest seed and the matching base rows."""
    sel = hist[hist["method"] == method]
    seed = sel["seed"].dropna().min() if sel["seed"].notna().any() else None
    if seed is not None:
        sel = sel[sel["seed"] == seed]
    base = hist[hist["state"] == "base"]  # shared base rows, or base rows repeated per method
    if base["method"].eq(method).any():
        base = base[base["method"] == method]
    if base["seed"].notna().any() and seed is not None and (base["seed"] == seed).any():
        base = base[base["seed"] == seed]
    curves = [
        ("Original", base, "base"),
        ("Unlearned", sel[sel["state"] == "unlearned"], "unlearned"),
        (f"After harmful attack (p = {attack_p:g})", sel[sel["state"] == "attacked"], "attacked"),
    ]
    return seed, [c for c in curves if not c[1].empty]


def _draw_distributions(ax: Axes, curves: list[tuple[str, pd.DataFrame, str]], unit: str) -> None:
    outside, lowest = [], math.inf
    for name, df, state in curves:
        df, frac = _drawn_bins(df.drop_duplicates(subset=["bin_left", "bin_right"]).sort_values("bin_left"))
        lowest = min(lowest, float(df["density"][df["density"] > 0].min()))
        ax.plot(
            (df["bin_left"] + df["bin_right"]) / 2,
            df["density"].where(df["density"] > 0),  # empty bins: a gap, not a spike on the log axis
            color=STATE_COLORS[state],
            lw=1.3,
            ls="--" if state == "base" else "-",
            label=name,
        )
        if frac is not None:
            outside.append(f"{'original' if state == 'base' else state} {100 * frac:.2f} %")
    ax.set_yscale("log")
    if outside:  # in a band below the lowest drawn density, so that it covers no curve
        ax.set_ylim(bottom=lowest / 50 if math.isfinite(lowest) else None)
        ax.text(
            0.5,
            0.02,
            "beyond the x range, not drawn:\n" + ", ".join(outside),
            transform=ax.transAxes,
            ha="center",
            va="bottom",
            fontsize=6.5,
            color="0.3",
        )
    ax.set_xlabel(f"Neuron attribution ({unit})")
    ax.set_ylabel("Density (log scale)")
    ax.grid(alpha=0.3)


def _distribution_title(
    letter: str, method: str, seed: Any, rho: float | None, labels: Mapping[str, str] | None
) -> str:
    title = f"({letter}) {common._label(labels, method)}"
    if seed is not None:
        title += f", seed {int(seed)}"
    return title + (f"  (ρ = {rho:.2f})" if rho is not None else "")


# --------------------------------------------------------------------------------------------- panels
def _distribution_panel(
    ax: Axes, letter: str, method: str, loaded: tuple[Any, Any], spec: Mapping[str, Any]
) -> None:
    """One method's distributions (its lowest seed) with that seed's ρ in the title.
    ``spec``: where, labels, attack_p, unit, legend."""
    hist, rho = loaded
    where, labels = spec["where"], spec["labels"]
    if hist is None:
        common.skip_panel(ax, f"({letter}) {common._label(labels, method)}\n{where}", NO_HISTOGRAMS)
        return
    seed, curves = _distribution_curves(hist, method, spec["attack_p"])
    rho_seed = _rho_for_seed(rho, method, seed)
    rho_by = _rho_by_method(rho)
    if rho_seed is None and rho_by.get(method, (0, 0, 0))[2] == 1:
        rho_seed = rho_by[method][0]
    title = f"{_distribution_title(letter, method, seed, rho_seed, labels)}\n{where}"
    if not any(state != "base" for _, _, state in curves):
        common.skip_panel(ax, title, f"no distribution rows for {method}")
        return
    _draw_distributions(ax, curves, spec["unit"])
    ax.set_title(title)
    common._collect_legend(spec["legend"], ax)


def _rho_panel(ax: Axes, letter: str, rho: pd.DataFrame | None, spec: Mapping[str, Any]) -> None:
    """Pearson ρ per method (mean ± std over seeds), the paper's quoted ρ as hollow markers.
    ``spec``: where, labels, methods, colors, legend."""
    rho_by = _rho_by_method(rho)
    title = f"({letter}) Pre- vs post-attack correlation\n{spec['where']}"
    if not rho_by:
        common.skip_panel(ax, title, "no correlation (ρ) results")
        return
    names = common._ordered(list(rho_by), spec["methods"])
    colors = spec["colors"]
    bar_colors = colors | {m: c for m, c in common.method_colors(names).items() if m not in colors}
    _draw_rho_bars(ax, rho_by, names, bar_colors)
    ticks = [common._label(spec["labels"], m) for m in names]
    ax.set_xticks(np.arange(len(names)), ticks, rotation=30 if len(names) > 5 else 0)
    ax.set_title(title)
    spec["legend"].setdefault(_rho_legend(rho_by), Patch(facecolor="0.55"))
    common._collect_legend(spec["legend"], ax)


def _shown_methods(loaded: Mapping[Any, tuple[Any, Any]], methods: Sequence[str] | None) -> list[str]:
    """The methods with histograms anywhere (``methods`` first), else ``methods``."""
    found = sorted(
        {m for h, _ in loaded.values() if h is not None for m in h.loc[h["state"] != "base", "method"]}
    )
    return common._ordered(found, methods) or list(methods or [])


@common._with_style
def fig6_distributions(
    results: ResultFiles,
    out_dir: str | Path,
    *,
    attribution_target: str = "prob",
    methods: Sequence[str] | None = None,
    attack_p: float = 0.1,
    labels: Mapping[str, str] | None = None,
    stem: str = "fig6_distributions",
) -> list[Path]:
    """Fig. 6: one panel per method with the attribution distributions of the original, unlearned and attacked
    (harmful, p = ``attack_p``) models (the method's lowest seed, its ρ in the title; values outside the x range
    are not drawn and their share is written in the panel), then Pearson ρ between pre- and post-attack
    attributions per method (one seed: the value; several: mean ± std), with the paper's quoted ρ as hollow
    markers. Panels are lettered (a), (b), … across the figure; one row per analysed (benchmark, model)."""
    pairs = analysis_pairs(results) or [("", "")]
    analysis = {pair: results.root / pair[0] / pair[1] / "analysis" for pair in pairs}
    loaded = {pair: read_distributions(analysis[pair]) if pair[0] else (None, None) for pair in pairs}
    shown = _shown_methods(loaded, methods)
    n_cols = max(1, len(shown)) + 1
    fig = common._new_figure(3.6 * n_cols + 0.4, 3.5 * len(pairs) + 0.9)
    axes = fig.subplots(len(pairs), n_cols, squeeze=False)
    legend: dict[str, Any] = {}
    spec = {"labels": labels, "methods": methods, "colors": common.method_colors(shown), "legend": legend}
    spec |= {"attack_p": attack_p, "unit": common.ATTRIBUTION_UNITS[attribution_target]}
    for r, (row, pair) in enumerate(zip(axes, pairs, strict=True)):
        letters = [chr(97 + r * n_cols + i) for i in range(n_cols)]
        row_spec = spec | {"where": common._where(labels, *pair)}
        if not shown:
            common.skip_panel(row[0], f"({letters[0]}) distributions\n{row_spec['where']}", NO_HISTOGRAMS)
        for i, (ax, method) in enumerate(zip(row[:-1], shown, strict=False)):
            _distribution_panel(ax, letters[i], method, loaded[pair], row_spec)
        _rho_panel(row[-1], letters[-1], loaded[pair][1], row_spec)
    if legend:
        ncols = min(5, len(legend))
        fig.legend(
            list(legend.values()), list(legend), loc="outside lower center", ncols=ncols, frameon=False
        )
    fig.suptitle("Fig. 6 — Attribution distributions before and after the harmful attack", fontweight="bold")
    return common.save_figure(fig, out_dir, stem)
