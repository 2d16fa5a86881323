"""The result files under a directory, as a report rule would receive them from Snakemake (tests only)."""

from __future__ import annotations

from pathlib import Path

from ssiuu import layout
from ssiuu.report.results import RESULT_KINDS, ResultFiles
from ssiuu.report.stats import CellStats

#: The schema's defaults for the report's statistics, and a cheaper bootstrap for tests that only need an interval.
STATS = CellStats(confidence=0.95, n_resamples=9999)
FAST_STATS = CellStats(confidence=0.95, n_resamples=199)


def result_files(root: str | Path) -> ResultFiles:
    """Every file (or analysis directory) under ``root`` that the results layout names."""
    return ResultFiles(str(p) for p in sorted(Path(root).rglob("*")) if layout.kind_of(str(p), RESULT_KINDS))
