"""Fig. 2: the forget score after unlearning and after the attacks, and the margin measures against the attacked
starting model: the recovered share and the difference in differences (docs/results.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from ssiuu.report.figures import common
from ssiuu.report.results import DEFAULT, AttackGrid, ResultError, ResultFiles, collect_base
from ssiuu.report.stats import CellStats
from ssiuu.report.table_data import aggregate_table

#: Fig. 2's reference marks (ssiuu.references): reference method → (label, line style)
REFERENCE_MARKS = {
    "Start": ("starting model attacked", (0, (5, 2))),
    "NeverLearned": ("never learned (known eraser)", (0, (6, 2, 1, 2))),
    "Hider": ("known hider", (0, (1, 1))),
}
NO_MARGINS = "no per-item margins or attacked Start on shared draws (results older than docs/results.md)"
#: what n counts in panel (a), and how panels (b, c) pair each row with the attacked start
N_TEXT = (
    "n at a bar's foot: distinct forget items after unlearning, (seed, draw, item) observations after an attack. "
    "(b, c): each row paired with the attacked start on the draws and items both score."
)
FIG2_COLORS = ["#bdbdbd", "#fd8d3c", "#d94701", "#6baed6"]  # after unlearning, harmful p = …, benign


def _style_name(style: str) -> str:
    return "accuracy" if style == "mcqa" else "ROUGE-L recall"


def _offsets(n_groups: int, n_keys: int) -> tuple[np.ndarray, float]:
    return np.arange(n_groups, dtype=float), 0.8 / n_keys


def _fig2_scores(ax: Axes, rows: pd.DataFrame, keys: Sequence[str], names: Sequence[str]) -> None:
    """(a) bars: forget score after unlearning and after each attack, with CIs and their n at the bar foot."""
    x, w = _offsets(len(rows), len(keys))
    for i, (key, name) in enumerate(zip(keys, names, strict=True)):
        pos = x + (i - (len(keys) - 1) / 2) * w
        value, low, high = common._ci_arrays(rows, key)
        ax.bar(pos, np.nan_to_num(value), w, color=FIG2_COLORS[i % 4], label=name, edgecolor="white", lw=0.5)
        common._ci_errorbars(ax, pos, value, low, high)
        ns = rows[f"{key}_n"].to_numpy() if f"{key}_n" in rows.columns else [None] * len(rows)
        for px, v, n in zip(pos, value, ns, strict=True):
            text = "n/a" if np.isnan(v) else (f"n={int(n)}" if n is not None and not pd.isna(n) else "")
            ax.text(
                px, 1.5, text, ha="center", va="bottom", rotation=90, fontsize=5.5, color="0.25", zorder=5
            )


def _fig2_points(ax: Axes, rows: pd.DataFrame, keys: Sequence[str], suffix: str, scale: float) -> bool:
    """(b, c) one point per method and attack with its CI; on (b), hollow where the recovered share does not
    rank (:func:`_ranked`). Returns whether a hollow point was drawn."""
    x, w = _offsets(len(rows), len(keys))
    hollow = False
    for i, key in enumerate(keys):
        pos = x + (i - (len(keys) - 1) / 2) * w
        value, low, high = common._ci_arrays(rows, f"{key}{suffix}", scale)
        color = FIG2_COLORS[1 + i % 3]
        stable = _ranked(rows, key) if suffix == "_share" else np.ones(len(rows), dtype=bool)
        ax.scatter(pos[stable], value[stable], s=22, color=color, zorder=5)
        ax.scatter(pos[~stable], value[~stable], s=22, facecolors="white", edgecolors=color, zorder=5)
        common._ci_errorbars(ax, pos, value, low, high, color=color)
        hollow |= bool(np.isfinite(value[~stable]).any())
    ax.axhline(0, color="0.5", lw=0.6)
    if suffix == "_share":
        _cap_unstable(ax, rows, keys, x, w, scale)
    return hollow


def _ranked(rows: pd.DataFrame, key: str) -> np.ndarray:
    """Per row: whether its recovered share ranks (not § in the recovery table: Fieller's condition)."""
    if f"{key}_share_rankable" not in rows.columns:
        return np.ones(len(rows), dtype=bool)
    return rows[f"{key}_share_rankable"].fillna(False).astype(bool).to_numpy()


def _cap_unstable(
    ax: Axes, rows: pd.DataFrame, keys: Sequence[str], x: np.ndarray, w: float, scale: float
) -> None:
    """Keep the recovered-share axis on the ranked points: an unranked point outside is drawn
    at the edge with its value written beside it, instead of squashing every other point."""
    bounds, outside = [0.0], []
    for key in keys:
        value, low, high = common._ci_arrays(rows, f"{key}_share", scale)
        ranked = _ranked(rows, key)
        bounds += [v for v in np.concatenate([low[ranked], high[ranked], value[ranked]]) if np.isfinite(v)]
        outside += [v for v in value[~ranked] if np.isfinite(v)]
    if len(bounds) == 1:
        bounds.append(100.0)
    span = max(bounds) - min(bounds)
    bottom, top = min(bounds) - 0.1 * span, max(bounds) + 0.15 * span
    if all(bottom <= v <= top for v in outside):
        return
    ax.set_ylim(bottom, top)
    for i, key in enumerate(keys):
        value, _, _ = common._ci_arrays(rows, f"{key}_share", scale)
        pos = x + (i - (len(keys) - 1) / 2) * w
        for px, v in zip(pos, value, strict=True):
            if np.isfinite(v) and not bottom <= v <= top:
                edge, arrow, dy = (top, "↑", -8) if v > top else (bottom, "↓", 8)
                ax.annotate(
                    f"{arrow} {v:.0f}",
                    (px, edge),
                    xytext=(0, dy),
                    textcoords="offset points",
                    ha="center",
                    va="center",
                    fontsize=6,
                    rotation=90,
                )


def _reference_marks(
    ax: Axes,
    refs: pd.DataFrame,
    keys: Sequence[str],
    colors: Sequence[str],
    suffix: str = "",
    scale: float = 1.0,
) -> list[str]:
    """A horizontal line per reference row and attack (the attack's colour); returns the references drawn."""
    drawn = []
    for _, ref in refs.iterrows():
        label, ls = REFERENCE_MARKS.get(ref["method"], (str(ref["method"]), (0, (2, 2))))
        for key, color in zip(keys, colors, strict=False):
            v = ref.get(f"{key}{suffix}")
            if v is not None and not pd.isna(v):
                ax.axhline(scale * float(v), color=color, ls=ls, lw=1.2, zorder=1.5)
                drawn.append(ref["method"])
    return list(dict.fromkeys(drawn))


def _default_mark(ax: Axes, default: pd.DataFrame) -> None:
    if default.empty or pd.isna(default["FS"].iloc[0]):
        return
    fs0 = float(default["FS"].iloc[0])
    ax.axhline(fs0, color="0.2", ls=":", lw=1.2, label="Default model (before unlearning)")
    ax.annotate(
        f"{fs0:.1f} %",
        (1.0, fs0),
        xycoords=("axes fraction", "data"),
        xytext=(-2, 3),
        textcoords="offset points",
        ha="right",
        va="bottom",
        fontsize=8,
        color="0.2",
    )


def _format_panel(ax: Axes, ticks: Sequence[str], tilt: int, ylabel: str, title: str) -> None:
    ax.set_xticks(np.arange(len(ticks)), ticks, rotation=tilt, ha="right" if tilt else "center")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)


def _fig2_row(
    axes: Sequence[Axes],
    table: pd.DataFrame,
    style: str,
    keys: Sequence[str],
    where: str,
    labels: Mapping[str, str] | None,
    legend: dict[str, Any],
) -> None:
    """One (benchmark, model): (a) forget scores, (b) recovered share, (c) difference in differences."""
    reference = table["control"].fillna(False).astype(bool) if "control" in table.columns else False
    rows = table[(table["method"] != DEFAULT) & ~reference]
    refs, default = table[reference], table[table["method"] == DEFAULT]
    titles = [
        f"(a) Forget score — {where}",
        "(b) Recovered share of the margin",
        "(c) Margin gain beyond the attacked start (DiD)",
    ]
    if rows.empty:
        for ax, title in zip(axes, titles, strict=True):
            common.skip_panel(ax, title, "no unlearning results")
        return
    ticks = [common._label(labels, m) for m in rows["method"]]
    names = [
        "After unlearning",
        *[f"Harmful attack, p = {k.removeprefix('harmful_p')}" for k in keys[:-1]],
        "Benign attack",
    ]
    _fig2_scores(axes[0], rows, ["FS", *keys], names)
    _default_mark(axes[0], default)
    drawn = _reference_marks(axes[0], refs, keys, FIG2_COLORS[1:])
    _format_panel(
        axes[0],
        ticks,
        45 if len(rows) > 6 else 0,
        f"Forget-set {_style_name(style)} (%)\n(n at the bar foot)",
        titles[0],
    )
    axes[0].set_ylim(0, 105)
    hollow = False
    panels = (
        (axes[1], titles[1], "_share", 100.0, "Recovered share (% of R − u)"),
        (axes[2], titles[2], "_did", 1.0, "Difference in differences (nats/token)"),
    )
    for ax, title, suffix, scale, ylabel in panels:
        cols = [f"{k}{suffix}" for k in keys if f"{k}{suffix}" in rows.columns]
        if not cols or rows[cols].isna().all().all():
            common.skip_panel(ax, title, NO_MARGINS)
            continue
        hollow |= _fig2_points(ax, rows, keys, suffix, scale)
        drawn += _reference_marks(ax, refs, keys, FIG2_COLORS[1:], suffix, scale)
        _format_panel(ax, ticks, 45, ylabel, title)
    common._collect_legend(legend, axes[0])
    _fig2_legend(legend, drawn, hollow)


def _fig2_legend(legend: dict[str, Any], references: Sequence[str], hollow: bool) -> None:
    """Legend entries for the reference marks drawn and, where drawn, the hollow (unstable) points."""
    for method in dict.fromkeys(references):
        label, ls = REFERENCE_MARKS.get(method, (method, (0, (2, 2))))
        legend.setdefault(f"{label}, same attack (line colour = attack)", Line2D([], [], color="0.3", ls=ls))
    if hollow:
        legend.setdefault(
            "hollow: the share's denominator is not above 0 (§, not ranked)",
            Line2D([], [], ls="", marker="o", mfc="white", mec="0.3"),
        )


def _interval_note(confidence: float) -> str:
    """The legend's note on the error bars: Wilson for the score after unlearning, the cluster bootstrap for
    everything read off the attacks."""
    level = f"{100 * confidence:g} %"
    return (
        f"Error bars: {level} intervals, Wilson over the forget items after unlearning; percentile intervals of a "
        "cluster bootstrap over seeds, draws and items after the attacks,\nfor the recovered share and the DiD "
        f"(ssiuu/report/inference.py); none where a single value exists. {N_TEXT}"
    )


def _fig2_tables(results: ResultFiles, styles: Sequence[str], **options: Any) -> dict[str, pd.DataFrame]:
    """:func:`aggregate_table` of each benchmark style (the numbers of Tables 1-2, with their intervals)."""
    return {style: aggregate_table(results, style, **options) for style in dict.fromkeys(styles)}


@common._with_style
def fig2_vulnerability(
    results: ResultFiles,
    out_dir: str | Path,
    *,
    methods: Sequence[str],
    grid: AttackGrid,
    labels: Mapping[str, str] | None = None,
    stats: CellStats,
    benchmarks: Sequence[str] | None = None,
    stem: str = "fig2_vulnerability",
) -> list[Path]:
    """Fig. 2: per method, (a) the forget score after unlearning and at the end of the harmful (each p) and
    benign attacks, (b) the recovered share and (c) the difference in differences of the margin against the
    attacked starting model, each with its interval from :func:`aggregate_table` (level from ``stats``). The
    control rows (Hider, NeverLearned, Start) are lines in the attack's colour; the dotted line is the model
    before unlearning. One row per (benchmark, model)."""
    base = collect_base(results)
    pairs = [
        (b, m)
        for b, m in zip(base["benchmark"], base["model"], strict=True)
        if benchmarks is None or b in benchmarks
    ]
    if not pairs:
        raise ResultError(f"no benchmark results under {results} for Fig. 2")
    keys = grid.keys
    tables = _fig2_tables(results, list(base["style"]), methods=methods, grid=grid, stats=stats)
    n = len(methods)
    fig = common._new_figure(max(7.5, 1.1 * n + 2.0) + 2 * max(3.2, 0.45 * n + 1.2), 3.9 * len(pairs) + 1.4)
    axes = fig.subplots(len(pairs), 3, squeeze=False, gridspec_kw={"width_ratios": [2.2, 1, 1]})
    legend: dict[str, Any] = {}
    for row, (bench, model) in zip(axes, pairs, strict=True):
        style = base[(base["benchmark"] == bench) & (base["model"] == model)]["style"].iloc[0]
        table = tables[style]
        table = table[(table["benchmark"] == bench) & (table["model"] == model)]
        _fig2_row(row, table, style, keys, common._where(labels, bench, model, " · "), labels, legend)
    common._figure_legend(fig, legend, _interval_note(stats.confidence))
    fig.suptitle("Fig. 2 — Forget score recovered by retraining attacks (↓ better)", fontweight="bold")
    return common.save_figure(fig, out_dir, stem)
