"""Tables 1-2, Figures 2-7 and the claims from result files (pandas + matplotlib only; never imports torch).

The ``tables``, ``figures`` and ``claims`` rules call :func:`make_tables`, :func:`make_figures` and
:func:`make_claims` with their input files; :func:`options_from_config` turns the validated config into the
keyword arguments of :func:`build_tables`, :func:`build_figures` and :func:`ssiuu.report.claims.write_claims`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ssiuu.report.figures import build_figures
from ssiuu.report.options import options_from_config
from ssiuu.report.results import AttackGrid, ResultError, ResultFiles, collect_attacks
from ssiuu.report.stats import CellStats
from ssiuu.report.table_data import collect_results
from ssiuu.report.tables import build_tables

__all__ = [
    "AttackGrid",
    "CellStats",
    "ResultError",
    "ResultFiles",
    "build_figures",
    "build_report_assets",
    "build_tables",
    "collect_attacks",
    "collect_results",
    "make_claims",
    "make_figures",
    "make_tables",
    "options_from_config",
]


_TABLE_OPTIONS = ("methods", "grid", "stats", "calibration_tolerance")


def make_tables(config: dict[str, Any], results: Sequence[str], out_dir: str) -> dict[str, Path]:
    """Rule ``tables``: Tables 1-2 and their companions from the given result files."""
    opts = options_from_config(config)
    return build_tables(ResultFiles(results), out_dir, opts["labels"], **{k: opts[k] for k in _TABLE_OPTIONS})


def make_figures(config: dict[str, Any], results: Sequence[str], out_dir: str) -> dict[str, list[Path]]:
    """Rule ``figures``: Figures 2-7 from the given result files."""
    return build_figures(ResultFiles(results), out_dir, **options_from_config(config))


def make_claims(config: dict[str, Any], results: Sequence[str], out: str) -> list[Path]:
    """Rule ``claims``: the paper's three claims stated from the given result files."""
    from ssiuu.report.claims import claims_options, write_claims

    return write_claims(ResultFiles(results), out, **claims_options(config))


def build_report_assets(
    results: ResultFiles,
    out_dir_tables: str | Path,
    out_dir_figures: str | Path,
    *,
    methods: Sequence[str],
    grid: AttackGrid,
    stats: CellStats,
    lambda_variants: Sequence[str] | None = None,
    labels: Mapping[str, str] | None = None,
    **figure_options: Any,
) -> dict[str, list[Path]]:
    """Write every table (``table1``, ``table2``, ``*_vs_paper``; CSV/MD/TeX) and figure (PNG/PDF).

    ``methods``: main methods (config ``methods``; table rows and Fig. 2 bars). ``grid``: the configured attack
    learning rates and fractions — the only ones aggregated into attack scores (the calibration sweep
    appears only in Fig. 7b, c). ``lambda_variants``: SSIUU ablation method dirs for Fig. 7a (``None``:
    every ``SSIUU-lambda*`` found). ``stats``: how cells are estimated (:class:`CellStats`). ``labels``: display names for benchmark / model / method keys. Remaining
    keyword arguments go to :func:`ssiuu.report.figures.build_figures`. Returns ``{name: [paths]}``."""
    shared = {"methods": methods, "grid": grid, "stats": stats}
    tolerance = {"calibration_tolerance": figure_options.get("calibration_tolerance")}
    tables = build_tables(results, out_dir_tables, labels, **shared, **tolerance)
    figures = build_figures(
        results, out_dir_figures, labels=labels, lambda_variants=lambda_variants, **shared, **figure_options
    )
    return {name: [path] for name, path in tables.items()} | figures
