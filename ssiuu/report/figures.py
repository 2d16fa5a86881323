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
from matplotlib.patches import Patch

from ssiuu.io import atomic_path
from ssiuu.report import paper_values
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


def read_distributions(analysis_dir: str | Path) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """(histograms: method, seed, state in base|unlearned|attacked, bin_left, bin_right, density;
    rho: method, seed, rho) — either is ``None`` when missing."""
    d = Path(analysis_dir)
    hist = rho = None
    path = d / "distributions.csv"
    if not path.exists() and (d / "distributions" / "histogram.csv").exists():
        path = d / "distributions" / "histogram.csv"
    if path.exists():
        df = _read_csv(path)
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
            df["density"] = df["count"] / df.groupby(label)["count"].transform("sum") / width
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
        hist = df[["method", "seed", "state", "bin_left", "bin_right", "density"]]
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
    stem: str = "fig2_vulnerability",
) -> list[Path]:
    """Fig. 2: per method, forget score after unlearning vs after the harmful (each p) and benign attacks.

    One panel per (benchmark, model); bars are means (± std over seeds / seed × runs) in %; the dashed line is
    the Default (pre-unlearning) forget score."""
    base = collect_base(results_dir)
    pairs = [
        (b, m)
        for b, m in zip(base["benchmark"], base["model"], strict=True)
        if benchmarks is None or b in benchmarks
    ]
    if not pairs:
        raise ResultError(f"no benchmark results under {results_dir} for Fig. 2")
    keys = ["FS"] + [attack_key("harmful", p) for p in harmful_ps] + ["benign"]
    names = ["After unlearning"] + [f"Harmful attack, p = {p:g}" for p in harmful_ps] + ["Benign attack"]
    colors = ["#bdbdbd", "#fd8d3c", "#d94701", "#6baed6"]
    width = max(7.5, 1.1 * len(methods) + 2.0)
    fig = _new_figure(width, 3.2 * len(pairs) + 1.0)
    axes = fig.subplots(len(pairs), 1, squeeze=False)[:, 0]
    tables = {
        style: aggregate_table(
            results_dir,
            style,
            methods=methods,
            harmful_lrs=harmful_lrs,
            benign_lrs=benign_lrs,
            harmful_ps=harmful_ps,
        )
        for style in dict.fromkeys(base["style"])
    }
    for ax, (bench, model) in zip(axes, pairs, strict=True):
        style = base[(base["benchmark"] == bench) & (base["model"] == model)]["style"].iloc[0]
        table = tables[style]
        table = table[(table["benchmark"] == bench) & (table["model"] == model)]
        rows = table[table["method"] != DEFAULT]
        title = f"{_label(labels, bench)} — {_label(labels, model)}"
        if rows.empty:
            skip_panel(ax, title, "no unlearning results")
            continue
        x = np.arange(len(rows))
        w = 0.8 / len(keys)
        for i, (k, name) in enumerate(zip(keys, names, strict=True)):
            vals = rows[k].to_numpy(dtype=float)
            err = np.nan_to_num(rows[f"{k}_std"].to_numpy(dtype=float))
            pos = x + (i - (len(keys) - 1) / 2) * w
            ax.bar(
                pos,
                np.nan_to_num(vals),
                w,
                yerr=err,
                capsize=2,
                color=colors[i % len(colors)],
                label=name,
                edgecolor="white",
                linewidth=0.5,
                error_kw={"elinewidth": 0.8},
            )
            for px, v in zip(pos, vals, strict=True):
                if np.isnan(v):
                    ax.text(px, 1, "n/a", ha="center", va="bottom", fontsize=6, rotation=90, color="0.4")
        default = table[table["method"] == DEFAULT]
        if not default.empty:
            fs0 = float(default["FS"].iloc[0])
            ax.axhline(fs0, color="0.3", ls="--", lw=1, label="Default model (before unlearning)")
            ax.annotate(
                f"{fs0:.1f} %",
                (1.0, fs0),
                xycoords=("axes fraction", "data"),
                xytext=(-2, 3),
                textcoords="offset points",
                ha="right",
                va="bottom",
                fontsize=8,
                color="0.3",
            )
        ax.set_xticks(x, [_label(labels, m) for m in rows["method"]])
        ax.set_ylabel(f"Forget-set {_style_name(style)} (%)")
        ax.set_ylim(0, 105)
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
    handles, names_ = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, names_, loc="outside lower center", ncols=3, frameon=False)
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
            ax.set_ylabel(f"Cumulative influence variation\n(Σ D̃, attribution in {ATTRIBUTION_UNITS[attribution_target]})")
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
    unlearned model, mean over seeds), chance = 50 %. One row per analysed (benchmark, model)."""
    pairs = analysis_pairs(results_dir) or [("", "")]
    fig = _new_figure(4.6 * len(methods) + 0.4, 3.4 * len(pairs) + 0.4)
    axes = fig.subplots(len(pairs), len(methods), squeeze=False)
    for row, (bench, model) in zip(axes, pairs, strict=True):
        where = f"{_label(labels, bench)}\n{_label(labels, model)}" if bench else ""
        lens = (
            read_logit_lens(Path(results_dir) / bench / model / "analysis" / "logit_lens.csv")
            if bench
            else None
        )
        for i, (ax, method) in enumerate(zip(row, methods, strict=True)):
            title = f"({chr(97 + i)}) {_label(labels, method)}\n{where}"
            if lens is None:
                skip_panel(ax, title, "logit_lens.csv missing")
                continue
            sel = lens[lens["method"] == method]
            if sel.empty:
                skip_panel(ax, title, f"no logit-lens rows for {method}")
                continue
            for name, df, color, ls in (
                ("Original model", lens[lens["method"] == "base"], "0.35", "-"),
                (
                    f"Unlearned ({_label(labels, method)})",
                    sel,
                    SSIUU_COLOR if method.upper() == "SSIUU" else "#ff7f0e",
                    "-",
                ),
            ):
                if df.empty:
                    continue
                g = df.groupby("layer")["accuracy"].agg(["mean", "std", "count"]).reset_index()
                ax.plot(g["layer"], 100 * g["mean"], color=color, ls=ls, marker="o", ms=3, lw=1.6, label=name)
                if (g["count"] > 1).any():
                    ax.fill_between(
                        g["layer"],
                        100 * (g["mean"] - g["std"].fillna(0)),
                        100 * (g["mean"] + g["std"].fillna(0)),
                        color=color,
                        alpha=0.15,
                        lw=0,
                    )
            ax.axhline(50, color="#1f77b4", ls=":", lw=1.5, label="Chance (50 %)")
            ax.set_ylim(0, 100)
            ax.set_xlabel("Layer (0 = embeddings)")
            ax.set_ylabel("Logit-lens accuracy (%)\nP(gold) > P(distractor)")
            ax.set_title(title)
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
                    im, ax=list(row), shrink=0.9, label=f"mean of top-{top_k} {sym}\n({ATTRIBUTION_UNITS[attribution_target]})"
                )
    fig.suptitle("Fig. 5 — Influence variation per module and layer", fontweight="bold")
    return save_figure(fig, out_dir, stem)


# --------------------------------------------------------------------------------------------- Fig. 6
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
    """Fig. 6: (a) attribution distributions of the original, unlearned and attacked (harmful, p = ``attack_p``)
    models per method, ρ in the title; (b) Pearson ρ between pre- and post-attack attributions per method (mean
    ± std over seeds), with the paper's quoted ρ as hollow markers. One row per analysed (benchmark, model)."""
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
    for row, pair in zip(axes, pairs, strict=True):
        hist, rho = loaded[pair]
        where = f"{_label(labels, pair[0])}\n{_label(labels, pair[1])}" if pair[0] else ""
        rho_by: dict[str, tuple[float, float, int]] = {}
        if rho is not None:
            for method, g in rho.groupby("method"):
                v = g["rho"].to_numpy(dtype=float)
                rho_by[method] = (float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else math.nan, v.size)
        if not shown:
            skip_panel(row[0], f"(a) attribution distributions\n{where}", "distributions.csv missing")
        for ax, method in zip(row[:-1], shown, strict=False):
            title = f"(a) {_label(labels, method)}"
            if method in rho_by:
                title += f"  (ρ = {rho_by[method][0]:.2f})"
            title += f"\n{where}"
            if hist is None:
                skip_panel(ax, title, "distributions.csv missing")
                continue
            sel = hist[hist["method"] == method]
            if sel.empty:
                skip_panel(ax, title, f"no distribution rows for {method}")
                continue
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
            for name, df, state in curves:
                if df.empty:
                    continue
                df = df.drop_duplicates(subset=["bin_left", "bin_right"]).sort_values("bin_left")
                centers = (df["bin_left"] + df["bin_right"]) / 2
                ax.plot(
                    centers,
                    df["density"].where(df["density"] > 0),  # empty bins: a gap, not a spike on the log axis
                    color=STATE_COLORS[state],
                    lw=1.3,
                    ls="--" if state == "base" else "-",
                    label=name,
                )
            ax.set_yscale("log")
            ax.set_xlabel(f"Neuron attribution ({ATTRIBUTION_UNITS[attribution_target]})")
            ax.set_ylabel("Density (log scale)")
            ax.set_title(title)
            ax.grid(alpha=0.3)
            _collect_legend(legend, ax)
        ax = row[-1]
        title = f"(b) Pre- vs post-attack correlation\n{where}"
        if not rho_by:
            skip_panel(ax, title, "no correlation (ρ) results")
            continue
        names = _ordered(list(rho_by), methods)
        x = np.arange(len(names))
        means = [rho_by[m][0] for m in names]
        errs = [0 if math.isnan(rho_by[m][1]) else rho_by[m][1] for m in names]
        bar_colors = colors | {m: c for m, c in method_colors(names).items() if m not in colors}
        ax.bar(
            x, means, 0.6, yerr=errs if any(errs) else None, capsize=3, color=[bar_colors[m] for m in names]
        )
        legend.setdefault("ρ of this run (bars; mean ± std over seeds)", Patch(facecolor="0.55"))
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
            ax.text(
                i,
                v - 0.03 if v > 0.15 else v + 0.03,
                f"{v:.2f}",
                ha="center",
                va="top" if v > 0.15 else "bottom",
                fontsize=8,
                color="white" if v > 0.15 else "black",
            )
        ax.set_xticks(x, [_label(labels, m) for m in names], rotation=30 if len(names) > 5 else 0)
        lo = min(0.0, min(means) - 0.1)
        ax.set_ylim(lo, 1.15)
        ax.set_ylabel("Pearson ρ (pre vs post attack)")
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
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
def _lambda_rows(
    results_dir: str | Path,
    bench: str,
    model: str,
    *,
    ablation_method: str,
    lambda_variants: Sequence[str] | None,
    harmful_lrs: Sequence[float],
    harmful_ps: Sequence[float],
) -> pd.DataFrame:
    """Per λ: mean retain / test score and post-attack FS over seeds (fractions)."""
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
    per_seed = collect_results(
        results_dir,
        include_default=False,
        methods=[ablation_method, *variants],
        harmful_lrs=harmful_lrs,
        benign_lrs=(),
        harmful_ps=harmful_ps,
    )
    per_seed = per_seed[(per_seed["benchmark"] == bench) & (per_seed["model"] == model)]
    sel = per_seed[per_seed["method"].isin([ablation_method, *variants])]
    if sel.empty:
        return pd.DataFrame()
    if sel["lambda"].isna().any():
        bad = sorted(sel.loc[sel["lambda"].isna(), "method"].unique())
        raise ResultError(
            f"{bench}/{model}: no λ for {bad} (params.lambda_ missing and no -lambda<x> suffix)"
        )
    cols = ["retain", "test"] + [
        c for c in (attack_key("harmful", p) for p in harmful_ps) if c in sel.columns
    ]
    agg = sel.groupby("lambda")[cols].agg(["mean", "std"])
    agg.columns = [f"{a}_{b}" for a, b in agg.columns]
    return agg.reset_index().sort_values("lambda")


@_with_style

def _percent_errorbar(ax: Any, x: Any, mean: Any, std: Any, style: tuple[str, str, str, str]) -> None:
    """One line of fractions drawn as percentages, ± std as error bars (no bar where std is undefined)."""
    name, color, marker, ls = style
    ax.errorbar(x, 100 * mean, yerr=100 * std.fillna(0), color=color, marker=marker, ls=ls,
                capsize=2, lw=1.4, ms=5, label=name)


def _log_x_percent_axes(ax: Any, xlabel: str, ylabel: str, title: str) -> None:
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 105)
    ax.set_title(title)
    ax.grid(alpha=0.3)

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
    stem: str = "fig7_ablation",
) -> list[Path]:
    """Fig. 7: (a) λ ablation of SSIUU — retain and test scores after unlearning and forget score after the
    harmful attacks (configured learning rates) vs λ (log x); (b, c) attack learning-rate sweeps: mean max FS
    vs attack learning rate for each p (and benign where run), one panel per method in ``lr_sweep_methods``.
    One row per MCQA-style (benchmark, model)."""
    base = collect_base(results_dir)
    pairs = [
        (b, m) for b, m, s in zip(base["benchmark"], base["model"], base["style"], strict=True) if s == "mcqa"
    ]
    if not pairs:
        pairs = [(b, m) for b, m in zip(base["benchmark"], base["model"], strict=True)]
    attacks = collect_attacks(results_dir)
    n_cols = 1 + len(lr_sweep_methods)
    fig = _new_figure(4.6 * n_cols + 0.4, 3.9 * len(pairs) + 0.9)
    axes = fig.subplots(len(pairs), n_cols, squeeze=False)
    harm_colors = ["#fd8d3c", "#d94701", "#7f2704"]
    # one style per quantity, shared by all panels: (label, colour, marker, line style)
    styles = {
        "retain": ("Retain set (C_r) after unlearning", "#2ca02c", "o", "-"),
        "test": ("Test set (C_t) after unlearning", "#1f77b4", "s", "-"),
        "benign": ("Forget set after benign attack", "#6baed6", "D", ":"),
    }
    for j, p in enumerate(harmful_ps):
        styles[attack_key("harmful", p)] = (
            f"Forget set after harmful attack, p = {p:g}",
            harm_colors[j % 3],
            "^",
            "--",
        )
    legend: dict[str, Any] = {}
    for row, (bench, model) in zip(axes, pairs, strict=True):
        where = f"{_label(labels, bench)}\n{_label(labels, model)}"
        ax = row[0]
        title = f"(a) λ ablation ({_label(labels, ablation_method)})\n{where}"
        lam = _lambda_rows(
            results_dir,
            bench,
            model,
            ablation_method=ablation_method,
            lambda_variants=lambda_variants,
            harmful_lrs=harmful_lrs,
            harmful_ps=harmful_ps,
        )
        if lam.empty or len(lam) < 2:
            skip_panel(ax, title, f"fewer than two λ values of {ablation_method} found")
        else:
            for key in ["retain", "test"] + [attack_key("harmful", p) for p in harmful_ps]:
                if f"{key}_mean" not in lam.columns or lam[f"{key}_mean"].isna().all():
                    continue
                _percent_errorbar(ax, lam["lambda"], lam[f"{key}_mean"], lam[f"{key}_std"], styles[key])
            _log_x_percent_axes(ax, "Regularisation weight λ (log scale)", "Accuracy (%)", title)
            _collect_legend(legend, ax)
        for i, (ax, method) in enumerate(zip(row[1:], lr_sweep_methods, strict=True)):
            title = f"({chr(98 + i)}) Attack learning rate — {_label(labels, method)}\n{where}"
            sel = attacks[
                (attacks["benchmark"] == bench) & (attacks["model"] == model) & (attacks["method"] == method)
            ]
            if sel.empty:
                skip_panel(ax, title, f"no attack results for {method}")
                continue
            for key in [attack_key("harmful", p) for p in harmful_ps] + ["benign"]:
                k = sel[sel["key"] == key]
                if k.empty:
                    continue
                # at each learning rate: mean ± std over seed × run of that run's max FS
                g = k.groupby("lr")["max_fs"].agg(["mean", "std"]).reset_index().sort_values("lr")
                _percent_errorbar(ax, g["lr"], g["mean"], g["std"], styles[key])
            _log_x_percent_axes(
                ax, "Attack learning rate η (log scale)", "Max forget-set accuracy\nduring the attack (%)", title
            )
            _collect_legend(legend, ax)
    if legend:
        fig.legend(
            list(legend.values()),
            list(legend),
            loc="outside lower center",
            ncols=min(3, len(legend)),
            frameon=False,
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
) -> dict[str, list[Path]]:
    """Write all figures (``fig2_vulnerability``, ``fig3_influence``, ``fig4_logit_lens``, ``fig5_heatmaps``,
    ``fig6_distributions``, ``fig7_ablation``; each ``.png`` + ``.pdf``) under ``out_dir``."""
    common = {"labels": labels}
    return {
        "fig2_vulnerability": fig2_vulnerability(
            results_dir,
            out_dir,
            methods=methods,
            harmful_lrs=harmful_lrs,
            benign_lrs=benign_lrs,
            harmful_ps=harmful_ps,
            **common,
        ),
        "fig3_influence": fig3_influence(
            results_dir, out_dir, methods=influence_methods or methods, top_k=top_k,
            attribution_target=attribution_target, **common
        ),
        "fig4_logit_lens": fig4_logit_lens(results_dir, out_dir, methods=logit_lens_methods, **common),
        "fig5_heatmaps": fig5_heatmaps(
            results_dir, out_dir, methods=heatmap_methods, top_k=top_k, attribution_target=attribution_target, **common
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
