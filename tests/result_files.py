"""The result files under a directory, as a report rule would receive them from Snakemake (tests only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ssiuu import layout
from ssiuu.report.options import ReportOptions
from ssiuu.report.results import RESULT_KINDS, AttackGrid, ResultFiles
from ssiuu.report.stats import CellStats

#: The schema's defaults for the report's statistics, and a cheaper bootstrap for tests that only need an interval.
STATS = CellStats(confidence=0.95, n_resamples=9999)
FAST_STATS = CellStats(confidence=0.95, n_resamples=199)


def result_files(root: str | Path) -> ResultFiles:
    """Every file (or analysis directory) under ``root`` that the results layout names."""
    return ResultFiles(str(p) for p in sorted(Path(root).rglob("*")) if layout.kind_of(str(p), RESULT_KINDS))


def report_options(**values: Any) -> ReportOptions:
    """The report's options for the fixtures: GA, GD and SSIUU at their attack learning rates, no labels, the
    schema's statistics; ``values`` replace any of them."""
    base = {
        "methods": ("GA", "GD", "SSIUU"),
        "grid": AttackGrid([1e-5, 1e-6], [1e-5, 1e-7]),
        "stats": STATS,
        "labels": {},
    }
    return ReportOptions(**(base | values))
