"""Figures 2-7 of the paper (PNG at 150 dpi + PDF) from cached results — matplotlib only, no torch.

Every figure is drawn on a :class:`matplotlib.figure.Figure` (Agg canvas, no pyplot state) and written
atomically as ``<out_dir>/<stem>.png`` and ``.pdf``. Optional analysis inputs that are missing give a panel
with a "skipped" note (and a log warning); malformed inputs raise :class:`ResultError`.

Analysis inputs (under ``R/<benchmark>/<model>/analysis/``; written by :mod:`ssiuu.analysis` through the CLI).
A *state* label is ``base``, ``<method>``, ``<method>-seed<s>`` or either of those with an ``-attacked`` /
``+attack`` suffix; a ``seed`` column may be given instead of the ``-seed<s>`` suffix. Accepted layouts:

* ``influence/cumulative.csv`` with a method/state column (``method``, ``state`` or ``model``), a direction
  column (``sign`` in plus|minus or ``direction`` in positive|negative), ``m``, ``cumulative``; and
  ``influence/heatmap.csv`` (method/state, sign/direction, ``module``, ``layer``, ``value``) — or one
  sub-directory per state, ``influence/<state>/{cumulative,heatmap}.csv`` without the method column (the
  layout of :func:`ssiuu.analysis.save_influence_tables`).
* ``distributions.csv``: method/state column, optional ``state`` in base|unlearned|attacked, ``bin_left``,
  ``bin_right``, ``density`` (or ``count``); ρ from a ``rho`` column there, or from ``distributions_rho.csv`` /
  ``rho.csv`` / ``correlation.csv`` (``method``/``state``/``pre`` + ``rho``/``pearson_r``; rows with
  ``module != all`` ignored), also looked for inside a ``distributions/`` directory.
* ``logit_lens.csv``: state column, ``layer``, ``accuracy`` (fraction), ``n`` or ``n_evaluated``.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ssiuu.io import atomic_path, read_json
from ssiuu.report import paper_values
from ssiuu.report.stats import Interval, mean_interval
from ssiuu.report.tables import (
    DEFAULT,
    ResultError,
    aggregate_table,
    attack_key,
    collect_attacks,
    collect_base,
    collect_results,
)

log = logging.getLogger(__name__)

DPI = 150
MODULE_LABELS = {"q": "Attn Q", "k": "Attn K", "v": "Attn V", "o": "Attn O", "ffn": "FFN"}
MODULE_ORDER = ["q", "k", "v", "o", "ffn"]
STATE_COLORS = {"base": "#4d4d4d", "unlearned": "#d62728", "attacked": "#1f77b4"}
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
STATE_RE = re.compile(
    r"^(?P<method>.+?)(?:-seed(?P<seed>\d+))?(?P<att>-attacked|\+attack(?:ed)?|_attacked)?$"
)
PLUS = {"plus", "positive", "pos", "+", "d_plus", "d+", "dplus"}
MINUS = {"minus", "negative", "neg", "-", "d_minus", "d-", "dminus"}


# --------------------------------------------------------------------------------------------- helpers
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


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _with_style(fn: Callable[..., list[Path]]) -> Callable[..., list[Path]]:
    """Draw and save inside the report's rc settings (font sizes, spines) without touching global state."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> list[Path]:
        import matplotlib as mpl

        with mpl.rc_context(RC):
            return fn(*args, **kwargs)

    return wrapper


def save_figure(fig: Figure, out_dir: str | Path, stem: str) -> list[Path]:
    """Write ``<stem>.png`` (150 dpi) and ``<stem>.pdf`` atomically; returns both paths."""
    out = []
    for fmt in ("png", "pdf"):
        path = Path(out_dir) / f"{stem}.{fmt}"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=DPI)
        if path.stat().st_size == 0:
            raise RuntimeError(f"{path} was written empty")
        out.append(path)
    return out


def skip_panel(ax: Axes, title: str, reason: str) -> None:
    """A visible "skipped" panel: the figure still builds when an optional input is missing."""
    ax.set_title(title)
    ax.text(
        0.5,
        0.5,
        f"skipped:\n{reason}",
        ha="center",
        va="center",
        wrap=True,
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


def parse_state(label: str) -> tuple[str, int | None, bool]:
    """``GD-seed0-attacked`` → (``GD``, 0, True); ``base`` → (``base``, None, False)."""
    m = STATE_RE.match(str(label).strip())
    if not m:
        raise ResultError(f"cannot parse the model state label {label!r}")
    return m.group("method"), int(m.group("seed")) if m.group("seed") else None, bool(m.group("att"))


def _pick(df: pd.DataFrame, names: Sequence[str], path: Path, what: str, required: bool = True) -> str | None:
    for n in names:
        if n in df.columns:
            return n
    if required:
        raise ResultError(
            f"{path}: no {what} column (expected one of {list(names)}; found {list(df.columns)})"
        )
    return None


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ResultError(f"{path}: not a readable CSV ({err})") from err
    if df.empty:
        raise ResultError(f"{path}: has no rows")
    return df


def _numeric(
    df: pd.DataFrame, col: str, path: Path, *, lo: float | None = None, hi: float | None = None
) -> None:
    vals = pd.to_numeric(df[col], errors="coerce")
    bad = ~np.isfinite(vals.to_numpy(dtype=float))
    if bad.any():
        raise ResultError(
            f"{path}: column {col!r} has non-numeric or non-finite values (row {int(np.argmax(bad))})"
        )
    if lo is not None and (vals < lo - 1e-9).any():
        raise ResultError(f"{path}: column {col!r} has values below {lo} (min {vals.min():g})")
    if hi is not None and (vals > hi + 1e-9).any():
        raise ResultError(f"{path}: column {col!r} has values above {hi} (max {vals.max():g})")
    df[col] = vals.astype(float)


def _states(df: pd.DataFrame, col: str, path: Path) -> pd.DataFrame:
    """Add ``method``, ``seed`` (Int64, may be NA) and ``attacked`` from a state label column."""
    parsed = [parse_state(x) for x in df[col].astype(str)]
    out = df.copy()
    if col != "method":
        out = out.drop(columns=[c for c in ("method",) if c in out.columns and c != col])
    seeds = [p[1] for p in parsed]
    if "seed" in df.columns and col != "seed":
        seeds = [
            s if s is not None else (None if pd.isna(t) else int(t))
            for s, t in zip(seeds, df["seed"], strict=True)
        ]
    out["method"] = [p[0] for p in parsed]
    out["seed"] = pd.array(seeds, dtype="Int64")
    out["attacked"] = [p[2] for p in parsed]
    return out


def _sign(series: pd.Series, path: Path) -> pd.Series:
    def norm(x: Any) -> str:
        s = str(x).strip().lower()
        if s in PLUS:
            return "plus"
        if s in MINUS:
            return "minus"
        raise ResultError(f"{path}: direction {x!r} is neither plus/positive nor minus/negative")

    return series.map(norm)


# --------------------------------------------------------------------------------------------- readers
def _influence_frame(path: Path, kind: str, state_label: str | None) -> pd.DataFrame:
    df = _read_csv(path)
    sign = _pick(df, ["sign", "direction"], path, "direction (sign/direction)")
    df["sign"] = _sign(df[sign], path)
    if state_label is None:
        col = _pick(df, ["method", "state", "model"], path, "method/state")
        df = _states(df, col, path)
    else:
        method, seed, _ = parse_state(state_label)
        df["method"], df["seed"] = method, pd.array([seed] * len(df), dtype="Int64")
    if kind == "cumulative":
        for c in ("m", "cumulative"):
            _pick(df, [c], path, c)
        _numeric(df, "m", path, lo=1)
        _numeric(df, "cumulative", path, lo=0)
        for key, g in df.groupby(["method", "seed", "sign"], dropna=False):
            g = g.sort_values("m")
            if (np.diff(g["cumulative"].to_numpy()) < -1e-9 * max(1.0, g["cumulative"].abs().max())).any():
                raise ResultError(
                    f"{path}: cumulative curve {key} decreases with m (scores are clipped at 0)"
                )
        return df[["method", "seed", "sign", "m", "cumulative"]]
    for c in ("module", "layer", "value"):
        _pick(df, [c], path, c)
    _numeric(df, "layer", path, lo=0)
    _numeric(df, "value", path, lo=0)
    df["layer"] = df["layer"].astype(int)
    df["module"] = df["module"].astype(str)
    return df[["method", "seed", "sign", "module", "layer", "value"]]


def read_influence(influence_dir: str | Path, kind: str) -> pd.DataFrame | None:
    """``kind`` = ``cumulative`` or ``heatmap``; ``None`` when the input does not exist (optional)."""
    d = Path(influence_dir)
    if not d.is_dir():
        return None
    if (d / f"{kind}.csv").exists():
        return _influence_frame(d / f"{kind}.csv", kind, None)
    subs = sorted(p for p in d.iterdir() if p.is_dir() and (p / f"{kind}.csv").exists())
    if not subs:
        return None
    return pd.concat([_influence_frame(s / f"{kind}.csv", kind, s.name) for s in subs], ignore_index=True)


HIST_COLUMNS = [
    "method",
    "seed",
    "state",
    "bin_left",
    "bin_right",
    "density",
    "n_below",
    "n_above",
    "edge_clipped",
]


def read_distributions(analysis_dir: str | Path) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """(histograms: method, seed, state in base|unlearned|attacked, bin_left, bin_right, density, n_below,
    n_above (values outside the bins; NaN when not recorded), edge_clipped (the old ``ssiuu.analysis`` layout,
    ``bin`` + ``count`` without ``n_below``: its tails were clipped into the edge bins); rho: method, seed,
    rho) — either is ``None`` when missing."""
    d = Path(analysis_dir)
    hist = rho = None
    path = d / "distributions.csv"
    if not path.exists() and (d / "distributions" / "histogram.csv").exists():
        path = d / "distributions" / "histogram.csv"
    if path.exists():
        df = _read_csv(path)
        df["edge_clipped"] = "n_below" not in df.columns and {"bin", "count"} <= set(df.columns)
        for c in ("n_below", "n_above"):
            df[c] = df[c] if c in df.columns else np.nan
        label = _pick(df, ["method", "model", "label", "state"], path, "method/model label")
        for c in ("bin_left", "bin_right"):
            _pick(df, [c], path, c)
            _numeric(df, c, path)
        if (df["bin_right"] <= df["bin_left"]).any():
            raise ResultError(f"{path}: some bins have bin_right <= bin_left")
        if "density" not in df.columns:
            _pick(df, ["count"], path, "density or count")
            _numeric(df, "count", path, lo=0)
            width = df["bin_right"] - df["bin_left"]
            tails = (df["n_below"].fillna(0) + df["n_above"].fillna(0)).groupby(df[label]).transform("first")
            df["density"] = df["count"] / (df.groupby(label)["count"].transform("sum") + tails) / width
        _numeric(df, "density", path, lo=0)
        raw_state = (
            df["state"].astype(str).str.lower() if "state" in df.columns and label != "state" else None
        )
        df = _states(df, label, path)
        if raw_state is not None:
            if not raw_state.isin(["base", "unlearned", "attacked"]).all():
                raise ResultError(
                    f"{path}: 'state' must be base|unlearned|attacked, got {sorted(set(raw_state))}"
                )
            df["state"] = raw_state.to_numpy()
        else:
            df["state"] = np.where(
                df["method"] == "base", "base", np.where(df["attacked"], "attacked", "unlearned")
            )
        if "rho" in df.columns:
            r = df[df["state"] != "base"].dropna(subset=["rho"])
            if not r.empty:
                rho = r.groupby(["method", "seed"], dropna=False)["rho"].first().reset_index()
        hist = df[HIST_COLUMNS]
    if rho is None:
        for name in ("distributions_rho.csv", "rho.csv", "correlation.csv", "distributions/correlation.csv"):
            if (d / name).exists():
                rho = _read_rho(d / name)
                break
    if rho is not None:
        bad = (rho["rho"] < -1 - 1e-9) | (rho["rho"] > 1 + 1e-9)
        if bad.any():
            raise ResultError(f"{d}: correlation values outside [-1, 1]: {rho.loc[bad, 'rho'].tolist()}")
    return hist, rho


def _read_rho(path: Path) -> pd.DataFrame:
    df = _read_csv(path)
    if "module" in df.columns:
        df = df[df["module"].astype(str) == "all"]
    col = _pick(df, ["method", "state", "pre", "model"], path, "method/state")
    val = _pick(df, ["rho", "pearson_r", "r"], path, "correlation (rho/pearson_r)")
    df = _states(df, col, path)
    _numeric(df, val, path, lo=-1, hi=1)
    return df.rename(columns={val: "rho"})[["method", "seed", "rho"]]


def read_logit_lens(path: str | Path) -> pd.DataFrame | None:
    """method (``base`` for the original model), seed, layer, accuracy (fraction), n; ``None`` when missing."""
    path = Path(path)
    if not path.exists():
        return None
    df = _read_csv(path)
    col = _pick(df, ["state", "method", "model"], path, "state")
    for c in ("layer", "accuracy"):
        _pick(df, [c], path, c)
    _numeric(df, "layer", path, lo=0)
    _numeric(df, "accuracy", path, lo=0, hi=1)
    n = _pick(df, ["n", "n_evaluated"], path, "n", required=False)
    df["n"] = df[n] if n else np.nan
    df = _states(df, col, path)
    df["layer"] = df["layer"].astype(int)
    return df[["method", "seed", "layer", "accuracy", "n"]]


def analysis_pairs(results_dir: str | Path) -> list[tuple[str, str]]:
    """(benchmark, model) pairs that have an ``analysis/`` directory."""
    return sorted(
        (p.parent.parent.name, p.parent.name) for p in Path(results_dir).glob("*/*/analysis") if p.is_dir()
    )


def _ordered(found: Sequence[str], preferred: Sequence[str] | None) -> list[str]:
    pref = list(preferred or [])
    return [m for m in pref if m in found] + sorted(m for m in found if m not in pref)


def _style_name(style: str) -> str:
    return "accuracy" if style == "mcqa" else "ROUGE-L recall"


# --------------------------------------------------------------------------------------------- Fig. 2
#: Fig. 2's reference marks (ssiuu.references): reference method → (label, line style)
REFERENCE_MARKS = {
    "Start": ("starting model attacked", (0, (5, 2))),
    "NeverLearned": ("never learned (control)", (0, (6, 2, 1, 2))),
}
FIG2_COLORS = ["#bdbdbd", "#fd8d3c", "#d94701", "#6baed6"]  # after unlearning, harmful p = …, benign


NO_ITEMS = "no per-item attack results (attack files without 'curve')"


def _figure_legend(fig: Figure, legend: Mapping[str, Any], title: str) -> None:
    """One legend below the panels, with the note on the intervals as its title."""
    if legend:
        fig.legend(
            list(legend.values()),
            list(legend),
            loc="outside lower center",
            ncols=3,
            frameon=False,
            title=title,
            title_fontsize=8,
        )


def _ci_note(confidence: float) -> str:
    return (
        f"Error bars: {confidence:.0%} bootstrap confidence intervals over items and runs "
        "(scipy.stats.bootstrap); none where a single value exists."
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


def _offsets(n_groups: int, n_keys: int) -> tuple[np.ndarray, float]:
    return np.arange(n_groups, dtype=float), 0.8 / n_keys


def _fig2_scores(ax: Axes, rows: pd.DataFrame, keys: Sequence[str], names: Sequence[str]) -> None:
    """(a) bars: forget score after unlearning and after each attack, with CIs and their n at the bar foot."""
    x, w = _offsets(len(rows), len(keys))
    for i, (key, name) in enumerate(zip(keys, names, strict=True)):
        pos = x + (i - (len(keys) - 1) / 2) * w
        value, low, high = _ci_arrays(rows, key)
        ax.bar(pos, np.nan_to_num(value), w, color=FIG2_COLORS[i % 4], label=name, edgecolor="white", lw=0.5)
        _ci_errorbars(ax, pos, value, low, high)
        ns = rows[f"{key}_n"].to_numpy() if f"{key}_n" in rows.columns else [None] * len(rows)
        for px, v, n in zip(pos, value, ns, strict=True):
            text = "n/a" if np.isnan(v) else (f"n={int(n)}" if n is not None and not pd.isna(n) else "")
            ax.text(
                px, 1.5, text, ha="center", va="bottom", rotation=90, fontsize=5.5, color="0.25", zorder=5
            )


def _fig2_points(ax: Axes, rows: pd.DataFrame, keys: Sequence[str], suffix: str, scale: float) -> bool:
    """(b, c) one point per method and attack with its CI; hollow where the recovered fraction is unstable.
    Returns whether a hollow point was drawn."""
    x, w = _offsets(len(rows), len(keys))
    hollow = False
    for i, key in enumerate(keys):
        pos = x + (i - (len(keys) - 1) / 2) * w
        value, low, high = _ci_arrays(rows, f"{key}{suffix}", scale)
        color = FIG2_COLORS[1 + i % 3]
        stable = np.ones(len(rows), dtype=bool)
        if suffix == "_recovered" and f"{key}_stable" in rows.columns:
            stable = rows[f"{key}_stable"].fillna(False).to_numpy(dtype=bool)
        ax.scatter(pos[stable], value[stable], s=22, color=color, zorder=5)
        ax.scatter(pos[~stable], value[~stable], s=22, facecolors="white", edgecolors=color, zorder=5)
        _ci_errorbars(ax, pos, value, low, high, color=color)
        hollow |= bool(np.isfinite(value[~stable]).any())
    ax.axhline(0, color="0.5", lw=0.6)
    return hollow


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
    """One (benchmark, model): (a) forget scores, (b) recovered fraction, (c) log-probability gain."""
    reference = table["reference"].fillna(False).astype(bool) if "reference" in table.columns else False
    rows = table[(table["method"] != DEFAULT) & ~reference]
    refs, default = table[reference], table[table["method"] == DEFAULT]
    titles = [
        f"(a) Forget score — {where}",
        "(b) Recovered fraction",
        "(c) Log-probability gain of the attack",
    ]
    if rows.empty:
        for ax, title in zip(axes, titles, strict=True):
            skip_panel(ax, title, "no unlearning results")
        return
    ticks = [_label(labels, m) for m in rows["method"]]
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
        f"Forget-set {_style_name(style)} (%)\n(n at the bar foot: items × seeds or × runs)",
        titles[0],
    )
    axes[0].set_ylim(0, 105)
    hollow = False
    panels = (
        (axes[1], titles[1], "_recovered", 100.0, "Recovered (% of start − unlearned)"),
        (axes[2], titles[2], "_gain", 1.0, "Δ log p per answer token (nats)"),
    )
    for ax, title, suffix, scale, ylabel in panels:
        cols = [f"{k}{suffix}" for k in keys if f"{k}{suffix}" in rows.columns]
        if not cols or rows[cols].isna().all().all():
            skip_panel(ax, title, NO_ITEMS)
            continue
        hollow |= _fig2_points(ax, rows, keys, suffix, scale)
        drawn += _reference_marks(ax, refs, keys, FIG2_COLORS[1:], suffix, scale)
        _format_panel(ax, ticks, 45, f"{ylabel}\n(n as in a)", title)
    _collect_legend(legend, axes[0])
    _fig2_legend(legend, drawn, hollow)


def _fig2_legend(legend: dict[str, Any], references: Sequence[str], hollow: bool) -> None:
    """Legend entries for the reference marks drawn and, where drawn, the hollow (unstable) points."""
    for method in dict.fromkeys(references):
        label, ls = REFERENCE_MARKS.get(method, (method, (0, (2, 2))))
        legend.setdefault(f"{label}, same attack (line colour = attack)", Line2D([], [], color="0.3", ls=ls))
    if hollow:
        legend.setdefault(
            "hollow: unlearning barely lowered log p (fraction not ranked)",
            Line2D([], [], ls="", marker="o", mfc="white", mec="0.3"),
        )


def _fig2_tables(results_dir: str | Path, styles: Sequence[str], **options: Any) -> dict[str, pd.DataFrame]:
    """:func:`aggregate_table` of each benchmark style (the numbers of Tables 1-2, with their intervals)."""
    return {style: aggregate_table(results_dir, style, **options) for style in dict.fromkeys(styles)}


@_with_style
def fig2_vulnerability(
    results_dir: str | Path,
    out_dir: str | Path,
    *,
    methods: Sequence[str],
    harmful_lrs: Sequence[float],
    benign_lrs: Sequence[float],
    harmful_ps: Sequence[float] = (0.1, 0.3),
    labels: Mapping[str, str] | None = None,
    benchmarks: Sequence[str] | None = None,
    confidence: float = 0.95,
    n_resamples: int = 9999,
    min_logprob_drop: float = 0.1,
    stem: str = "fig2_vulnerability",
) -> list[Path]:
    """Fig. 2: per method, (a) the forget score after unlearning and after the harmful (each p) and benign
    attacks, (b) the recovered fraction and (c) the log-probability gain of the attacks, each with its 95 %
    interval from :func:`aggregate_table`. The reference rows (Start / NeverLearned) are lines in the attack's
    colour; the dotted line is the model before unlearning. One row per (benchmark, model)."""
    base = collect_base(results_dir)
    pairs = [
        (b, m)
        for b, m in zip(base["benchmark"], base["model"], strict=True)
        if benchmarks is None or b in benchmarks
    ]
    if not pairs:
        raise ResultError(f"no benchmark results under {results_dir} for Fig. 2")
    keys = [attack_key("harmful", p) for p in harmful_ps] + ["benign"]
    tables = _fig2_tables(
        results_dir,
        list(base["style"]),
        methods=methods,
        harmful_lrs=harmful_lrs,
        benign_lrs=benign_lrs,
        harmful_ps=harmful_ps,
        confidence=confidence,
        n_resamples=n_resamples,
        min_logprob_drop=min_logprob_drop,
    )
    n = len(methods)
    fig = _new_figure(max(7.5, 1.1 * n + 2.0) + 2 * max(3.2, 0.45 * n + 1.2), 3.9 * len(pairs) + 1.4)
    axes = fig.subplots(len(pairs), 3, squeeze=False, gridspec_kw={"width_ratios": [2.2, 1, 1]})
    legend: dict[str, Any] = {}
    for row, (bench, model) in zip(axes, pairs, strict=True):
        style = base[(base["benchmark"] == bench) & (base["model"] == model)]["style"].iloc[0]
        table = tables[style]
        table = table[(table["benchmark"] == bench) & (table["model"] == model)]
        _fig2_row(
            row, table, style, keys, f"{_label(labels, bench)} · {_label(labels, model)}", labels, legend
        )
    _figure_legend(fig, legend, _ci_note(confidence))
    fig.suptitle("Fig. 2 — Forget score recovered by retraining attacks (↓ better)", fontweight="bold")
    return save_figure(fig, out_dir, stem)


# --------------------------------------------------------------------------------------------- Fig. 3
def _seed_mean_curves(cum: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds per (method, sign, m), keeping only m values every seed has."""
    out = []
    for (method, sign), g in cum.groupby(["method", "sign"]):
        n_seeds = g["seed"].nunique(dropna=False)
        agg = g.groupby("m")["cumulative"].agg(["mean", "count"]).reset_index()
        agg = agg[agg["count"] == n_seeds]
        out.append(agg.assign(method=method, sign=sign, n_seeds=n_seeds))
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=["method", "sign", "m", "mean"])


#: axis wording for the quantity Eq. 1 differentiates (config ``analysis.attribution_target``)
ATTRIBUTION_UNITS = {"prob": "probability units", "logprob": "log-probability units"}


@_with_style
def fig3_influence(
    results_dir: str | Path,
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
    pairs = analysis_pairs(results_dir) or [("", "")]
    fig = _new_figure(14, 3.8 * len(pairs) + 0.4)
    axes = fig.subplots(len(pairs), 3, squeeze=False)
    for row, (bench, model) in zip(axes, pairs, strict=True):
        where = f"{_label(labels, bench)}\n{_label(labels, model)}" if bench else ""
        titles = [
            f"Cumulative D̃⁺ (erasing)\n{where}",
            f"Cumulative D̃⁻ (spurious neurons)\n{where}",
            f"Top-{top_k} neurons: D̃⁺ vs D̃⁻\n{where}",
        ]
        cum = (
            read_influence(Path(results_dir) / bench / model / "analysis" / "influence", "cumulative")
            if bench
            else None
        )
        if cum is None:
            for ax, t in zip(row, titles, strict=True):
                skip_panel(
                    ax, t, f"no influence results ({bench or 'no'}/{model or 'analysis'}/analysis/influence)"
                )
            continue
        curves = _seed_mean_curves(cum)
        found = _ordered(list(dict.fromkeys(curves["method"])), methods)
        colors = method_colors(found)
        for ax, sign, t in ((row[0], "plus", titles[0]), (row[1], "minus", titles[1])):
            for method in found:
                c = curves[(curves["method"] == method) & (curves["sign"] == sign)].sort_values("m")
                if c.empty:
                    continue
                ax.plot(
                    c["m"],
                    c["mean"],
                    color=colors[method],
                    lw=2.2 if method.upper() == "SSIUU" else 1.4,
                    ls="-" if sign == "minus" else ":",
                    label=_label(labels, method),
                )
            ax.set_title(t)
            ax.set_xlabel("Top-m neurons (sorted by score)")
            ax.set_ylabel(
                f"Cumulative influence variation\n(Σ D̃, attribution in {ATTRIBUTION_UNITS[attribution_target]})"
            )
            ax.grid(alpha=0.3)
            ax.legend(loc="upper left", frameon=False)
        row[1].sharey(row[0])
        bars = []
        for method in found:
            vals = {}
            for sign in ("plus", "minus"):
                c = curves[(curves["method"] == method) & (curves["sign"] == sign)].sort_values("m")
                c = c[c["m"] <= top_k]
                vals[sign] = float(c["mean"].iloc[-1]) if not c.empty else math.nan
            bars.append((method, vals["plus"], vals["minus"]))
        x = np.arange(len(bars))
        ax = row[2]
        ax.bar(
            x - 0.2,
            [b[1] for b in bars],
            0.4,
            color="#9ecae1",
            edgecolor="#3182bd",
            hatch="..",
            label="D̃⁺ (positive influence removed)",
        )
        ax.bar(
            x + 0.2,
            [b[2] for b in bars],
            0.4,
            color="#fc9272",
            edgecolor="#de2d26",
            label="D̃⁻ (negative influence added)",
        )
        ax.set_xticks(x, [_label(labels, b[0]) for b in bars], rotation=30 if len(bars) > 5 else 0)
        top = np.nanmax([v for b in bars for v in b[1:]] + [0.0])
        ax.set_ylim(0, 1.35 * top if top > 0 else 1.0)
        ax.set_ylabel(f"Σ over top-{top_k} neurons\n({ATTRIBUTION_UNITS[attribution_target]})")
        ax.set_title(titles[2])
        ax.grid(axis="y", alpha=0.3)
        ax.legend(frameon=False, loc="upper left")
    fig.suptitle("Fig. 3 — Influence variations after unlearning (solid: D̃⁻, dotted: D̃⁺)", fontweight="bold")
    return save_figure(fig, out_dir, stem)


# --------------------------------------------------------------------------------------------- Fig. 4
def _lens_n(df: pd.DataFrame) -> str:
    """The number of items behind each point: ``n = 10``, ``n = 9–10`` or ``n not recorded``."""
    ns = sorted({int(v) for v in df["n"].dropna()})
    if not ns:
        return "n not recorded"
    n = f"n = {ns[0]}" if len(ns) == 1 else f"n = {ns[0]}–{ns[-1]}"
    return n + " forget items" + (f" (1 item = {100 / ns[0]:.3g} %)" if len(ns) == 1 else "")


def _lens_curve(ax: Axes, df: pd.DataFrame, name: str, color: str, seeded: bool) -> None:
    """One model's accuracy by layer; mean ± std band over seeds only where there are ≥ 2 of them."""
    g = df.groupby("layer")["accuracy"].agg(["mean", "std", "count"]).reset_index()
    seeds = int(g["count"].max())
    if seeded:
        name += f", mean ± std over {seeds} seeds" if seeds > 1 else ", one seed"
    ax.plot(g["layer"], 100 * g["mean"], color=color, marker="o", ms=3, lw=1.6, label=name)
    if seeds > 1:
        ax.fill_between(
            g["layer"],
            100 * (g["mean"] - g["std"].fillna(0)),
            100 * (g["mean"] + g["std"].fillna(0)),
            color=color,
            alpha=0.15,
            lw=0,
        )


@_with_style
def fig4_logit_lens(
    results_dir: str | Path,
    out_dir: str | Path,
    *,
    methods: Sequence[str] = ("GD", "SSIUU"),
    labels: Mapping[str, str] | None = None,
    stem: str = "fig4_logit_lens",
) -> list[Path]:
    """Fig. 4: logit-lens accuracy P(gold) > P(distractor) by layer; one panel per method (base model and
    unlearned model, mean over seeds), chance = 50 %, the number n of forget items in each panel's title.
    One row per analysed (benchmark, model); panels lettered (a), (b), … across the figure."""
    pairs = analysis_pairs(results_dir) or [("", "")]
    fig = _new_figure(4.6 * len(methods) + 0.4, 3.4 * len(pairs) + 0.4)
    axes = fig.subplots(len(pairs), len(methods), squeeze=False)
    for r, (row, (bench, model)) in enumerate(zip(axes, pairs, strict=True)):
        where = f"{_label(labels, bench)}\n{_label(labels, model)}" if bench else ""
        lens = (
            read_logit_lens(Path(results_dir) / bench / model / "analysis" / "logit_lens.csv")
            if bench
            else None
        )
        for i, (ax, method) in enumerate(zip(row, methods, strict=True)):
            title = f"({chr(97 + r * len(methods) + i)}) {_label(labels, method)}"
            if lens is None:
                skip_panel(ax, f"{title}\n{where}", "logit_lens.csv missing")
                continue
            sel, base = lens[lens["method"] == method], lens[lens["method"] == "base"]
            if sel.empty:
                skip_panel(ax, f"{title}\n{where}", f"no logit-lens rows for {method}")
                continue
            if not base.empty:
                _lens_curve(ax, base, "Original model", "0.35", seeded=False)
            color = SSIUU_COLOR if method.upper() == "SSIUU" else "#ff7f0e"
            _lens_curve(ax, sel, f"Unlearned ({_label(labels, method)})", color, seeded=True)
            ax.axhline(50, color="#1f77b4", ls=":", lw=1.5, label="Chance (50 %)")
            ax.set_ylim(0, 100)
            ax.set_xlabel("Layer (0 = embeddings)")
            ax.set_ylabel("Logit-lens accuracy (%)\nP(gold) > P(distractor)")
            ax.set_title(f"{title}: {_lens_n(pd.concat([base, sel]))}\n{where}")
            ax.grid(alpha=0.3)
            ax.legend(frameon=False, loc="best")
    fig.suptitle("Fig. 4 — Knowledge in intermediate layers (logit lens)", fontweight="bold")
    return save_figure(fig, out_dir, stem)


# --------------------------------------------------------------------------------------------- Fig. 5
@_with_style
def fig5_heatmaps(
    results_dir: str | Path,
    out_dir: str | Path,
    *,
    attribution_target: str = "prob",
    methods: Sequence[str] = ("GD", "SSIUU"),
    top_k: int = 100,
    labels: Mapping[str, str] | None = None,
    stem: str = "fig5_heatmaps",
) -> list[Path]:
    """Fig. 5: mean of the top-``top_k`` D̃+ (top row) and D̃− (bottom row) per module × layer, one column per
    method, shared colour scale per direction. Two rows per analysed (benchmark, model)."""
    pairs = analysis_pairs(results_dir) or [("", "")]
    fig = _new_figure(5.2 * len(methods) + 1.0, 2.9 * 2 * len(pairs) + 0.4)
    axes = fig.subplots(2 * len(pairs), len(methods), squeeze=False)
    for p, (bench, model) in enumerate(pairs):
        where = f"{_label(labels, bench)}\n{_label(labels, model)}" if bench else ""
        heat = (
            read_influence(Path(results_dir) / bench / model / "analysis" / "influence", "heatmap")
            if bench
            else None
        )
        for s, (sign, sym, name, cmap) in enumerate(
            (
                ("plus", "D̃⁺", "D̃⁺ (positive influence removed)", "Blues"),
                ("minus", "D̃⁻", "D̃⁻ (negative influence added)", "Reds"),
            )
        ):
            row = axes[2 * p + s]
            if heat is None:
                for ax, method in zip(row, methods, strict=True):
                    skip_panel(ax, f"{_label(labels, method)}: {name}", "influence/heatmap.csv missing")
                continue
            data = (
                heat[heat["sign"] == sign]
                .groupby(["method", "module", "layer"])["value"]
                .mean()
                .reset_index()
            )
            vmax = float(data[data["method"].isin(methods)]["value"].max()) if not data.empty else 0.0
            vmax = vmax if vmax > 0 else 1.0
            im = None
            for ax, method in zip(row, methods, strict=True):
                title = f"{_label(labels, method)}: {name}\n{where}"
                d = data[data["method"] == method]
                if d.empty:
                    skip_panel(ax, title, f"no heatmap rows for {method}")
                    continue
                grid = d.pivot(index="module", columns="layer", values="value")
                mods = [m for m in MODULE_ORDER if m in grid.index] + sorted(
                    m for m in grid.index if m not in MODULE_ORDER
                )
                grid = grid.loc[mods]
                im = ax.imshow(
                    grid.to_numpy(dtype=float),
                    aspect="auto",
                    cmap=cmap,
                    vmin=0,
                    vmax=vmax,
                    interpolation="nearest",
                )
                ax.set_yticks(range(len(mods)), [MODULE_LABELS.get(m, m) for m in mods])
                layers = list(grid.columns)
                step = max(1, len(layers) // 14)
                ax.set_xticks(
                    range(0, len(layers), step), [str(layers[j]) for j in range(0, len(layers), step)]
                )
                ax.set_xlabel("Layer")
                ax.set_title(title)
            if im is not None:
                fig.colorbar(
                    im,
                    ax=list(row),
                    shrink=0.9,
                    label=f"mean of top-{top_k} {sym}\n({ATTRIBUTION_UNITS[attribution_target]})",
                )
    fig.suptitle("Fig. 5 — Influence variation per module and layer", fontweight="bold")
    return save_figure(fig, out_dir, stem)


# --------------------------------------------------------------------------------------------- Fig. 6
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


def _drawn_bins(df: pd.DataFrame) -> tuple[pd.DataFrame, float | None]:
    """The bins to draw and the fraction of values outside them (``None`` when the file does not say).
    Histograms of the old writer clipped the tails into the edge bins: those two bins are not drawn, and
    their share is the fraction outside the drawn range."""
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
    quoted = [(i, paper_values.PAPER_RHO[m]) for i, m in enumerate(names) if m in paper_values.PAPER_RHO]
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


def _distribution_title(
    letter: str, method: str, seed: Any, rho: float | None, labels: Mapping[str, str] | None
) -> str:
    title = f"({letter}) {_label(labels, method)}"
    if seed is not None:
        title += f", seed {int(seed)}"
    return title + (f"  (ρ = {rho:.2f})" if rho is not None else "")


@_with_style
def fig6_distributions(
    results_dir: str | Path,
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
    pairs = analysis_pairs(results_dir) or [("", "")]
    loaded = {
        pair: read_distributions(Path(results_dir) / pair[0] / pair[1] / "analysis")
        if pair[0]
        else (None, None)
        for pair in pairs
    }
    found_all = sorted(
        {m for h, _ in loaded.values() if h is not None for m in h.loc[h["state"] != "base", "method"]}
    )
    shown = _ordered(found_all, methods) or list(methods or [])
    n_cols = max(1, len(shown)) + 1
    fig = _new_figure(3.6 * n_cols + 0.4, 3.5 * len(pairs) + 0.9)
    axes = fig.subplots(len(pairs), n_cols, squeeze=False)
    colors = method_colors(shown)
    legend: dict[str, Any] = {}
    unit = ATTRIBUTION_UNITS[attribution_target]
    for r, (row, pair) in enumerate(zip(axes, pairs, strict=True)):
        hist, rho = loaded[pair]
        letters = [chr(97 + r * n_cols + i) for i in range(n_cols)]
        where = f"{_label(labels, pair[0])}\n{_label(labels, pair[1])}" if pair[0] else ""
        rho_by = _rho_by_method(rho)
        if not shown:
            skip_panel(row[0], f"({letters[0]}) distributions\n{where}", "distributions.csv missing")
        for i, (ax, method) in enumerate(zip(row[:-1], shown, strict=False)):
            if hist is None:
                missing = f"({letters[i]}) {_label(labels, method)}\n{where}"
                skip_panel(ax, missing, "distributions.csv missing")
                continue
            seed, curves = _distribution_curves(hist, method, attack_p)
            rho_seed = _rho_for_seed(rho, method, seed)
            if rho_seed is None and rho_by.get(method, (0, 0, 0))[2] == 1:
                rho_seed = rho_by[method][0]
            title = f"{_distribution_title(letters[i], method, seed, rho_seed, labels)}\n{where}"
            if not any(state != "base" for _, _, state in curves):
                skip_panel(ax, title, f"no distribution rows for {method}")
                continue
            _draw_distributions(ax, curves, unit)
            ax.set_title(title)
            _collect_legend(legend, ax)
        ax = row[-1]
        title = f"({letters[-1]}) Pre- vs post-attack correlation\n{where}"
        if not rho_by:
            skip_panel(ax, title, "no correlation (ρ) results")
            continue
        names = _ordered(list(rho_by), methods)
        bar_colors = colors | {m: c for m, c in method_colors(names).items() if m not in colors}
        _draw_rho_bars(ax, rho_by, names, bar_colors)
        ticks = [_label(labels, m) for m in names]
        ax.set_xticks(np.arange(len(names)), ticks, rotation=30 if len(names) > 5 else 0)
        ax.set_title(title)
        legend.setdefault(_rho_legend(rho_by), Patch(facecolor="0.55"))
        _collect_legend(legend, ax)
    if legend:
        fig.legend(
            list(legend.values()),
            list(legend),
            loc="outside lower center",
            ncols=min(5, len(legend)),
            frameon=False,
        )
    fig.suptitle("Fig. 6 — Attribution distributions before and after the harmful attack", fontweight="bold")
    return save_figure(fig, out_dir, stem)


# --------------------------------------------------------------------------------------------- Fig. 7
def _split_interval(
    results: Sequence[Mapping[str, Any]], part: str, style: str, opts: Mapping[str, Any]
) -> Interval:
    """Percent score of ``part`` (retain/test) over the seeds' per-item answers; without them, the seeds' mean
    score with no interval."""
    key = "correct" if style == "mcqa" else "rougeL_recall"
    items = [float(e[key]) for r in results for e in (r.get("per_item") or {}).get(part, []) if key in e]
    if items:
        return mean_interval(items, **opts).scaled(100.0)
    scores = [float(r[f"{part}_score"]) for r in results if r.get(f"{part}_score") is not None]
    return Interval(100.0 * float(np.mean(scores)) if scores else math.nan, math.nan, math.nan, len(scores))


def _lambda_rows(
    results_dir: str | Path,
    bench: str,
    model: str,
    *,
    ablation_method: str,
    lambda_variants: Sequence[str] | None,
    harmful_lrs: Sequence[float],
    harmful_ps: Sequence[float],
    confidence: float = 0.95,
    n_resamples: int = 9999,
    min_logprob_drop: float = 0.1,
) -> pd.DataFrame:
    """Per λ: retain and test scores after unlearning and the harmful attack cells (percent; recovered
    fractions as fractions), each with ``_low`` / ``_high`` / ``_n``, over the seeds of that λ's run."""
    from ssiuu.report.aggregate import attack_cells_of, cell_columns

    unlearned = collect_results(results_dir, include_default=False, attacks=False)
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
    attacks = collect_attacks(results_dir)
    keys = [attack_key("harmful", p) for p in harmful_ps]
    opts = {"confidence": confidence, "n_resamples": n_resamples}
    rows = []
    for method in [m for m in [ablation_method, *variants] if m in found]:
        sel = unlearned[unlearned["method"] == method]
        if sel["lambda"].isna().any():
            raise ResultError(
                f"{bench}/{model}: no λ for {method} (params.lambda_ missing and no -lambda<x> suffix)"
            )
        style = sel["style"].iloc[0]
        results = [
            read_json(Path(results_dir) / bench / model / method / f"seed{s}" / "unlearn.json")
            for s in sel["seed"]
        ]
        row: dict[str, Any] = {"lambda": float(sel["lambda"].iloc[0]), "method": method}
        for part in ("retain", "test"):
            row |= cell_columns(part, _split_interval(results, part, style, opts), 1.0)
        mine = attacks[
            (attacks["benchmark"] == bench) & (attacks["model"] == model) & (attacks["method"] == method)
        ]
        row |= attack_cells_of(mine, keys, {"harmful": harmful_lrs, "benign": []}, opts, min_logprob_drop)
        rows.append(row)
    return pd.DataFrame(rows).sort_values("lambda").reset_index(drop=True) if rows else pd.DataFrame()


def _lr_sweep_rows(
    attacks: pd.DataFrame, keys: Sequence[str], opts: Mapping[str, Any], min_drop: float
) -> pd.DataFrame:
    """Per learning rate: the attack cells of that learning rate alone (columns as in :func:`aggregate_table`)."""
    from ssiuu.report.aggregate import attack_cells_of

    rows = []
    for lr in sorted({float(x) for x in attacks["lr"]}):
        cols = attack_cells_of(attacks, keys, {"harmful": [lr], "benign": [lr]}, opts, min_drop)
        rows.append({"lr": lr} | {k: v for k, v in cols.items() if not k.endswith("_cell")})
    return pd.DataFrame(rows)


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
    value, low, high = _ci_arrays(df, col, scale)
    ok = np.isfinite(value)
    if not ok.any():
        return False
    n = _n_text(df[f"{col}_n"]) if f"{col}_n" in df.columns else ""
    xs = x.to_numpy(dtype=float)
    ax.plot(xs[ok], value[ok], color=color, marker=marker, ls=ls, lw=1.4, ms=5, label=name)
    _ci_errorbars(ax, xs, value, low, high, color=color)
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


def _fig7_styles(harmful_ps: Sequence[float]) -> dict[str, tuple[str, str, str, str]]:
    """One style per quantity, shared by all panels: (label, colour, marker, line style)."""
    styles = {
        "retain": ("Retain set (C_r) after unlearning", "#2ca02c", "o", "-"),
        "test": ("Test set (C_t) after unlearning", "#1f77b4", "s", "-"),
        "benign": ("Benign attack", "#6baed6", "D", ":"),
    }
    for j, p in enumerate(harmful_ps):
        styles[attack_key("harmful", p)] = (
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
        skip_panel(axes[0], f"(a) λ ablation\n{title}", f"fewer than two λ values of {method} found")
        skip_panel(
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
        skip_panel(axes[1], f"(d) λ ablation: recovered fraction\n{title}", NO_ITEMS)
        return
    _log_x_axes(
        axes[1],
        "Regularisation weight λ (log scale)",
        "Recovered (% of start − unlearned)",
        f"(d) λ ablation: recovered fraction\n{title}",
        None,
    )


def _fig7_sweep(
    axes: Sequence[Axes],
    sweep: pd.DataFrame,
    keys: Sequence[str],
    styles: Mapping[str, Any],
    title: str,
    configured: Sequence[float],
) -> None:
    """(b, c) attack score vs the attack's learning rate; (e, f) recovered fraction vs learning rate."""
    ylabels = ("Max forget score during the attack (%)", "Recovered (% of start − unlearned)")
    for ax, suffix, scale, ylabel, name, ylim in zip(
        axes, ("", "_recovered"), (1.0, 100.0), ylabels, title, ((0, 105), None), strict=True
    ):
        if not any([_ci_line(ax, sweep["lr"], sweep, f"{key}{suffix}", styles[key], scale) for key in keys]):
            skip_panel(ax, name, NO_ITEMS)
            continue
        for lr in configured:
            ax.axvline(
                lr, color="0.6", ls=(0, (1, 2)), lw=1, zorder=0, label="configured harmful learning rates"
            )
        _log_x_axes(ax, "Attack learning rate η (log scale)", ylabel, name, ylim)


def _fig7_method(
    top: Axes,
    bottom: Axes,
    attacks: pd.DataFrame,
    j: int,
    method: str,
    where: str,
    labels: Mapping[str, str] | None,
    spec: Mapping[str, Any],
) -> None:
    """(b, c) and (e, f) for one swept method: its attack cells at each learning rate on their own.
    ``spec``: keys, styles, opts, min_drop, configured (the configured harmful learning rates)."""
    titles = [
        f"({chr(98 + j)}) Attack learning rate — {_label(labels, method)}\n{where}",
        f"({chr(101 + j)}) Recovered fraction — {_label(labels, method)}\n{where}",
    ]
    if attacks.empty:
        for ax, title in zip((top, bottom), titles, strict=True):
            skip_panel(ax, title, f"no attack results for {method}")
        return
    keys = [*spec["keys"], "benign"]
    sweep = _lr_sweep_rows(attacks, keys, spec["opts"], spec["min_drop"])
    _fig7_sweep([top, bottom], sweep, keys, spec["styles"], titles, spec["configured"])


def _mcqa_pairs(base: pd.DataFrame) -> list[tuple[str, str]]:
    """The MCQA-style (benchmark, model) pairs (the λ ablation and the sweep run there), else every pair."""
    pairs = list(zip(base["benchmark"], base["model"], strict=True))
    mcqa = [pair for pair, style in zip(pairs, base["style"], strict=True) if style == "mcqa"]
    return mcqa or pairs


@_with_style
def fig7_ablation(
    results_dir: str | Path,
    out_dir: str | Path,
    *,
    harmful_lrs: Sequence[float],
    harmful_ps: Sequence[float] = (0.1, 0.3),
    lambda_variants: Sequence[str] | None = None,
    ablation_method: str = "SSIUU",
    lr_sweep_methods: Sequence[str] = ("GA", "GD"),
    labels: Mapping[str, str] | None = None,
    confidence: float = 0.95,
    n_resamples: int = 9999,
    min_logprob_drop: float = 0.1,
    stem: str = "fig7_ablation",
) -> list[Path]:
    """Fig. 7: (a) λ ablation of SSIUU — retain and test scores after unlearning and the harmful attacks' score
    (configured learning rates) vs λ; (b, c) the attack score at each attack learning rate on its own, one
    panel per method in ``lr_sweep_methods``; (d–f) the same for the recovered fraction. Every point carries its
    95 % interval (items pooled over seeds and runs), none where it rests on one value; n is written at each
    line's end. Two rows per MCQA-style (benchmark, model)."""
    pairs = _mcqa_pairs(collect_base(results_dir))
    attacks = collect_attacks(results_dir)
    n_cols = 1 + len(lr_sweep_methods)
    fig = _new_figure(4.8 * n_cols + 0.4, 7.4 * len(pairs) + 1.2)
    axes = fig.subplots(2 * len(pairs), n_cols, squeeze=False)
    opts = {"confidence": confidence, "n_resamples": n_resamples}
    keys = [attack_key("harmful", p) for p in harmful_ps]
    spec = {
        "keys": keys,
        "styles": _fig7_styles(harmful_ps),
        "opts": opts,
        "min_drop": min_logprob_drop,
        "configured": harmful_lrs,
    }
    lam_options = {
        "ablation_method": ablation_method,
        "lambda_variants": lambda_variants,
        "harmful_lrs": harmful_lrs,
        "harmful_ps": harmful_ps,
        "min_logprob_drop": min_logprob_drop,
    }
    legend: dict[str, Any] = {}
    for i, (bench, model) in enumerate(pairs):
        top, bottom = axes[2 * i], axes[2 * i + 1]
        where = f"{_label(labels, bench)} · {_label(labels, model)}"
        lam = _lambda_rows(results_dir, bench, model, **lam_options, **opts)
        _fig7_lambda([top[0], bottom[0]], lam, keys, spec["styles"], where, ablation_method)
        mine = attacks[(attacks["benchmark"] == bench) & (attacks["model"] == model)]
        for j, method in enumerate(lr_sweep_methods):
            _fig7_method(
                top[1 + j], bottom[1 + j], mine[mine["method"] == method], j, method, where, labels, spec
            )
        for ax in (*top, *bottom):
            _collect_legend(legend, ax)
    _figure_legend(
        fig, legend, _ci_note(confidence) + " n at each line's end: items × seeds or × runs per point."
    )
    fig.suptitle("Fig. 7 — Regularisation weight and attack learning rates", fontweight="bold")
    return save_figure(fig, out_dir, stem)


# --------------------------------------------------------------------------------------------- all
FIGURES: dict[str, Callable[..., list[Path]]] = {
    "fig2_vulnerability": fig2_vulnerability,
    "fig3_influence": fig3_influence,
    "fig4_logit_lens": fig4_logit_lens,
    "fig5_heatmaps": fig5_heatmaps,
    "fig6_distributions": fig6_distributions,
    "fig7_ablation": fig7_ablation,
}


def build_figures(
    results_dir: str | Path,
    out_dir: str | Path,
    *,
    methods: Sequence[str],
    harmful_lrs: Sequence[float],
    benign_lrs: Sequence[float],
    harmful_ps: Sequence[float] = (0.1, 0.3),
    labels: Mapping[str, str] | None = None,
    influence_methods: Sequence[str] | None = None,
    heatmap_methods: Sequence[str] = ("GD", "SSIUU"),
    logit_lens_methods: Sequence[str] = ("GD", "SSIUU"),
    distribution_methods: Sequence[str] | None = None,
    distribution_attack_p: float = 0.1,
    lambda_variants: Sequence[str] | None = None,
    ablation_method: str = "SSIUU",
    lr_sweep_methods: Sequence[str] = ("GA", "GD"),
    top_k: int = 100,
    attribution_target: str = "prob",
    confidence: float = 0.95,
    n_resamples: int = 9999,
    min_logprob_drop: float = 0.1,
) -> dict[str, list[Path]]:
    """Write all figures (``fig2_vulnerability``, ``fig3_influence``, ``fig4_logit_lens``, ``fig5_heatmaps``,
    ``fig6_distributions``, ``fig7_ablation``; each ``.png`` + ``.pdf``) under ``out_dir``."""
    common = {"labels": labels}
    stats_opts = {"confidence": confidence, "n_resamples": n_resamples, "min_logprob_drop": min_logprob_drop}
    return {
        "fig2_vulnerability": fig2_vulnerability(
            results_dir,
            out_dir,
            methods=methods,
            harmful_lrs=harmful_lrs,
            benign_lrs=benign_lrs,
            harmful_ps=harmful_ps,
            **stats_opts,
            **common,
        ),
        "fig3_influence": fig3_influence(
            results_dir,
            out_dir,
            methods=influence_methods or methods,
            top_k=top_k,
            attribution_target=attribution_target,
            **common,
        ),
        "fig4_logit_lens": fig4_logit_lens(results_dir, out_dir, methods=logit_lens_methods, **common),
        "fig5_heatmaps": fig5_heatmaps(
            results_dir,
            out_dir,
            methods=heatmap_methods,
            top_k=top_k,
            attribution_target=attribution_target,
            **common,
        ),
        "fig6_distributions": fig6_distributions(
            results_dir,
            out_dir,
            attribution_target=attribution_target,
            methods=distribution_methods or methods,
            attack_p=distribution_attack_p,
            **common,
        ),
        "fig7_ablation": fig7_ablation(
            results_dir,
            out_dir,
            harmful_lrs=harmful_lrs,
            harmful_ps=harmful_ps,
            lambda_variants=lambda_variants,
            ablation_method=ablation_method,
            lr_sweep_methods=lr_sweep_methods,
            **stats_opts,
            **common,
        ),
    }


__all__ = [
    "FIGURES",
    "analysis_pairs",
    "build_figures",
    "fig2_vulnerability",
    "fig3_influence",
    "fig4_logit_lens",
    "fig5_heatmaps",
    "fig6_distributions",
    "fig7_ablation",
    "parse_state",
    "read_distributions",
    "read_influence",
    "read_logit_lens",
    "save_figure",
]
