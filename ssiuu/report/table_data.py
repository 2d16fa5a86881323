"""The numbers of Tables 1 and 2 as data frames (no rendering here).

Aggregation (paper §6.2): FS, RS, US are means over unlearning seeds (± sample std when there are ≥ 2).
An attack value of one run is the maximum over the *configured* attack learning rates of that run's ``max_fs``
(itself the maximum FS seen during retraining); the reported value is the mean over runs, pooled over seeds
(± sample std over all seed × run values when there are ≥ 2). Learning rates outside the configured list (the
GA/GD sweep behind Fig. 7b, c) are ignored here. RS is the test-set score on MCQA-style benchmarks (the paper's
Table 1 reports test accuracy) and the retain-set score on ROUGE-style ones (Table 2). JSON holds fractions;
tables show percentages.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ssiuu.report.aggregate import (
    attack_cells_of,
    cell_columns,
    degraded,
    fs_ids,
    lr_matches,
    row_methods,
    score_intervals,
)
from ssiuu.report.results import (
    DEFAULT,
    STYLES,
    AttackGrid,
    ResultError,
    ResultFiles,
    benchmark_model_dirs,
    collect_attacks,
    collect_base,
    load_base,
    load_unlearn,
    read_result,
    run_dirs,
)
from ssiuu.report.stats import CellStats

log = logging.getLogger(__name__)

RUN_COLUMNS = ["benchmark", "model", "method", "seed", "key", "run", "value", "n_lrs"]
#: the columns of :func:`collect_results` before its attack columns, in order
RESULT_COLUMNS = "benchmark model style method seed FS RS retain test US converged lr steps lambda".split()


# --------------------------------------------------------------------------------------------- per run
def _keep_ps(df: pd.DataFrame, harmful_ps: Sequence[float] | None) -> pd.DataFrame:
    """Benign attacks and the harmful attacks whose p is in ``harmful_ps`` (``None``: all)."""
    if harmful_ps is None:
        return df
    keep = (df["kind"] == "benign") | df["p"].apply(
        lambda p: p is not None and any(math.isclose(p, q) for q in harmful_ps)
    )
    return df[keep]


def _run_rows(
    where: tuple[Any, ...], grp: pd.DataFrame, wanted: Sequence[float] | None
) -> list[dict[str, Any]]:
    """One (benchmark, model, method, seed, key) group: per run, the max ``max_fs`` over the learning rates."""
    b, m, method, seed, key = where
    if wanted is not None:
        grp = grp[grp["lr"].apply(lambda lr: lr_matches(lr, wanted))]
        if grp.empty:
            return []  # no configured-lr result at all: reported as missing ("–"), see build_tables
    lrs = sorted({float(x) for x in (wanted if wanted is not None else grp["lr"])})
    rows = []
    for run, rgrp in grp.groupby("run", sort=True):
        missing = [lr for lr in lrs if not lr_matches(lr, rgrp["lr"])]
        if missing:
            raise ResultError(
                f"{b}/{m}/{method}/seed{seed}: attack {key} run {run} has no result for learning rate(s) "
                f"{', '.join(f'{x:.0e}' for x in missing)}; re-run the attack rules (or pass the learning "
                "rates that were run)"
            )
        value = float(rgrp["max_fs"].max())
        rows.append(dict(zip(RUN_COLUMNS, [b, m, method, seed, key, run, value, len(lrs)], strict=True)))
    return rows


def attack_run_scores(
    attacks: pd.DataFrame,
    *,
    harmful_lrs: Sequence[float] | None = None,
    benign_lrs: Sequence[float] | None = None,
    harmful_ps: Sequence[float] | None = None,
) -> pd.DataFrame:
    """Per (benchmark, model, method, seed, attack, run): the max over the given learning rates of ``max_fs``.

    ``None`` learning rates = all found. Every run of a (method, seed, attack) must have a result for every given
    learning rate, else :class:`ResultError` names the missing file. Columns: benchmark, model, method, seed, key,
    run, value, n_lrs.
    """
    if attacks.empty:
        return pd.DataFrame(columns=RUN_COLUMNS)
    rows = []
    groups = _keep_ps(attacks, harmful_ps).groupby(["benchmark", "model", "method", "seed", "key"], sort=True)
    for where, grp in groups:
        rows += _run_rows(where, grp, harmful_lrs if where[-1] != "benign" else benign_lrs)
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


# --------------------------------------------------------------------------------------------- per seed
def _attack_order(key: str) -> tuple[int, float]:
    return (1, 0.0) if key == "benign" else (0, float(key.removeprefix("harmful_p")))


def _seed_rows(results: ResultFiles, include_default: bool, methods: Sequence[str] | None) -> pd.DataFrame:
    """The Default row (optional) and one row per unlearning seed of every (benchmark, model)."""
    rows = []
    for bm in benchmark_model_dirs(results):
        base = load_base(bm / "base.json")
        if include_default:
            rows.append(base | {"method": DEFAULT, "seed": pd.NA, "converged": True})
        for method, _seed, seed_dir in run_dirs(results, bm):
            if methods is not None and method not in methods:
                continue
            where = {"benchmark": base["benchmark"], "model": base["model"], "style": base["style"]}
            rows.append(where | load_unlearn(seed_dir / "unlearn.json", base["style"]))
    return pd.DataFrame(rows, columns=list(dict.fromkeys(RESULT_COLUMNS + [k for r in rows for k in r])))


def _seed_attack_means(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (benchmark, model, method, seed): each attack's mean over runs and its ``<attack>_runs``."""
    per_seed = runs.groupby(["benchmark", "model", "method", "seed", "key"])["value"].agg(["mean", "count"])
    wide = per_seed["mean"].unstack("key")
    counts = per_seed["count"].unstack("key").add_suffix("_runs")
    return wide.join(counts).reset_index()


def collect_results(
    results: ResultFiles,
    *,
    harmful_lrs: Sequence[float] | None = None,
    benign_lrs: Sequence[float] | None = None,
    harmful_ps: Sequence[float] | None = None,
    include_default: bool = True,
    methods: Sequence[str] | None = None,
    attacks: bool = True,
) -> pd.DataFrame:
    """One row per benchmark / model / method / seed (fractions in [0, 1]).

    Columns: benchmark, model, style, method, seed, FS, RS, retain, test, US, converged, lr, steps, lambda,
    and (with ``attacks``) one column per attack (``harmful_p0.1``, ``harmful_p0.3``, ``benign``) = mean over
    runs of the max over ``harmful_lrs`` / ``benign_lrs`` (``None`` = every learning rate found, sweep extras
    included; ``()`` = none) plus ``<attack>_runs`` (number of runs). With ``include_default`` the base model
    is a row with method ``Default`` and seed ``<NA>``. ``methods`` restricts the rows (``None``: all).
    """
    df = _seed_rows(results, include_default, methods)
    keys: list[str] = []
    if attacks:
        found = collect_attacks(results)
        if methods is not None:
            found = found[found["method"].isin(list(methods))]
        runs = attack_run_scores(found, harmful_lrs=harmful_lrs, benign_lrs=benign_lrs, harmful_ps=harmful_ps)
        keys = sorted(runs["key"].unique(), key=_attack_order) if not runs.empty else []
    if keys:
        df = df.merge(_seed_attack_means(runs), on=["benchmark", "model", "method", "seed"], how="left")
    df["seed"] = df["seed"].astype("Int64")
    extra = list(keys) + [f"{k}_runs" for k in keys]
    return df[[c for c in RESULT_COLUMNS if c in df.columns] + extra].reset_index(drop=True)


# --------------------------------------------------------------------------------------------- per method
def _method_row(
    bm: Path,
    method: str,
    dirs: Sequence[Path],
    attacks: pd.DataFrame,
    default: Mapping[str, Any],
    spec: Mapping[str, Any],
) -> dict[str, Any]:
    """One method's row: its seeds' scores with intervals, its attack cells and whether it is degraded."""
    style, opts = spec["style"], spec["opts"]
    results = [read_result(d / "unlearn.json") for d in dirs]
    reference = bool(results[0].get("reference"))
    converged = sum(bool(load_unlearn(d / "unlearn.json", style)["converged"]) for d in dirs)
    row = {
        "benchmark": bm.parent.name,
        "model": bm.name,
        "method": method,
        "reference": reference,
        "n_seeds": len(dirs),
        "n_converged": pd.NA if reference else converged,
    }
    for x, iv in score_intervals(results, style, spec["forget_ids"], opts).items():
        row |= cell_columns(x, iv)
    row |= attack_cells_of(attacks, spec["keys"], spec["lrs"], opts, spec["min_drop"])
    row["degraded"] = not reference and degraded(row, default)
    return row


def _model_rows(
    results: ResultFiles, bm: Path, attacks: pd.DataFrame, spec: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The Default row, then one row per method and the reference row of one (benchmark, model)."""
    spec = dict(spec) | {"forget_ids": fs_ids(bm / "split.json")}
    default = {"benchmark": bm.parent.name, "model": bm.name, "method": DEFAULT, "reference": False}
    default |= {"n_seeds": pd.NA, "n_converged": pd.NA}
    base = [read_result(bm / "base.json")]
    for x, iv in score_intervals(base, spec["style"], spec["forget_ids"], spec["opts"]).items():
        default |= cell_columns(x, iv)
    rows = [default]
    runs = run_dirs(results, bm)
    mine = attacks[(attacks["benchmark"] == bm.parent.name) & (attacks["model"] == bm.name)]
    for method in row_methods(spec["methods"], spec["style"], [m for m, _, _ in runs]):
        dirs = [d for m, _, d in runs if m == method]
        if not dirs:
            log.warning(
                "%s/%s: no unlearning result for method %s (row left out)", bm.parent.name, bm.name, method
            )
            continue
        rows.append(_method_row(bm, method, dirs, mine[mine["method"] == method], default, spec))
    return rows


def aggregate_table(
    results: ResultFiles,
    style: str,
    *,
    methods: Sequence[str],
    grid: AttackGrid,
    stats: CellStats,
    models: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Numeric table for one benchmark style: a Default row, one row per main method, then the reference row,
    per (benchmark, model). Columns: benchmark, model, method, reference, n_seeds, n_converged; for each metric
    ``X`` in FS, RS, US, harmful_p<p>…, benign: ``X`` (percent), ``X_low`` / ``X_high`` (the confidence
    interval, NaN where undefined) and ``X_n`` (observations); per attack also ``X_recovered`` and ``X_gain``
    (each with _low/_high/_n), ``X_runs``, ``X_drop`` and ``X_stable`` (:mod:`ssiuu.report.aggregate`)."""
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")
    base = collect_base(results)
    base = base[base["style"] == style]
    if base.empty:
        return pd.DataFrame()
    attacks = collect_attacks(results)
    attacks = attacks[attacks["benchmark"].isin(set(base["benchmark"]))]
    # every run of a cell must have a result at every configured learning rate (ResultError names the file)
    attack_run_scores(
        attacks[attacks["method"].isin(list(methods))],
        harmful_lrs=grid.harmful_lrs,
        benign_lrs=grid.benign_lrs,
        harmful_ps=grid.harmful_ps,
    )
    spec = {
        "style": style,
        "methods": methods,
        "keys": grid.keys,
        "lrs": grid.lrs,
        "opts": stats.bootstrap,
        "min_drop": stats.min_logprob_drop,
    }
    model_order = list(models) if models is not None else list(dict.fromkeys(base["model"]))
    rows = []
    for bench in dict.fromkeys(base["benchmark"]):
        for model in model_order:
            if results.root / bench / model / "base.json" in results:
                rows += _model_rows(results, results.root / bench / model, attacks, spec)
    return pd.DataFrame(rows)
