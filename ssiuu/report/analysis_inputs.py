"""The analysis CSVs of Figs. 3-6 and the claims, read in the one schema :mod:`ssiuu.analysis` writes.

Under ``R/<benchmark>/<model>/analysis/`` (``ssiuu/analysis/pipeline.py``; each file's rule in brackets):

* ``influence/cumulative.csv`` — ``method, direction, m, cumulative`` and ``influence/heatmap.csv`` —
  ``method, direction, module, layer, value``; direction ``positive`` (D+) or ``negative`` (D−) [influence].
* ``distributions/histogram.csv`` — ``model, bin, bin_left, bin_right, count, density, n_below, n_above``
  (model ``base``, ``<method>`` or ``<method>+attack``). A file without ``n_below`` /
  ``n_above`` holds the values outside the bins in its edge bins (clipped). ``distributions/correlation.csv`` —
  ``pre, post, module, quantity, n_values, pearson_r`` (``module = all``: the whole model) [distributions].
  ``distributions/per_example.csv`` — ``method, seed, draw, item, module, quantity, n_values, pearson_r,
  spearman_r``: per forget example, attack draw, module type and quantity (``max`` / ``min``) the ρ over the
  neurons before and after the attack (claim 3) [distributions].
* ``logit_lens.csv`` — ``state, layer, accuracy, n_evaluated, n_skipped`` (state ``base`` or the method)
  [logit_lens].

A missing file is an optional input (``None``); a file without a column the report reads is a
:class:`ResultError` that names the file, the column and the rule to rerun.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ssiuu import layout
from ssiuu.report.results import ResultError, ResultFiles

#: ssiuu.analysis.influence.DIRECTIONS → the report's sign names
DIRECTIONS = {"positive": "plus", "negative": "minus"}
INFLUENCE_COLUMNS = {
    "cumulative": ("method", "direction", "m", "cumulative"),
    "heatmap": ("method", "direction", "module", "layer", "value"),
}
HISTOGRAM_COLUMNS = ("model", "bin_left", "bin_right", "density")
CORRELATION_COLUMNS = ("pre", "module", "n_values", "pearson_r")
LOGIT_LENS_COLUMNS = ("state", "layer", "accuracy", "n_evaluated")
HISTOGRAM_FILE = "distributions/histogram.csv"
CORRELATION_FILE = "distributions/correlation.csv"
PER_EXAMPLE_FILE = "distributions/per_example.csv"
PER_EXAMPLE_COLUMNS = ("method", "seed", "draw", "item", "module", "quantity", "pearson_r", "spearman_r")
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


def analysis_pairs(results: ResultFiles) -> list[tuple[str, str]]:
    """(benchmark, model) pairs with listed analysis outputs (``analysis/``)."""
    outputs = results.of("influence") + results.of("distributions") + results.of("logit_lens")
    return sorted({(p.parent.parent.parent.name, p.parent.parent.name) for p in outputs})


def read_csv(path: Path, columns: Sequence[str], rule: str) -> pd.DataFrame:
    """``path`` with at least ``columns``; else a :class:`ResultError` saying to rerun ``rule``."""
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ResultError(f"{path}: not a readable CSV ({err}); rerun the {rule} rule") from err
    if df.empty:
        raise ResultError(f"{path}: has no rows; rerun the {rule} rule")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ResultError(
            f"{path}: missing column {', '.join(map(repr, missing))} (found {list(df.columns)}); "
            f"rerun the {rule} rule"
        )
    return df


def _numeric(
    df: pd.DataFrame, col: str, path: Path, *, lo: float | None = None, hi: float | None = None
) -> None:
    """Convert ``col`` to float in place; every value finite and within [lo, hi]."""
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


def _states(df: pd.DataFrame, col: str) -> pd.DataFrame:
    """Add ``method``, ``seed`` (Int64, NA without a ``-seed<s>`` suffix) and ``attacked`` from label ``col``
    (:func:`ssiuu.layout.parse_state`)."""
    try:
        parsed = [layout.parse_state(x) for x in df[col].astype(str)]
    except ValueError as err:
        raise ResultError(str(err)) from err
    out = df.copy()
    out["method"] = [p[0] for p in parsed]
    out["seed"] = pd.array([p[1] for p in parsed], dtype="Int64")
    out["attacked"] = [p[2] for p in parsed]
    return out


# --------------------------------------------------------------------------------------------- influence
def _signs(direction: pd.Series, path: Path) -> pd.Series:
    bad = sorted(set(direction.astype(str)) - set(DIRECTIONS))
    if bad:
        raise ResultError(
            f"{path}: direction {bad[0]!r} is neither 'positive' nor 'negative'; rerun the influence rule"
        )
    return direction.astype(str).map(DIRECTIONS)


def _cumulative(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    _numeric(df, "m", path, lo=1)
    _numeric(df, "cumulative", path, lo=0)
    for key, g in df.groupby(["method", "seed", "sign"], dropna=False):
        g = g.sort_values("m")
        if (np.diff(g["cumulative"].to_numpy()) < -1e-9 * max(1.0, g["cumulative"].abs().max())).any():
            raise ResultError(f"{path}: cumulative curve {key} decreases with m (scores are clipped at 0)")
    return df[["method", "seed", "sign", "m", "cumulative"]]


def _heatmap(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    _numeric(df, "layer", path, lo=0)
    _numeric(df, "value", path, lo=0)
    df["layer"] = df["layer"].astype(int)
    df["module"] = df["module"].astype(str)
    return df[["method", "seed", "sign", "module", "layer", "value"]]


def read_influence(influence_dir: str | Path, kind: str) -> pd.DataFrame | None:
    """``influence/<kind>.csv`` (``kind`` = ``cumulative`` or ``heatmap``): method, seed, sign (plus | minus)
    and the values; ``None`` when the file does not exist (an optional input)."""
    path = Path(influence_dir) / f"{kind}.csv"
    if not path.exists():
        return None
    df = read_csv(path, INFLUENCE_COLUMNS[kind], "influence")
    df["sign"] = _signs(df["direction"], path)
    df = _states(df, "method")
    return _cumulative(df, path) if kind == "cumulative" else _heatmap(df, path)


# --------------------------------------------------------------------------------------------- distributions
def _histograms(path: Path) -> pd.DataFrame:
    df = read_csv(path, HISTOGRAM_COLUMNS, "distributions")
    df["edge_clipped"] = (
        "n_below" not in df.columns
    )  # a file without n_below holds its tails in the edge bins
    for c in ("n_below", "n_above"):
        df[c] = df[c] if c in df.columns else np.nan
    for c in ("bin_left", "bin_right"):
        _numeric(df, c, path)
    if (df["bin_right"] <= df["bin_left"]).any():
        raise ResultError(f"{path}: some bins have bin_right <= bin_left")
    _numeric(df, "density", path, lo=0)
    df = _states(df, "model")
    df["state"] = np.where(df["method"] == "base", "base", np.where(df["attacked"], "attacked", "unlearned"))
    return df[HIST_COLUMNS]


def read_correlation(analysis_dir: str | Path) -> pd.DataFrame | None:
    """``distributions/correlation.csv``: method and seed (of ``pre``), module (``all`` = the whole model), rho
    (``pearson_r``), spearman (``spearman_r``, NaN where the file has none) and n (``n_values``, NaN where empty); ``None`` when the file does not exist."""
    path = Path(analysis_dir) / CORRELATION_FILE
    if not path.exists():
        return None
    df = read_csv(path, CORRELATION_COLUMNS, "distributions")
    _numeric(df, "pearson_r", path, lo=-1, hi=1)
    df = _states(df, "pre")
    return pd.DataFrame(
        {
            "method": df["method"],
            "seed": df["seed"],
            "module": df["module"].astype(str),
            "rho": df["pearson_r"],
            "spearman": pd.to_numeric(df["spearman_r"], errors="coerce") if "spearman_r" in df else np.nan,
            "n": pd.to_numeric(df["n_values"], errors="coerce"),
        }
    )


def read_per_example(analysis_dir: str | Path) -> pd.DataFrame | None:
    """``distributions/per_example.csv`` with one row per method, seed, draw, item and module: ``pearson`` and
    ``spearman``, each the mean over the quantities (``max``, ``min``) of the example's ρ (NaN where every
    quantity's ρ is undefined); ``None`` when the file does not exist."""
    path = Path(analysis_dir) / PER_EXAMPLE_FILE
    if not path.exists():
        return None
    df = read_csv(path, PER_EXAMPLE_COLUMNS, "distributions")
    for col in ("pearson_r", "spearman_r"):
        vals = pd.to_numeric(df[col], errors="coerce")
        if ((vals < -1 - 1e-9) | (vals > 1 + 1e-9)).any():
            raise ResultError(
                f"{path}: column {col!r} has values outside [-1, 1]; rerun the distributions rule"
            )
        df[col] = vals
    for col in ("seed", "draw", "item"):
        _numeric(df, col, path, lo=0)
        df[col] = df[col].astype(int)
    keys = ["method", "seed", "draw", "item", "module"]
    out = df.groupby(keys, sort=False)[["pearson_r", "spearman_r"]].mean().reset_index()
    return out.rename(columns={"pearson_r": "pearson", "spearman_r": "spearman"}).assign(
        method=lambda f: f["method"].astype(str), module=lambda f: f["module"].astype(str)
    )


def read_distributions(analysis_dir: str | Path) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """(histograms: method, seed, state in base|unlearned|attacked, bin_left, bin_right, density, n_below,
    n_above (values outside the bins; NaN when not recorded), edge_clipped (true where the tails are
    clipped into the edge bins); rho of the whole model: method, seed, rho) — either is ``None`` when missing."""
    path = Path(analysis_dir) / HISTOGRAM_FILE
    hist = _histograms(path) if path.exists() else None
    corr = read_correlation(analysis_dir)
    rho = None if corr is None else corr.loc[corr["module"] == "all", ["method", "seed", "rho"]]
    return hist, rho


# --------------------------------------------------------------------------------------------- logit lens
def read_logit_lens(path: str | Path) -> pd.DataFrame | None:
    """method (``base`` for the original model), seed, layer, accuracy (fraction), n; ``None`` when missing."""
    path = Path(path)
    if not path.exists():
        return None
    df = read_csv(path, LOGIT_LENS_COLUMNS, "logit_lens")
    _numeric(df, "layer", path, lo=0)
    _numeric(df, "accuracy", path, lo=0, hi=1)
    df["n"] = df["n_evaluated"]
    df = _states(df, "state")
    df["layer"] = df["layer"].astype(int)
    return df[["method", "seed", "layer", "accuracy", "n"]]
