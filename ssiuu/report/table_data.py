"""The numbers of Tables 1 and 2 as data frames (no rendering here): :func:`aggregate_table`.

Per benchmark and model, a Default row (the starting model, unattacked), one row per configured method, then
the controls that were run: ``Hider`` (known hider), ``NeverLearned`` (known eraser, ROUGE benchmarks) and
``Start`` (the starting model attacked with the same draws: the yardstick). Each row's cells come from
:mod:`ssiuu.report.aggregate`: FS / RS / US with Wilson intervals and the ‡ test, the stop FS (``stop_fs``
of ``unlearn.json``, mean over seeds), and per attack (the configured learning rates only; the calibration
sweep is read on its own) the FS at the end of the attack, the margin measures against ``Start`` and the
secondary log-probability fraction, each estimated over seeds × draws × items. JSON holds fractions; tables
show percentages.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ssiuu.report.aggregate import (
    CONTROLS,
    ERASER,
    HIDER,
    REFERENCE,
    attack_cells,
    attack_columns,
    cell_columns,
    degradation,
    fs_ids,
    margin_columns,
    margin_measures,
    margin_sees_unlearning,
    row_methods,
    score_estimates,
    separation,
)
from ssiuu.report.attack_cells import AttackCell
from ssiuu.report.inference import Estimate
from ssiuu.report.results import (
    DEFAULT,
    STYLES,
    AttackGrid,
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

#: the columns of :func:`collect_results` before its attack columns, in order
RESULT_COLUMNS = "benchmark model style method seed FS RS retain test US converged lr steps lambda".split()


# --------------------------------------------------------------------------------------------- per seed


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


def collect_results(
    results: ResultFiles, *, include_default: bool = True, methods: Sequence[str] | None = None
) -> pd.DataFrame:
    """One row per benchmark / model / method / seed of the unlearning results (fractions in [0, 1]).

    Columns: benchmark, model, style, method, seed, FS, RS, retain, test, US, converged, lr, steps, lambda.
    With ``include_default`` the base model is a row with method ``Default`` and seed ``<NA>``. ``methods``
    restricts the rows (``None``: all). Attack cells are :func:`aggregate_table`'s."""
    df = _seed_rows(results, include_default, methods)
    df["seed"] = df["seed"].astype("Int64")
    return df[[c for c in RESULT_COLUMNS if c in df.columns]].reset_index(drop=True)


# --------------------------------------------------------------------------------------------- per method
def _stop_fs(results: Sequence[Mapping[str, Any]]) -> float:
    """``stop_fs`` averaged over seeds (NaN where the files predate it)."""
    values = [float(r["stop_fs"]) for r in results if r.get("stop_fs") is not None]
    return float(np.mean(values)) if values else math.nan


def _row_head(bm: Path, method: str, dirs: Sequence[Path], style: str) -> dict[str, Any]:
    control = method in CONTROLS
    converged = sum(bool(load_unlearn(d / "unlearn.json", style)["converged"]) for d in dirs)
    return {
        "benchmark": bm.parent.name,
        "model": bm.name,
        "method": method,
        "control": control,
        "reference": method in (ERASER, REFERENCE),
        "n_seeds": len(dirs),
        "n_converged": pd.NA if method in (ERASER, REFERENCE) else converged,
    }


def _method_row(
    bm: Path,
    method: str,
    dirs: Sequence[Path],
    attacks: pd.DataFrame,
    start: Mapping[str, Any],
    spec: Mapping[str, Any],
) -> dict[str, Any]:
    """One row: its seeds' scores with intervals, stop FS, ‡ and its attack cells (objects in ``<key>_cell``)."""
    style, stats = spec["style"], spec["stats"]
    results = [read_result(d / "unlearn.json") for d in dirs]
    row = _row_head(bm, method, dirs, style) | {"stop_fs": 100 * _stop_fs(results)}
    scores = score_estimates(results, style, spec["forget_ids"], stats.confidence)
    for x, est in scores.items():
        row |= cell_columns(x, est)
    deg = degradation(results, start["base"], scores, start["scores"], style=style, alpha=stats.alpha)
    row |= {"degraded": not row["reference"] and deg.degraded, "degraded_tests": deg.text()}
    for key, cell in attack_cells(attacks, spec["keys"], spec["lrs"], method, stats).items():
        row |= attack_columns(key, cell) | {f"{key}_cell": cell}
    return row


def _add_margins(rows: list[dict[str, Any]], keys: Sequence[str], stats: CellStats) -> None:
    """Every attacked row's margin measures against the attacked ``Start`` row (in place)."""
    reference = next((r for r in rows if r["method"] == REFERENCE), None)
    for row in rows:
        for key in keys:
            cell = row.get(f"{key}_cell")
            ref = reference.get(f"{key}_cell") if reference and row is not reference else None
            measures = margin_measures(cell, ref, stats) if cell is not None else None
            row |= margin_columns(key, measures)


def _default_row(bm: Path, spec: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The Default row and what ‡ compares with (the base model's result and scores)."""
    base = read_result(bm / "base.json")
    scores = score_estimates([base], spec["style"], spec["forget_ids"], spec["stats"].confidence)
    row = {"benchmark": bm.parent.name, "model": bm.name, "method": DEFAULT, "control": False}
    row |= {"reference": False, "n_seeds": pd.NA, "n_converged": pd.NA, "stop_fs": math.nan}
    for x, est in scores.items():
        row |= cell_columns(x, est)
    return row, {"base": base, "scores": scores}


def _model_rows(
    results: ResultFiles, bm: Path, attacks: pd.DataFrame, spec: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The Default row, then one row per method and control of one (benchmark, model)."""
    spec = dict(spec) | {"forget_ids": fs_ids(bm / "split.json")}
    default, start = _default_row(bm, spec)
    rows = [default]
    runs = run_dirs(results, bm)
    mine = attacks[(attacks["benchmark"] == bm.parent.name) & (attacks["model"] == bm.name)]
    for method in row_methods(spec["methods"], [m for m, _, _ in runs]):
        dirs = [d for m, _, d in runs if m == method]
        if not dirs:
            log.warning(
                "%s/%s: no unlearning result for method %s (row left out)", bm.parent.name, bm.name, method
            )
            continue
        rows.append(_method_row(bm, method, dirs, mine[mine["method"] == method], start, spec))
    _add_margins(rows, spec["keys"], spec["stats"])
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
    """Numeric table for one benchmark style (module doc). Columns: benchmark, model, method, control,
    reference, n_seeds, n_converged, stop_fs, degraded, degraded_tests; ``X``, ``X_low``, ``X_high``, ``X_n``
    for X in FS, RS, US and each attack key (percent); per attack ``<key>_runs``, ``<key>_items``, the margin
    columns of :func:`ssiuu.report.aggregate.margin_columns`, the secondary ``<key>_recovered`` /
    ``<key>_gain`` / ``<key>_stable`` and the cell object ``<key>_cell``."""
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")
    base = collect_base(results)
    base = base[base["style"] == style]
    if base.empty:
        return pd.DataFrame()
    attacks = collect_attacks(results)
    attacks = attacks[attacks["benchmark"].isin(set(base["benchmark"]))]
    spec = {"style": style, "methods": methods, "keys": grid.keys, "lrs": grid.lrs, "stats": stats}
    model_order = list(models) if models is not None else list(dict.fromkeys(base["model"]))
    rows = []
    for bench in dict.fromkeys(base["benchmark"]):
        for model in model_order:
            if results.root / bench / model / "base.json" in results:
                rows += _model_rows(results, results.root / bench / model, attacks, spec)
    return pd.DataFrame(rows)


def separations(
    table: pd.DataFrame, keys: Sequence[str], stats: CellStats
) -> dict[tuple[str, str, str], Estimate]:
    """Per (benchmark, model, attack key): the instrument's separation (:func:`ssiuu.report.aggregate.separation`)
    from the table's cells; missing where the hider or the reference has no margins."""
    out = {}
    for (bench, model), grp in table.groupby(["benchmark", "model"], sort=False):
        by_method = grp.set_index("method")

        for key in keys:
            hider, eraser, ref = (_cell_of(by_method, m, key) for m in (HIDER, ERASER, REFERENCE))
            out[(bench, model, key)] = separation(hider, eraser, ref, stats)
    return out


def margin_validities(
    table: pd.DataFrame, keys: Sequence[str], stats: CellStats
) -> dict[tuple[str, str, str], Estimate]:
    """Per (benchmark, model, attack key): whether the margin sees unlearning
    (:func:`ssiuu.report.aggregate.margin_sees_unlearning`); missing where the hider or the reference has no
    margins."""
    out = {}
    for (bench, model), grp in table.groupby(["benchmark", "model"], sort=False):
        by_method = grp.set_index("method")
        for key in keys:
            hider, ref = (_cell_of(by_method, m, key) for m in (HIDER, REFERENCE))
            out[(bench, model, key)] = margin_sees_unlearning(hider, ref, stats)
    return out


def _cell_of(by_method: pd.DataFrame, method: str, key: str) -> AttackCell | None:
    """The ``method`` row's cell of attack ``key`` (None without that row)."""
    return by_method.at[method, f"{key}_cell"] if method in by_method.index else None
