"""Fig. 7: the λ ablation of SSIUU and the attack learning-rate sweep, scores and recovered fractions."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ssiuu.data.records import ITEM_SCORE
from ssiuu.io import read_json
from ssiuu.report.aggregate import attack_cells, attack_columns, cell_columns
from ssiuu.report.calibration import calibration_rows
from ssiuu.report.figures import common
from ssiuu.report.inference import Estimate
from ssiuu.report.results import (
    AttackGrid,
    ResultError,
    ResultFiles,
    collect_attacks,
    collect_base,
)
from ssiuu.report.stats import CellStats, mean_interval
from ssiuu.report.table_data import collect_results

log = logging.getLogger(__package__)


def _split_interval(
    results: Sequence[Mapping[str, Any]], part: str, style: str, opts: Mapping[str, Any]
) -> Estimate:
    """Percent score of ``part`` (retain/test) over the seeds' per-item answers; without them, the seeds' mean
    score with no interval."""
    key = ITEM_SCORE[style]
    items = [float(e[key]) for r in results for e in (r.get("per_item") or {}).get(part, []) if key in e]
    if items:
        return mean_interval(items, **opts).scaled(100.0)
    scores = [float(r[f"{part}_score"]) for r in results if r.get(f"{part}_score") is not None]
    return Estimate(100.0 * float(np.mean(scores)) if scores else math.nan, n=len(scores))


def _lambda_rows(
    results: ResultFiles,
    bench: str,
    model: str,
    *,
    ablation_method: str,
    lambda_variants: Sequence[str] | None,
    grid: AttackGrid,
    stats: CellStats,
) -> pd.DataFrame:
    """Per λ: retain and test scores after unlearning and the harmful attack cells (percent; recovered
    fractions as fractions), each with ``_low`` / ``_high`` / ``_n``, over the seeds of that λ's run."""
    unlearned = collect_results(results, include_default=False)
    unlearned = unlearned[(unlearned["benchmark"] == bench) & (unlearned["model"] == model)]
    found = set(unlearned["method"])
    variants = (
        list(lambda_variants)
        if lambda_variants is not None
        else sorted(m for m in found if m.startswith(f"{ablation_method}-lambda"))
    )
    missing = [v for v in variants if v not in found]
    if missing:
        log.warning("%s/%s: λ-ablation runs %s not found (left out of Fig. 7a)", bench, model, missing)
    attacks = collect_attacks(results)
    keys = grid.harmful_keys
    opts = stats.bootstrap
    rows = []
    for method in [m for m in [ablation_method, *variants] if m in found]:
        sel = unlearned[unlearned["method"] == method]
        if sel["lambda"].isna().any():
            raise ResultError(
                f"{bench}/{model}: no λ for {method} (params.lambda_ missing and no -lambda<x> suffix)"
            )
        style = sel["style"].iloc[0]
        unlearn_results = [
            read_json(results.root / bench / model / method / f"seed{s}" / "unlearn.json")
            for s in sel["seed"]
        ]
        row: dict[str, Any] = {"lambda": float(sel["lambda"].iloc[0]), "method": method}
        for part in ("retain", "test"):
            row |= cell_columns(part, _split_interval(unlearn_results, part, style, opts), 1.0)
        mine = attacks[
            (attacks["benchmark"] == bench) & (attacks["model"] == model) & (attacks["method"] == method)
        ]
        for key, cell in attack_cells(
            mine, keys, {"harmful": grid.harmful_lrs, "benign": []}, method, stats
        ).items():
            row |= attack_columns(key, cell)
        rows.append(row)
    return pd.DataFrame(rows).sort_values("lambda").reset_index(drop=True) if rows else pd.DataFrame()


def _n_text(ns: pd.Series) -> str:
    vals = sorted({int(v) for v in ns.dropna() if v > 0})
    if not vals:
        return "n = 0"
    return f"n = {vals[0]}" if len(vals) == 1 else f"n = {vals[0]}–{vals[-1]}"


def _ci_line(
    ax: Axes, x: pd.Series, df: pd.DataFrame, col: str, style: tuple[str, str, str, str], scale: float = 1.0
) -> bool:
    """One series with its confidence intervals (none where undefined) and its n range at the line's end;
    returns whether anything was drawn."""
    name, color, marker, ls = style
    value, low, high = common._ci_arrays(df, col, scale)
    ok = np.isfinite(value)
    if not ok.any():
        return False
    n = _n_text(df[f"{col}_n"]) if f"{col}_n" in df.columns else ""
    xs = x.to_numpy(dtype=float)
    ax.plot(xs[ok], value[ok], color=color, marker=marker, ls=ls, lw=1.4, ms=5, label=name)
    common._ci_errorbars(ax, xs, value, low, high, color=color)
    if n:
        ax.annotate(
            n,
            (xs[ok][-1], value[ok][-1]),
            xytext=(4, 0),
            textcoords="offset points",
            fontsize=6.5,
            color=color,
            va="center",
        )
    return True


def _log_x_axes(
    ax: Axes, xlabel: str, ylabel: str, title: str, ylim: tuple[float, float] | None = (0, 105)
) -> None:
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if ylim:
        ax.set_ylim(*ylim)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.margins(x=0.15)


def _fig7_styles(grid: AttackGrid) -> dict[str, tuple[str, str, str, str]]:
    """One style per quantity, shared by all panels: (label, colour, marker, line style)."""
    styles = {
        "retain": ("Retain set (C_r) after unlearning", "#2ca02c", "o", "-"),
        "test": ("Test set (C_t) after unlearning", "#1f77b4", "s", "-"),
        "benign": ("Benign attack", "#6baed6", "D", ":"),
    }
    for j, (p, key) in enumerate(zip(grid.harmful_ps, grid.harmful_keys, strict=True)):
        styles[key] = (
            f"Harmful attack, p = {p:g}",
            ["#fd8d3c", "#d94701", "#7f2704"][j % 3],
            "^",
            "--",
        )
    return styles


def _fig7_lambda(
    axes: Sequence[Axes],
    lam: pd.DataFrame,
    keys: Sequence[str],
    styles: Mapping[str, Any],
    title: str,
    method: str,
) -> None:
    """(a) scores vs λ, (d) recovered fraction vs λ, for the λ runs of ``method``."""
    if lam.empty or len(lam) < 2:
        common.skip_panel(axes[0], f"(a) λ ablation\n{title}", f"fewer than two λ values of {method} found")
        common.skip_panel(
            axes[1], f"(d) λ ablation: recovered fraction\n{title}", f"fewer than two λ values of {method}"
        )
        return
    recovered = False
    for key in ["retain", "test", *keys]:
        if key in lam.columns:
            _ci_line(axes[0], lam["lambda"], lam, key, styles[key])
        if f"{key}_recovered" in lam.columns:
            recovered |= _ci_line(axes[1], lam["lambda"], lam, f"{key}_recovered", styles[key], 100.0)
    _log_x_axes(
        axes[0],
        "Regularisation weight λ (log scale)",
        "Score after unlearning /\nmax forget score after attack (%)",
        f"(a) λ ablation\n{title}",
    )
    if not recovered:
        common.skip_panel(axes[1], f"(d) λ ablation: recovered fraction\n{title}", common.NO_ITEMS)
        return
    _log_x_axes(
        axes[1],
        "Regularisation weight λ (log scale)",
        "Recovered (% of start − unlearned)",
        f"(d) λ ablation: recovered fraction\n{title}",
        None,
    )


#: line colours of the sweep's epoch counts, light (few epochs) to dark, per attack kind
_SWEEP_COLORS = {
    "harmful": ["#fdae6b", "#fd8d3c", "#e6550d", "#a63603", "#7f2704", "#4d1a02"],
    "benign": ["#9ecae1", "#6baed6", "#3182bd", "#08519c", "#08306b", "#041a3d"],
}


def _sweep_styles(rows: pd.DataFrame, fraction: float) -> dict[tuple[str, int], tuple[str, str, str, str]]:
    """One style per (kind, epoch count) of the sweep: colour darker with more epochs."""
    styles = {}
    for kind, marker, ls in (("harmful", "^", "--"), ("benign", "D", ":")):
        counts = sorted({int(e) for e in rows.loc[rows["kind"] == kind, "epochs"]})
        for i, epochs in enumerate(counts):
            what = f"Harmful attack, p = {fraction:g}" if kind == "harmful" else "Benign attack"
            unit = "epoch" if epochs == 1 else "epochs"
            color = _SWEEP_COLORS[kind][min(i, len(_SWEEP_COLORS[kind]) - 1)]
            styles[(kind, epochs)] = (f"{what}, {epochs} {unit}", color, marker, ls)
    return styles


def _fig7_sweep(
    axes: Sequence[Axes], rows: pd.DataFrame, titles: Sequence[str], grid: AttackGrid, fraction: float
) -> None:
    """(b, c) max forget score during the attack vs its learning rate; (e, f) recovered fraction; one line per
    attack kind and epoch count of the calibration sweep, the configured learning rates marked."""
    if rows.empty:
        for ax, title in zip(axes, titles, strict=True):
            common.skip_panel(ax, title, "no attack calibration results (analysis.attack_calibration)")
        return
    styles = _sweep_styles(rows, fraction)
    ylabels = ("Max forget score during the attack (%)", "Recovered (% of start − unlearned)")
    for ax, col, scale, ylabel, title, ylim in zip(
        axes, ("attack", "attack_recovered"), (1.0, 100.0), ylabels, titles, ((0, 105), None), strict=True
    ):
        drawn = [
            _ci_line(ax, sel["lr"], sel.sort_values("lr"), col, styles[key], scale)
            for key, sel in ((k, rows[(rows["kind"] == k[0]) & (rows["epochs"] == k[1])]) for k in styles)
        ]
        if not any(drawn):
            common.skip_panel(ax, title, common.NO_ITEMS)
            continue
        for kind, color in (("harmful", "0.45"), ("benign", "#6baed6")):
            for lr in grid.lrs[kind]:
                ax.axvline(
                    lr, color=color, ls=(0, (1, 2)), lw=1, zorder=0, label=f"configured {kind} learning rates"
                )
        _log_x_axes(ax, "Attack learning rate η (log scale)", ylabel, title, ylim)


def _mcqa_pairs(base: pd.DataFrame) -> list[tuple[str, str]]:
    """The MCQA-style (benchmark, model) pairs (the λ ablation and the sweep run there), else every pair."""
    pairs = list(zip(base["benchmark"], base["model"], strict=True))
    mcqa = [pair for pair, style in zip(pairs, base["style"], strict=True) if style == "mcqa"]
    return mcqa or pairs


@common._with_style
def fig7_ablation(
    results: ResultFiles,
    out_dir: str | Path,
    *,
    grid: AttackGrid,
    lambda_variants: Sequence[str] | None = None,
    ablation_method: str = "SSIUU",
    calibration_methods: Sequence[str] = ("GA", "GD"),
    calibration_fraction: float = 0.1,
    labels: Mapping[str, str] | None = None,
    stats: CellStats,
    stem: str = "fig7_ablation",
) -> list[Path]:
    """Fig. 7: (a) λ ablation of SSIUU — retain and test scores after unlearning and the harmful attacks' score
    (configured learning rates) vs λ; (b, c) the attack calibration sweep (:mod:`ssiuu.report.calibration`):
    the attack score per attack learning rate and epoch count, one panel per method in
    ``calibration_methods``; (d–f) the same for the recovered fraction. Every point carries its 95 % interval
    (items pooled over seeds and runs), none where it rests on one value; n is written at each line's end.
    Two rows per MCQA-style (benchmark, model)."""
    pairs = _mcqa_pairs(collect_base(results))
    n_cols = 1 + len(calibration_methods)
    fig = common._new_figure(4.8 * n_cols + 0.4, 7.4 * len(pairs) + 1.2)
    axes = fig.subplots(2 * len(pairs), n_cols, squeeze=False)
    lam_options = {
        "ablation_method": ablation_method,
        "lambda_variants": lambda_variants,
        "grid": grid,
        "stats": stats,
    }
    legend: dict[str, Any] = {}
    for i, (bench, model) in enumerate(pairs):
        top, bottom = axes[2 * i], axes[2 * i + 1]
        where = common._where(labels, bench, model, " · ")
        lam = _lambda_rows(results, bench, model, **lam_options)
        _fig7_lambda([top[0], bottom[0]], lam, grid.harmful_keys, _fig7_styles(grid), where, ablation_method)
        for j, method in enumerate(calibration_methods):
            rows = calibration_rows(results, bench, model, method, stats=stats)
            name = common._label(labels, method)
            titles = [
                f"({chr(98 + j)}) Attack learning rate — {name}\n{where}",
                f"({chr(101 + j)}) Recovered fraction — {name}\n{where}",
            ]
            _fig7_sweep([top[1 + j], bottom[1 + j]], rows, titles, grid, calibration_fraction)
        for ax in (*top, *bottom):
            common._collect_legend(legend, ax)
    common._figure_legend(
        fig,
        legend,
        common._ci_note(stats.confidence) + " n at each line's end: items × seeds or × runs per point.",
    )
    fig.suptitle("Fig. 7 — Regularisation weight and attack learning rates", fontweight="bold")
    return common.save_figure(fig, out_dir, stem)
