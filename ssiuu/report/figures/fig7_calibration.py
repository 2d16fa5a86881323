"""Fig. 7b, c, e, f: the attack's calibration, damage beside recovery (:mod:`ssiuu.report.calibration`).

Per attack learning rate (log x axis), one line per attack kind and epoch count of the sweep: the attacked
starting model's change of FS on the draws' evaluation items (b) and of its retain/test score (e), in points,
with the damage tolerance; the separation of the known hider from the known eraser (c) and the hider's
recovered share (f). Settings outside the tolerance are hollow, the chosen one starred.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ssiuu.report.calibration import choose_attack_setting, setting_rows
from ssiuu.report.figures import common
from ssiuu.report.results import AttackGrid, ResultFiles
from ssiuu.report.stats import CellStats


def calibration_choice_rows(
    results: ResultFiles, bench: str, model: str, *, stats: CellStats, tolerance: float
) -> pd.DataFrame:
    """The sweep's settings on (bench, model) with the rule's columns (:func:`choose_attack_setting`); empty
    without calibration draws of the starting model."""
    rows = setting_rows(results, bench, model, stats=stats)
    return rows if rows.empty else choose_attack_setting(rows.assign(benchmark=bench, model=model), tolerance)


def _line(ax: Axes, df: pd.DataFrame, col: str, style: tuple[str, str, str, str], scale: float) -> bool:
    """One line of ``col`` against the learning rate with its intervals (where defined) and the range of its n
    at its end; whether anything was drawn."""
    name, color, marker, ls = style
    value, low, high = common._ci_arrays(df, col, scale)
    ok = np.isfinite(value)
    if not ok.any():
        return False
    xs = df["lr"].to_numpy(dtype=float)
    ax.plot(xs[ok], value[ok], color=color, marker=marker, ls=ls, lw=1.4, ms=5, label=name)
    common._ci_errorbars(ax, xs, value, low, high, color=color)
    ns = sorted({int(n) for n in df.loc[ok, f"{col}_n"] if not pd.isna(n)}) if f"{col}_n" in df else []
    if ns:
        text = f"n = {ns[0]}" if len(ns) == 1 else f"n = {ns[0]}–{ns[-1]}"
        last = np.flatnonzero(ok)[-1]
        ax.annotate(
            text, (xs[last], value[last]), xytext=(4, 0), textcoords="offset points", fontsize=7, color=color
        )
    return True


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


#: the calibration panels (b, c, e, f): column of :func:`ssiuu.report.calibration.setting_rows`, scale, y label,
#: panel letter and what it shows; the damage panels in points, the shares in percent
_CALIBRATION_PANELS = (
    ("start_fs_change", 1.0, "Attacked Start: change of FS on\nthe evaluation items (points)", "b", "damage"),
    (
        "separation",
        100.0,
        "Separation: hider's recovered share −\neraser's (MCQA: hider's) (%)",
        "c",
        "separation",
    ),
    (
        "start_split_change",
        1.0,
        "Attacked Start: change of retain/test\nscore, the worse of the two (points)",
        "e",
        "damage",
    ),
    (
        "hider_share",
        100.0,
        "Hider's recovered share of the margin\n(% of the attacked Start's)",
        "f",
        "recovery",
    ),
)


def _worse_split(rows: pd.DataFrame) -> pd.DataFrame:
    """``start_split_change`` (with _low, _high, _n): per setting, the attacked Start's retain or test change,
    whichever is lower (the one the tolerance binds)."""
    out = rows.copy()
    retain, test = "start_retain_change", "start_test_change"
    use_test = out[test].notna() & (out[retain].isna() | (out[test] < out[retain]))
    for suffix in ("", "_low", "_high", "_n"):
        out[f"start_split_change{suffix}"] = out[f"{retain}{suffix}"].where(~use_test, out[f"{test}{suffix}"])
    return out


def _mark_settings(ax: Axes, sel: pd.DataFrame, col: str, scale: float, color: str, marker: str) -> None:
    """Hollow markers on the settings outside the damage tolerance, a star on the chosen one."""
    value = scale * sel[col].to_numpy(dtype=float)
    xs = sel["lr"].to_numpy(dtype=float)
    out = ~sel["passes"].to_numpy(dtype=bool) & np.isfinite(value)
    if out.any():
        ax.plot(
            xs[out],
            value[out],
            ls="",
            marker=marker,
            ms=5,
            mfc="white",
            mec=color,
            zorder=5,
            label="hollow: outside the damage tolerance",
        )
    chosen = sel["chosen"].to_numpy(dtype=bool) & np.isfinite(value)
    if chosen.any():
        ax.plot(
            xs[chosen],
            value[chosen],
            ls="",
            marker="*",
            ms=13,
            mfc="gold",
            mec="k",
            zorder=6,
            label="★ chosen setting (largest separation within the tolerance)",
        )


def fig7_calibration(
    axes: Sequence[Axes],
    rows: pd.DataFrame,
    where: str,
    grid: AttackGrid,
    fraction: float,
    tolerance: float,
) -> None:
    """(b) the attacked Start's change of FS on the draws' evaluation items and (e) of its retain/test score,
    beside (c) the separation of the known hider from the known eraser and (f) the hider's recovered share, vs
    the attack's learning rate: one line per attack kind and epoch count of the calibration sweep
    (:func:`ssiuu.report.calibration.choose_attack_setting`'s rows), settings outside the tolerance hollow,
    the chosen one starred, the tolerance and the configured learning rates marked."""
    titles = [
        f"({letter}) Attack calibration: {what}\n{where}" for _, _, _, letter, what in _CALIBRATION_PANELS
    ]
    if rows.empty:
        for ax, title in zip(axes, titles, strict=True):
            common.skip_panel(
                ax, title, "no attack calibration draws of the starting model (`snakemake calibration`)"
            )
        return
    rows = _worse_split(rows)
    styles = _sweep_styles(rows, fraction)
    for ax, title, (col, scale, ylabel, _, what) in zip(axes, titles, _CALIBRATION_PANELS, strict=True):
        selections = [
            (key, rows[(rows["kind"] == key[0]) & (rows["epochs"] == key[1])].sort_values("lr"))
            for key in styles
        ]
        drawn = [key for key, sel in selections if _line(ax, sel, col, styles[key], scale)]
        if not drawn:
            common.skip_panel(ax, title, f"{col} not recorded (calibration draws without the damage fields)")
            continue
        for key, sel in selections:
            _mark_settings(ax, sel, col, scale, styles[key][1], styles[key][2])
        if what == "damage":
            ax.axhline(
                -100.0 * tolerance,
                color="firebrick",
                ls="--",
                lw=1,
                zorder=0,
                label=f"damage tolerance: −{100 * tolerance:g} points",
            )
            ax.axhline(0.0, color="0.6", lw=0.8, zorder=0)
        for kind, color in (("harmful", "0.45"), ("benign", "#6baed6")):
            for lr in grid.lrs[kind]:
                ax.axvline(
                    lr, color=color, ls=(0, (1, 2)), lw=1, zorder=0, label=f"configured {kind} learning rates"
                )
        ax.set_xscale("log")
        ax.set(xlabel="Attack learning rate η (log scale)", ylabel=ylabel, title=title)
        ax.grid(alpha=0.3)
        ax.margins(x=0.15)
