"""Fig. 7: the λ ablation of SSIUU, and the attack's calibration: the damage to the attacked starting model
beside the separation of the known hider from the known eraser, per learning rate and epoch count.

A recovered fraction whose denominator's interval is not above 0 (``<key>_stable`` False: Fieller's condition,
:func:`ssiuu.report.inference.rankable`, the rule of every table and figure) is drawn hollow, without an
interval, and does not set the axis: one far off the ranked points is written at the panel's edge."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ssiuu import layout
from ssiuu.data.records import ITEM_SCORE
from ssiuu.io import read_json
from ssiuu.report.aggregate import attack_cells, attack_columns, cell_columns, item_means
from ssiuu.report.calibration import default_tolerance
from ssiuu.report.figures import common
from ssiuu.report.figures.fig7_calibration import calibration_choice_rows, fig7_calibration
from ssiuu.report.inference import Estimate, proportion_estimate
from ssiuu.report.results import (
    AttackGrid,
    ResultError,
    ResultFiles,
    collect_attacks,
    collect_base,
)
from ssiuu.report.stats import CellStats
from ssiuu.report.table_data import collect_results

log = logging.getLogger(__package__)


def _split_interval(
    results: Sequence[Mapping[str, Any]], part: str, style: str, confidence: float
) -> Estimate:
    """Percent score of ``part`` (retain/test) as in Tables 1-2: each item's answer averaged over the seeds,
    with the Wilson interval over the distinct items; without per-item answers, the seeds' mean score with no
    interval."""
    items = item_means(results, part, ITEM_SCORE[style])
    if not items.empty:
        return proportion_estimate(list(items), confidence).scaled(100.0)
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
    rows = []
    for method in [m for m in [ablation_method, *variants] if m in found]:
        sel = unlearned[unlearned["method"] == method]
        if sel["lambda"].isna().any():
            raise ResultError(
                f"{bench}/{model}: no λ for {method} (params.lambda_ missing and no -lambda<x> suffix)"
            )
        style = sel["style"].iloc[0]
        unlearn_results = [
            read_json(
                layout.path(
                    "unlearn", results=results.root, benchmark=bench, model=model, method=method, seed=s
                )
            )
            for s in sel["seed"]
        ]
        row: dict[str, Any] = {"lambda": float(sel["lambda"].iloc[0]), "method": method}
        for part in ("retain", "test"):
            row |= cell_columns(part, _split_interval(unlearn_results, part, style, stats.confidence), 1.0)
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


def _ranked(df: pd.DataFrame, col: str) -> np.ndarray:
    """Per point: whether ``col`` ranks. A recovered fraction ``<key>_recovered`` ranks where ``<key>_stable``
    (its denominator's interval above 0); every other quantity always does."""
    stable = f"{col.removesuffix('_recovered')}_stable"
    if not col.endswith("_recovered") or stable not in df.columns:
        return np.ones(len(df), dtype=bool)
    return df[stable].fillna(False).astype(bool).to_numpy()


def _ci_line(
    ax: Axes, x: pd.Series, df: pd.DataFrame, col: str, style: tuple[str, str, str, str], scale: float = 1.0
) -> bool:
    """One series with its confidence intervals (none where undefined or not ranked: those points hollow) and
    its n range at the line's end; returns whether anything was drawn."""
    name, color, marker, ls = style
    value, low, high = common._ci_arrays(df, col, scale)
    ok = np.isfinite(value)
    if not ok.any():
        return False
    n = _n_text(df[f"{col}_n"]) if f"{col}_n" in df.columns else ""
    xs = x.to_numpy(dtype=float)
    ranked = _ranked(df, col)
    line = np.where(ranked, value, np.nan)  # the line joins ranked points only
    ax.plot(xs[ok], line[ok], color=color, marker=marker, ls=ls, lw=1.4, ms=5, label=name)
    hollow = ok & ~ranked
    if hollow.any():
        ax.plot(xs[hollow], value[hollow], ls="", marker=marker, ms=5, mfc="white", mec=color, zorder=5)
    common._ci_errorbars(ax, xs[ranked], value[ranked], low[ranked], high[ranked], color=color)
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


def _cap_to_ranked(ax: Axes, lines: Sequence[tuple[pd.Series, pd.DataFrame, str, float]]) -> None:
    """Keep a recovered-fraction panel's y axis on its ranked points and their intervals (``lines``: the
    (x, frame, column, scale) of each line drawn); an unranked point outside is written at the edge."""
    bounds, points = [0.0], []
    for x, df, col, scale in lines:
        value, low, high = common._ci_arrays(df, col, scale)
        ranked = _ranked(df, col)
        bounds += [
            float(v) for v in np.concatenate([value[ranked], low[ranked], high[ranked]]) if np.isfinite(v)
        ]
        points += [(float(px), float(v)) for px, v, r in zip(x, value, ranked, strict=True) if not r]
    if len(bounds) == 1:
        bounds.append(100.0)
    span = max(bounds) - min(bounds)
    bottom, top = min(bounds) - 0.1 * span, max(bounds) + 0.15 * span
    outside: dict[tuple[float, bool], list[float]] = {}
    for px, v in points:
        if np.isfinite(v) and not bottom <= v <= top:
            outside.setdefault((px, v > top), []).append(v)
    if not outside:
        return
    ax.set_ylim(bottom, top)
    for (px, above), values in sorted(outside.items()):
        edge, arrow, dy = (top, "↑", -4) if above else (bottom, "↓", 4)
        ax.annotate(
            f"{arrow} " + ", ".join(f"{v:.0f}" for v in sorted(values)),
            (px, edge),
            xytext=(0, dy),
            textcoords="offset points",
            ha="center",
            va="top" if above else "bottom",
            fontsize=6,
            rotation=90,
        )


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
    recovered = []
    for key in ["retain", "test", *keys]:
        if key in lam.columns:
            _ci_line(axes[0], lam["lambda"], lam, key, styles[key])
        line = (lam["lambda"], lam, f"{key}_recovered", 100.0)
        if line[2] in lam.columns and _ci_line(axes[1], *line[:3], styles[key], 100.0):
            recovered.append(line)
    _log_x_axes(
        axes[0],
        "Regularisation weight λ (log scale)",
        "Score after unlearning /\nforget score after the attack (%)",
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
    _cap_to_ranked(axes[1], recovered)


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
    calibration_fraction: float = 0.1,
    calibration_tolerance: float | None = None,
    labels: Mapping[str, str] | None = None,
    stats: CellStats,
    stem: str = "fig7_ablation",
) -> list[Path]:
    """Fig. 7: (a) λ ablation of SSIUU — retain and test scores after unlearning and the harmful attacks' score
    (configured learning rates) vs λ; (d) its recovered fraction (§ hollow, module doc). (b, c, e, f) The attack
    calibration (:mod:`ssiuu.report.calibration`), damage beside recovery per attack learning rate and epoch
    count: the attacked starting model's change of FS on the evaluation items (b) and of its retain/test score
    (e), the separation of the known hider from the known eraser (c) and the hider's recovered share (f);
    settings outside ``calibration_tolerance`` (``analysis.attack_calibration.damage_tolerance``; None: the
    schema's default) hollow, the chosen one starred. Every point carries its interval at the level of
    ``stats`` (items after unlearning; seeds, draws and items after an attack), none where it rests on one
    value or does not rank; n is written at each line's end. Two rows per MCQA-style (benchmark, model)."""
    tolerance = default_tolerance() if calibration_tolerance is None else calibration_tolerance
    pairs = _mcqa_pairs(collect_base(results))
    n_cols = 3
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
        rows = calibration_choice_rows(results, bench, model, stats=stats, tolerance=tolerance)
        panels = [top[1], top[2], bottom[1], bottom[2]]
        fig7_calibration(panels, rows, where, grid, calibration_fraction, tolerance)
        for ax in (*top, *bottom):
            common._collect_legend(legend, ax)
    common._figure_legend(
        fig,
        legend,
        common._ci_note(stats.confidence)
        + " n at each line's end: items after unlearning, (seed, draw, item) observations after an attack."
        + "\nHollow in (d): a recovered fraction whose denominator's interval is not above 0 (§, not ranked, no"
        + " interval); in (b, c, e, f): a setting outside the damage tolerance.",
    )
    fig.suptitle("Fig. 7 — Regularisation weight and the attack's calibration", fontweight="bold")
    return common.save_figure(fig, out_dir, stem)
