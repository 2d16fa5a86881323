"""The result files under a directory, as a report rule would receive them from Snakemake (tests only)."""

from __future__ import annotations

from pathlib import Path

from ssiuu import layout
from ssiuu.report.results import RESULT_KINDS, ResultFiles


def result_files(root: str | Path) -> ResultFiles:
    """Every file (or analysis directory) under ``root`` that the results layout names."""
    return ResultFiles(str(p) for p in sorted(Path(root).rglob("*")) if layout.kind_of(str(p), RESULT_KINDS))
