"""What the figures share: the style, colours, the figure canvas, saving, skipped panels, legends, error bars."""

from __future__ import annotations

import functools
import logging
import textwrap
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ssiuu.io import atomic_path

log = logging.getLogger(__package__)

DPI = 150
METHOD_PALETTE = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#aec7e8",
]
SSIUU_COLOR = "#d62728"
RC = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 8.5,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
#: axis wording for the quantity Eq. 1 differentiates (config ``analysis.attribution_target``)
ATTRIBUTION_UNITS = {"prob": "probability units", "logprob": "log-probability units"}
NO_ITEMS = "no per-item attack results (attack files without 'curve')"


def method_colors(methods: Sequence[str]) -> dict[str, str]:
    """Stable colours: SSIUU (and its variants) red, the rest from a fixed palette in ``methods`` order."""
    colors, i = {}, 0
    for m in methods:
        if m.upper().startswith("SSIUU"):
            colors[m] = SSIUU_COLOR
        else:
            colors[m] = METHOD_PALETTE[i % len(METHOD_PALETTE)]
            i += 1
    return colors


def _label(labels: Mapping[str, str] | None, key: str) -> str:
    return str((labels or {}).get(key, key))


def _where(labels: Mapping[str, str] | None, bench: str, model: str, sep: str = "\n") -> str:
    """``<benchmark><sep><model>`` in display names; empty without a benchmark (no analysed pair)."""
    return f"{_label(labels, bench)}{sep}{_label(labels, model)}" if bench else ""


def _ordered(found: Sequence[str], preferred: Sequence[str] | None) -> list[str]:
    """``found`` with the ``preferred`` ones first, in their order, then the rest sorted."""
    pref = list(preferred or [])
    return [m for m in pref if m in found] + sorted(m for m in found if m not in pref)


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _with_style(fn: Callable[..., list[Path]]) -> Callable[..., list[Path]]:
    """Draw and save inside the report's rc settings (font sizes, spines) without touching global state."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> list[Path]:
        with mpl.rc_context(RC):
            return fn(*args, **kwargs)

    return wrapper


def save_figure(fig: Figure, out_dir: str | Path, stem: str) -> list[Path]:
    """Write ``<stem>.png`` (150 dpi) and ``<stem>.pdf`` atomically; returns both paths. The PDF carries no
    creation date, so that the same figure regenerates byte for byte."""
    out = []
    for fmt in ("png", "pdf"):
        path = Path(out_dir) / f"{stem}.{fmt}"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=DPI, metadata={"CreationDate": None} if fmt == "pdf" else None)
        if path.stat().st_size == 0:
            raise RuntimeError(f"{path} was written empty")
        out.append(path)
    return out


def skip_panel(ax: Axes, title: str, reason: str) -> None:
    """A visible "skipped" panel: the figure still builds when an optional input is missing. The reason is
    wrapped to the panel's width (about 12 characters of 9-point text per inch)."""
    ax.set_title(title)
    width = ax.get_position().width * ax.get_figure(root=True).get_figwidth()
    ax.text(
        0.5,
        0.5,
        "skipped:\n" + textwrap.fill(reason, max(20, int(12 * width))),
        ha="center",
        va="center",
        fontsize=9,
        color="0.35",
        transform=ax.transAxes,
    )
    ax.set_xticks([])
    ax.set_yticks([])
    for s in ax.spines.values():
        s.set_visible(False)
    log.warning("figure panel %r skipped: %s", title, reason)


def _collect_legend(legend: dict[str, Any], ax: Axes) -> None:
    """Gather unique legend entries of ``ax`` for one figure-level legend."""
    for handle, name in zip(*ax.get_legend_handles_labels(), strict=True):
        legend.setdefault(name, handle)


#: characters of the legend title's 8-point text per inch of figure width (with a margin: DejaVu Sans averages
#: about 15)
TITLE_CHARS_PER_INCH = 13


def legend_title(title: str, width_inches: float) -> str:
    """``title`` wrapped to the figure's width, each of its own lines on its own (centred text that is wider
    than the figure is cut at both sides)."""
    chars = max(40, int(TITLE_CHARS_PER_INCH * width_inches))
    return "\n".join(textwrap.fill(line, chars) for line in title.split("\n"))


def _figure_legend(fig: Figure, legend: Mapping[str, Any], title: str) -> None:
    """One legend below the panels, with the note on the intervals as its title."""
    if legend:
        fig.legend(
            list(legend.values()),
            list(legend),
            loc="outside lower center",
            ncols=3,
            frameon=False,
            title=legend_title(title, fig.get_figwidth()),
            title_fontsize=8,
        )


def _ci_note(confidence: float) -> str:
    return (
        f"Error bars: {100 * confidence:g} % percentile intervals of a cluster bootstrap over seeds, draws and "
        "items (ssiuu/report/inference.py); none where a single value exists."
    )


def _ci_arrays(df: pd.DataFrame, col: str, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(value, low, high) of ``col`` from ``col``, ``col_low``, ``col_high`` (NaN where absent)."""
    nan = np.full(len(df), np.nan)
    return tuple(  # type: ignore[return-value]
        scale * df[c].to_numpy(dtype=float) if c in df.columns else nan
        for c in (col, f"{col}_low", f"{col}_high")
    )


def _ci_errorbars(
    ax: Axes, x: np.ndarray, value: np.ndarray, low: np.ndarray, high: np.ndarray, color: str = "0.15"
) -> None:
    """Error bars for the confidence interval, drawn only where it is defined (never from a single value)."""
    ok = np.isfinite(value) & np.isfinite(low) & np.isfinite(high)
    if ok.any():
        yerr = [np.maximum(value[ok] - low[ok], 0), np.maximum(high[ok] - value[ok], 0)]
        ax.errorbar(
            x[ok], value[ok], yerr=yerr, fmt="none", ecolor=color, elinewidth=0.8, capsize=2, zorder=4
        )
