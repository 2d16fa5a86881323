"""The numbers of Tables 1-2: every cell with its 95 % confidence interval and n (no rendering here).

FS and RS pool the per-item scores of the unlearning seeds' final evaluations; US is lm-eval's accuracy
with its standard errors (MCQA) or the mean ROUGE-L recall of the utility sets, each set resampled on its
own (ROUGE); attack cells come from :mod:`ssiuu.report.attack_cells`. The reference rows of
:mod:`ssiuu.references` follow the methods. Values are percent; recovered fractions and log-probability
gains are not.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ssiuu.data.records import ITEM_SCORE, BenchmarkSplit
from ssiuu.io import read_json
from ssiuu.references import REFERENCES
from ssiuu.report.attack_cells import AttackCell, attack_cell, group_by_run
from ssiuu.report.stats import Interval, mean_interval, mean_of_means_interval, standard_error_interval

SCORES = ("FS", "RS", "US")


def lr_matches(lr: float, lrs: Iterable[float]) -> bool:
    """Learning rates compared with a relative tolerance (file names round them to ``1e-05`` style)."""
    return any(math.isclose(float(lr), float(x), rel_tol=1e-6) for x in lrs)


def fs_ids(split_path: Path) -> list[str]:
    """The ids FS is scored on: the split's forget base questions (every forget QA for ROUGE benchmarks)."""
    return [r.id for r in BenchmarkSplit.load(split_path).forget_train]


def _items(result: Mapping[str, Any], part: str, key: str, ids: Sequence[str] | None = None) -> list[float]:
    entries = result.get("per_item", {}).get(part, [])
    if ids is not None:
        wanted = set(ids)
        entries = [e for e in entries if e["id"] in wanted]
    return [float(e[key]) for e in entries]


def _utility_interval(results: Sequence[Mapping[str, Any]], style: str, opts: Mapping[str, Any]) -> Interval:
    """US over seeds: lm-eval's per-task standard errors (MCQA) or a bootstrap over utility-set items (ROUGE)."""
    if style == "rouge":
        parts = sorted({p for r in results for p in r.get("per_item", {}) if p.startswith("utility/")})
        groups = [[x for r in results for x in _items(r, p, "rougeL_recall")] for p in parts]
        return mean_of_means_interval(groups, **opts) if groups else Interval.missing()
    values = [float(r["US"]) for r in results if r.get("US") is not None]
    if not values:
        return Interval.missing()
    variances, n = [], 0
    for r in results:
        util = r.get("utility") or {}
        stderr = util.get("stderr") or {}
        tasks = util.get("tasks") or {}
        if not tasks or set(stderr) != set(tasks):
            variances.append(math.nan)
        else:  # US is the mean over tasks: its variance is the mean of the task variances over the task count
            variances.append(sum(float(s) ** 2 for s in stderr.values()) / len(tasks) ** 2)
        n += sum(int(v) for v in (util.get("n_items") or {}).values())
    stderr_us = math.sqrt(sum(variances)) / len(values)
    return standard_error_interval(sum(values) / len(values), stderr_us, n, confidence=opts["confidence"])


def score_intervals(
    results: Sequence[Mapping[str, Any]], style: str, forget_ids: Sequence[str], opts: Mapping[str, Any]
) -> dict[str, Interval]:
    """FS, RS and US of a row (one or more seeds' ``unlearn.json`` / one ``base.json``), as fractions."""
    key = ITEM_SCORE[style]
    fs = [x for r in results for x in _items(r, "forget", key, forget_ids)]
    rs = [x for r in results for x in _items(r, "test" if style == "mcqa" else "retain", key)]
    return {
        "FS": mean_interval(fs, **opts),
        "RS": mean_interval(rs, **opts),
        "US": _utility_interval(results, style, opts),
    }


def cell_columns(name: str, interval: Interval, scale: float = 100.0) -> dict[str, float]:
    """``name``, ``name_low``, ``name_high`` and ``name_n`` of an interval, scaled (percent by default)."""
    iv = interval.scaled(scale)
    return {name: iv.value, f"{name}_low": iv.low, f"{name}_high": iv.high, f"{name}_n": iv.n}


def attack_columns(key: str, cell: AttackCell, min_drop: float) -> dict[str, Any]:
    """The table columns of one attack cell: score (percent), recovered fraction, log-probability gain."""
    return (
        cell_columns(key, cell.score)
        | cell_columns(f"{key}_recovered", cell.recovered, 1.0)
        | cell_columns(f"{key}_gain", cell.gain, 1.0)
        | {f"{key}_runs": cell.runs, f"{key}_drop": cell.drop, f"{key}_stable": cell.stable(min_drop)}
    )


def attack_cells_of(
    attacks: pd.DataFrame,
    keys: Sequence[str],
    lrs: Mapping[str, Sequence[float]],
    opts: Mapping[str, Any],
    min_drop: float,
) -> dict[str, Any]:
    """The attack columns of a row (:func:`attack_columns`) from its attack files at the configured learning
    rates, with ``<key>_eval_set`` (what was scored), ``<key>_eval_items`` (items per run, smallest) and
    ``<key>_without_items`` (files without per-item curves, which no cell can use)."""
    columns: dict[str, Any] = {}
    for key in keys:
        sel = attacks[attacks["key"] == key]
        wanted = lrs["benign" if key == "benign" else "harmful"]
        keep = [lr_matches(lr, wanted) for lr in sel["lr"]]
        results = [read_json(p) for p, k in zip(sel["path"], keep, strict=True) if k]
        cell = attack_cell(group_by_run(results), **opts)
        columns |= attack_columns(key, cell, min_drop) | {f"{key}_cell": cell}
        columns[f"{key}_eval_set"] = next((r["eval_set"] for r in results if "eval_set" in r), None)
        columns[f"{key}_eval_items"] = min((len(r["eval_ids"]) for r in results if "curve" in r), default=0)
        columns[f"{key}_without_items"] = sum("curve" not in r for r in results)
    return columns


def degraded(row: Mapping[str, Any], default: Mapping[str, Any], fraction: float = 0.8) -> bool:
    """Whether unlearning left RS or US below ``fraction`` of the starting model's (an unusable model)."""
    return any(
        not pd.isna(row[x]) and not pd.isna(default[x]) and row[x] < fraction * default[x]
        for x in ("RS", "US")
    )


def row_methods(methods: Sequence[str], style: str, found: Sequence[str]) -> list[str]:
    """Table rows after Default: the configured methods, then the style's reference when it was run."""
    ref = REFERENCES[style]
    return list(methods) + ([ref] if ref in found and ref not in methods else [])
